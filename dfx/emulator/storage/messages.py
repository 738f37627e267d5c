"""The queue message envelope of the Azure Storage provider (``MessageData`` / ``TaskMessage``).

Pure encoding: JSON text in, typed messages out. Bodies are written as raw UTF-8 JSON (v2.x) and read
either raw or base64-encoded (v1.x). Every object carries ``$type`` as Newtonsoft writes it; readers
ignore ``$type``.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dfx.model.encoding import compact_json, from_queue_json, to_queue_json
from dfx.model.history import STRING_DICTIONARY_TYPE as _DICT_TYPE
from dfx.model.history import HistoryEvent, OrchestrationInstance

MESSAGE_DATA_TYPE = "DurableTask.AzureStorage.MessageData"
TASK_MESSAGE_TYPE = "DurableTask.Core.TaskMessage"
EXECUTION_CONTEXT_TYPE = "DurableTask.Core.OrchestrationExecutionContext"
EMPTY_ACTIVITY_ID = "00000000-0000-0000-0000-000000000000"


class MessageFormatError(ValueError):
    """A queue message body that is not a provider envelope."""


def new_activity_id() -> str:
    return str(uuid.uuid4())


@dataclass
class TaskMessage:
    """An event addressed to an orchestration instance (``OrchestrationInstance`` is the target)."""

    event: HistoryEvent
    orchestration_instance: OrchestrationInstance
    sequence_number: int = 0
    execution_tags: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        context = None
        if self.execution_tags is not None:
            context = {
                "$type": EXECUTION_CONTEXT_TYPE,
                "OrchestrationTags": {"$type": _DICT_TYPE, **self.execution_tags},
            }
        return {
            "$type": TASK_MESSAGE_TYPE,
            "Event": to_queue_json(self.event),
            "SequenceNumber": self.sequence_number,
            "OrchestrationInstance": {
                "$type": OrchestrationInstance.dotnet_type,
                **self.orchestration_instance.to_json(),
            },
            "OrchestrationExecutionContext": context,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskMessage:
        context = data.get("OrchestrationExecutionContext") or {}
        tags = context.get("OrchestrationTags")
        return cls(
            event=from_queue_json(data["Event"]),
            orchestration_instance=OrchestrationInstance.from_json(data.get("OrchestrationInstance") or {}),
            sequence_number=int(data.get("SequenceNumber") or 0),
            execution_tags={k: v for k, v in tags.items() if k != "$type"} if isinstance(tags, dict) else None,
        )


@dataclass
class MessageData:
    """The envelope written to a queue: a TaskMessage plus ordering and sender information."""

    task_message: TaskMessage
    sequence_number: int = 0
    activity_id: str = field(default_factory=new_activity_id)
    episode: int | None = None
    sender: OrchestrationInstance | None = None
    compressed_blob_name: str | None = None
    trace_context: str | None = None

    @property
    def event(self) -> HistoryEvent:
        return self.task_message.event

    @property
    def target(self) -> OrchestrationInstance:
        return self.task_message.orchestration_instance

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "$type": MESSAGE_DATA_TYPE,
            "ActivityId": self.activity_id,
            "TaskMessage": self.task_message.to_json(),
            "CompressedBlobName": self.compressed_blob_name,
            "SequenceNumber": self.sequence_number,
        }
        if self.episode is not None:
            out["Episode"] = self.episode
        if self.sender is not None:
            out["Sender"] = self.sender.to_json()
        out["SerializableTraceContext"] = self.trace_context
        return out

    def encode(self) -> str:
        return compact_json(self.to_json())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageData:
        task = data.get("TaskMessage")
        if not isinstance(task, dict):
            raise MessageFormatError("the envelope has no TaskMessage")
        sender = data.get("Sender")
        return cls(
            task_message=TaskMessage.from_json(task),
            sequence_number=int(data.get("SequenceNumber") or 0),
            activity_id=data.get("ActivityId") or EMPTY_ACTIVITY_ID,
            episode=data.get("Episode"),
            sender=OrchestrationInstance.from_json(sender) if isinstance(sender, dict) else None,
            compressed_blob_name=data.get("CompressedBlobName"),
            trace_context=data.get("SerializableTraceContext"),
        )


def blob_reference(blob_name: str) -> str:
    """The small envelope that points at an offloaded message (storage-layout §5.6)."""
    return compact_json(
        {
            "$type": MESSAGE_DATA_TYPE,
            "ActivityId": EMPTY_ACTIVITY_ID,
            "TaskMessage": None,
            "CompressedBlobName": blob_name,
            "SequenceNumber": 0,
            "SerializableTraceContext": None,
        }
    )


def decode_body(text: str) -> dict[str, Any]:
    """Parse a queue body: raw JSON (v2.x) or base64 of UTF-8 JSON (v1.x)."""
    stripped = text.lstrip()
    try:
        if not stripped.startswith("{"):
            stripped = base64.b64decode(stripped, validate=True).decode("utf-8")
        data = json.loads(stripped)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageFormatError(f"not a JSON or base64 JSON message body: {exc}") from exc
    if not isinstance(data, dict):
        raise MessageFormatError("the message body is not a JSON object")
    return data


@dataclass
class ReceivedMessage:
    """A message taken from a queue: the envelope plus what the queue says about it."""

    data: MessageData
    queue_name: str
    message_id: str
    pop_receipt: str
    dequeue_count: int
    inserted_on: datetime | None
    next_visible_on: datetime | None

    @property
    def event(self) -> HistoryEvent:
        return self.data.event
