"""Durable entities as pure functions: ids, request and response messages, scheduler state, batches.

host-protocol §3; bare section numbers below refer to it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dfx.emulator.durable.sorter import MessageSorter, format_label
from dfx.emulator.storage.keys import MAX_KEY_UNITS, partition_key_units
from dfx.model.encoding import compact_json, parse_datetime
from dfx.model.history import EventSentEvent

ENTITY_PREFIX = "@"
OPERATION_EVENT = "op"
DELETE_OPERATION = "delete"
_BAD_KEY = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


class EntityIdError(ValueError):
    """An entity name or key the extension refuses."""


@dataclass(frozen=True)
class EntityId:
    """An entity's identity; its instance id (scheduler id) is ``@name@key`` with the name lower-cased."""

    name: str
    key: str

    @property
    def instance_id(self) -> str:
        return f"{ENTITY_PREFIX}{self.name.lower()}{ENTITY_PREFIX}{self.key}"

    @classmethod
    def parse(cls, instance_id: str) -> EntityId:
        if not instance_id.startswith(ENTITY_PREFIX) or ENTITY_PREFIX not in instance_id[1:]:
            raise EntityIdError(f"{instance_id!r} is not an entity instance id (@name@key).")
        name, _, key = instance_id[1:].partition(ENTITY_PREFIX)
        return cls(name, key)

    def validate(self) -> EntityId:
        if not self.name:
            raise EntityIdError("Entity names must not be empty.")
        if not self.key:
            raise EntityIdError("Entity keys must not be empty.")
        if _BAD_KEY.search(self.key):
            raise EntityIdError("Entity keys must not contain /, \\, #, ?, or control characters.")
        return self.check_size()

    def check_size(self) -> EntityId:
        """Refuse an id longer than the History and Instances rows can hold as PartitionKey.

        Storage would refuse every write of such an entity, so its messages would be retried for ever.
        """
        if partition_key_units(self.instance_id) <= MAX_KEY_UNITS:
            return self
        rule = f"the entity id @name@key is a Table storage key, at most {MAX_KEY_UNITS} UTF-16 code units"
        name = self.name.lower()
        room = MAX_KEY_UNITS - partition_key_units(f"{ENTITY_PREFIX}{name}{ENTITY_PREFIX}")
        if room < 1:
            raise EntityIdError(f"Entity name {_shorten(name)!r} is too long: {rule}.")
        raise EntityIdError(
            f"Entity keys of {_shorten(name)!r} must not exceed {room} characters ({rule}; '^' and characters beyond "
            f"U+FFFF count twice); this one has {partition_key_units(self.key)}."
        )


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scheduled_time(event_name: str) -> datetime | None:
    """The delivery time of a scheduled signal (event named ``op@<ISO time>``), None for a plain ``op``."""
    if not event_name.startswith(OPERATION_EVENT + "@"):
        return None
    try:
        return parse_datetime(event_name[len(OPERATION_EVENT) + 1 :])
    except ValueError:
        return None


def is_entity(instance_id: str) -> bool:
    return instance_id.startswith(ENTITY_PREFIX)


def request_json(
    operation: str,
    *,
    input_text: str | None,
    signal: bool,
    request_id: str | None = None,
    parent: str | None = None,
    parent_execution: str | None = None,
    timestamp: datetime | None = None,
    predecessor: datetime | None = None,
    predecessor_sent: datetime | None = None,
) -> str:
    """A RequestMessage (§3.3), defaults omitted; ``input_text`` is the already double-encoded input.

    ``timestamp``, ``predecessor`` and ``predecessor_sent`` are the sorter's (``dfx.emulator.durable.sorter``).
    """
    message: dict[str, Any] = {"op": operation}
    if signal:
        message["signal"] = True
    if input_text is not None:
        message["input"] = input_text
    message["id"] = request_id or str(uuid.uuid4())
    if parent is not None:
        message["parent"] = parent
        message["parentExecution"] = parent_execution
    if timestamp is not None:
        message["Timestamp"] = format_label(timestamp)
    if predecessor is not None:
        message["Predecessor"] = format_label(predecessor)
    if predecessor_sent is not None:
        message["PredecessorSentAt"] = format_label(predecessor_sent)
    return compact_json(message)


def request_body(text: str | None) -> dict[str, Any]:
    """A request message's JSON object (an empty one for text that is not one)."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def sent_request(event: EventSentEvent) -> dict[str, Any]:
    """The request an EventSent recorded, parsed once per event object (cached histories keep theirs)."""
    memo = event.__dict__.get("_request")
    if memo is None:
        memo = event.__dict__["_request"] = request_body(event.input)
    return memo


@dataclass
class Request:
    """One operation request waiting for (or taken into) an entity batch."""

    operation: str
    input: str | None
    signal: bool
    id: str
    parent: str | None = None
    parent_execution: str | None = None

    @classmethod
    def from_json(cls, text: str | None) -> Request:
        return cls.from_dict(request_body(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Request:
        return cls(
            operation=str(data.get("op") or ""),
            input=data.get("input"),
            signal=bool(data.get("signal")),
            id=str(data.get("id") or uuid.uuid4()),
            parent=data.get("parent"),
            parent_execution=data.get("parentExecution"),
        )


@dataclass
class SchedulerState:
    """What the extension keeps for an entity (the ExecutionStarted input of its current execution)."""

    exists: bool = False
    state: str | None = None
    queue: list[dict[str, Any]] = field(default_factory=list)
    locked_by: str | None = None
    sorter: MessageSorter = field(default_factory=MessageSorter)

    def to_json(self) -> str:
        return compact_json(
            {
                "exists": self.exists,
                "state": self.state,
                "queue": self.queue,
                "lockedBy": self.locked_by,
                "sorter": self.sorter.to_json(),
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> SchedulerState:
        if not text:
            return cls()
        data = json.loads(text)
        if isinstance(data, str):  # stored as a JSON string of the JSON text
            data = json.loads(data)
        return cls(
            exists=bool(data.get("exists")),
            state=data.get("state"),
            queue=list(data.get("queue") or []),
            locked_by=data.get("lockedBy"),
            sorter=MessageSorter.from_json(data.get("sorter")),
        )

    def custom_status(self) -> str:
        """The Instances row's CustomStatus for an entity."""
        return compact_json({"entityExists": self.exists, "queueSize": len(self.queue), "lockedBy": self.locked_by})


@dataclass
class Response:
    """What goes back to a calling orchestration: an EventRaised named by the request id."""

    request: Request
    result: str
    is_error: bool

    def event_input(self) -> str:
        body: dict[str, Any] = {"result": self.result}
        if self.is_error:
            body["exceptionType"] = "Error"
        return compact_json(body)


def batch_json(entity: EntityId, state: SchedulerState, requests: list[Request]) -> str:
    """The input of the entity's ``handle`` (§3.2)."""
    return compact_json(
        {
            "self": {"name": entity.name.lower(), "key": entity.key},
            "exists": state.exists,
            "state": state.state,
            "batch": [{"name": r.operation, "input": r.input, "isSignal": r.signal} for r in requests],
        }
    )


def apply_batch_result(
    state: SchedulerState, requests: list[Request], output_text: str
) -> tuple[SchedulerState, list[Response]]:
    """The new state and one response per operation from what ``handle`` returned."""
    data = json.loads(output_text)
    results = data.get("results") or []
    new_state = dataclasses.replace(state, exists=bool(data.get("entityExists")), state=data.get("entityState"))
    responses = []
    for index, request in enumerate(requests):
        item = results[index] if index < len(results) else {"isError": True, "result": '"no result"'}
        responses.append(Response(request, str(item.get("result")), bool(item.get("isError"))))
    return new_state, responses


def failed_batch(requests: list[Request], message: str) -> list[Response]:
    """Every operation of a batch whose ``handle`` could not run fails with ``message``."""
    return [Response(r, compact_json(message), True) for r in requests]
