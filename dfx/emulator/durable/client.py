"""Client operations on a task hub — start, status, raise, terminate, suspend, resume, purge — with typed errors.

The management API (``dfx.emulator.http.management``) and the CLI both use these; they write exactly what the
provider's client writes (storage-layout §9) and refuse what the extension refuses (host-protocol §5.1, §7).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from dfx.emulator.durable.entities import OPERATION_EVENT, EntityId, EntityIdError, SchedulerState, request_json
from dfx.emulator.durable.orchestration import MAX_INSTANCE_ID, parse_output
from dfx.emulator.storage.errors import StorageError
from dfx.emulator.storage.instances_table import InstanceRecord
from dfx.emulator.storage.messages import MessageData, ReceivedMessage, TaskMessage
from dfx.emulator.storage.taskhub import TaskHub
from dfx.errors import DfxError
from dfx.model.encoding import format_datetime_seconds, from_table_entity, to_sdk_json
from dfx.model.history import (
    COMPLETIONS,
    EventRaisedEvent,
    EventType,
    ExecutionResumedEvent,
    ExecutionStartedEvent,
    ExecutionSuspendedEvent,
    ExecutionTerminatedEvent,
    GenericEvent,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    SubOrchestrationInstanceFailedEvent,
    TaskFailedEvent,
    utcnow,
)

DEDUPE_STATUSES = frozenset(
    {
        OrchestrationStatus.Running,
        OrchestrationStatus.ContinuedAsNew,
        OrchestrationStatus.Pending,
        OrchestrationStatus.Suspended,
    }
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CLIENT_SENDER = OrchestrationInstance("", "")
#: How often a start that may replace any state tries again after losing its row write to a checkpoint.
OVERWRITE_ATTEMPTS = 3


class ClientError(DfxError):
    """A refused client operation; ``status`` is the HTTP status the extension answers with."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None, exception_type: str | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.exception_type = exception_type


def _already_exists(status: OrchestrationStatus) -> ClientError:
    return ClientError(
        f"An Orchestration instance with the status {status.name} already exists.",
        status=500,
        exception_type="DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException",
    )


class InstanceNotFound(ClientError):
    status = 404


class InstanceGone(ClientError):
    status = 410


def validate_instance_id(instance_id: str) -> None:
    """The extension's rules (host-protocol §7), with its messages (parameter-name swap included)."""
    if not instance_id:
        raise ClientError("Instance ID must not be empty.", exception_type="System.ArgumentException")
    if instance_id.startswith("@"):
        raise ClientError(
            "instanceId (Parameter 'Orchestration instance ids must not start with @.')",
            exception_type="System.ArgumentException",
        )
    if any(c in instance_id for c in "/\\#?") or _CONTROL.search(instance_id):
        raise ClientError(
            "instanceId (Parameter 'Orchestration instance ids must not contain /, \\, #, ?, or control characters.')",
            exception_type="System.ArgumentException",
        )
    if len(instance_id) > MAX_INSTANCE_ID:
        raise ClientError(
            f"Instance ID lengths must not exceed {MAX_INSTANCE_ID} characters.",
            exception_type="System.ArgumentException",
        )


def _validate_entity(entity: EntityId) -> None:
    """An entity id the extension refuses, or that storage cannot hold, is the caller's error (400)."""
    try:
        entity.validate()
    except EntityIdError as exc:
        raise ClientError(str(exc), exception_type="System.ArgumentException") from exc


class Dispatcher(Protocol):
    """How a client's messages reach the engine that runs their instance."""

    async def send_control(self, message: MessageData) -> str:
        """Put a message on its target's control queue (and see it delivered soon); the queue's name."""
        ...

    async def put_start(self, message: MessageData) -> ReceivedMessage:
        """Put a start message, which must not run before its start is decided (``start_decided``)."""
        ...

    async def start_decided(self, sent: ReceivedMessage, *, won: bool | None, new_instance: bool) -> None:
        """The start's Instances row was written (``won``), another start of the id wrote it first (False),
        or the write failed without saying whether it landed (None: the message stays for the start check)."""
        ...


@dataclass
class StorageSender:
    """The ``Dispatcher`` of a process without an engine: messages go through the queues and wait there."""

    hub: TaskHub

    async def send_control(self, message: MessageData) -> str:
        return await self.hub.queues.send_to_instance(message)

    async def put_start(self, message: MessageData) -> ReceivedMessage:
        return await self.hub.queues.send(self.hub.names.control_queue_for(message.target.instance_id), message)

    async def start_decided(self, sent: ReceivedMessage, *, won: bool | None, new_instance: bool) -> None:
        if won is False:
            await discard_lost_start(self.hub, sent)


async def discard_lost_start(hub: TaskHub, sent: ReceivedMessage) -> None:
    """Delete the message of a start that lost, with the put's receipt; if an engine took it meanwhile, that
    engine's start check drops it instead (the Instances row names another execution)."""
    with contextlib.suppress(StorageError, OSError):
        await hub.queues.delete(sent)


@dataclass
class DurableClient:
    """Client operations against one task hub; with an engine's ``dispatcher`` its messages skip the polling."""

    hub: TaskHub
    dispatcher: Dispatcher | None = None
    default_version: str = ""
    overwrite_running: bool = False
    """``overridableExistingInstanceStates: AnyState``: a start replaces an instance in any state."""

    def __post_init__(self) -> None:
        self._sender: Dispatcher = self.dispatcher if self.dispatcher is not None else StorageSender(self.hub)

    async def _send(self, target: OrchestrationInstance, event: HistoryEvent) -> None:
        await self._sender.send_control(MessageData(TaskMessage(event, target), sender=CLIENT_SENDER))

    async def start(
        self, name: str, instance_id: str | None, input_text: str | None, *, version: str | None = None
    ) -> str:
        """Start ``name``: ExecutionStarted on the control queue, then the Pending row (storage-layout §9).

        The row write is the arbiter between concurrent starts of one id: it inserts (or replaces the row
        read, If-Match), so exactly one start wins; the others delete their message and are refused as
        the extension refuses an existing instance.
        """
        instance_id = instance_id if instance_id is not None else uuid.uuid4().hex
        validate_instance_id(instance_id)
        # With AnyState a start replaces the row whatever it holds, so losing to a checkpoint of the running
        # execution (its row write changed the ETag) only means trying again on a fresh read.
        for _ in range(OVERWRITE_ATTEMPTS if self.overwrite_running else 1):
            existing = await self.hub.instances.get(instance_id, fetch_large=False)
            if existing is not None and not self.overwrite_running and existing.runtime_status in DEDUPE_STATUSES:
                raise _already_exists(existing.runtime_status)
            if await self._try_start(name, instance_id, input_text, version, existing):
                return instance_id
        winner = await self.hub.instances.get(instance_id, fetch_large=False)
        raise _already_exists(winner.runtime_status if winner is not None else OrchestrationStatus.Pending)

    async def _try_start(
        self, name: str, instance_id: str, input_text: str | None, version: str | None, existing: InstanceRecord | None
    ) -> bool:
        """One start attempt against the row as read (``existing``): whether its row write won."""
        now = utcnow()
        execution = OrchestrationInstance(instance_id, uuid.uuid4().hex)
        generation = existing.generation + 1 if existing is not None else 0
        event = ExecutionStartedEvent(
            orchestration_instance=execution,
            name=name,
            version=version or self.default_version,
            input=input_text,
            generation=generation,
            timestamp=now,
        )
        sent = await self._sender.put_start(MessageData(TaskMessage(event, execution), sender=CLIENT_SENDER))
        won: bool | None = None  # unknown when the write fails: the engine's start check decides later
        try:
            won = await self.hub.instances.write_pending(
                instance_id=instance_id,
                name=name,
                execution_id=execution.execution_id or "",
                input=input_text,
                created_time=now,
                generation=generation,
                version=version or self.default_version,
                existing_etag=existing.etag if existing is not None else None,
            )
        finally:
            await self._sender.start_decided(sent, won=won, new_instance=existing is None)
        return bool(won)

    async def require(self, instance_id: str) -> InstanceRecord:
        record = await self.hub.instances.get(instance_id)
        if record is None:
            raise InstanceNotFound(f"No instance with ID '{instance_id}' found.")
        return record

    async def raise_event(self, instance_id: str, event_name: str, payload_text: str | None) -> None:
        record = await self.require(instance_id)
        if record.runtime_status.is_terminal:
            raise InstanceGone(f"Instance with ID {instance_id} is gone: either completed or failed")
        await self._send(OrchestrationInstance(instance_id), EventRaisedEvent(name=event_name, input=payload_text))

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        record = await self.require(instance_id)
        if record.runtime_status.is_terminal:
            raise InstanceGone(f"Instance with ID {instance_id} is gone: either completed or failed")
        await self._send(OrchestrationInstance(instance_id), ExecutionTerminatedEvent(input=reason))

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        record = await self.require(instance_id)
        if record.runtime_status.is_terminal:
            raise InstanceGone(f"Instance with ID {instance_id} is gone: either completed or failed")
        if record.runtime_status == OrchestrationStatus.Suspended:
            raise ClientError(
                f"Cannot suspend the orchestration instance {instance_id} because instance is in the Suspended state.",
                status=500,
                exception_type="System.InvalidOperationException",
            )
        await self._send(OrchestrationInstance(instance_id), ExecutionSuspendedEvent(reason=reason))

    async def resume(self, instance_id: str, reason: str | None) -> None:
        record = await self.require(instance_id)
        if record.runtime_status.is_terminal:
            raise InstanceGone(f"Instance with ID {instance_id} is gone: either completed or failed")
        if record.runtime_status != OrchestrationStatus.Suspended:
            raise ClientError(
                f"Cannot resume the orchestration instance {instance_id} because instance is in the "
                f"{record.runtime_status.name} state.",
                status=500,
                exception_type="System.InvalidOperationException",
            )
        await self._send(OrchestrationInstance(instance_id), ExecutionResumedEvent(reason=reason))

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        """Rewind a Failed instance (and its failed children) with the legacy Azure Storage algorithm (§2.13)."""
        record = await self.require(instance_id)
        status = record.runtime_status
        if status in (OrchestrationStatus.Completed, OrchestrationStatus.Terminated, OrchestrationStatus.Canceled):
            raise InstanceGone("The rewind operation is only supported on failed orchestration instances.")
        if status != OrchestrationStatus.Failed:
            raise ClientError(
                "The rewind operation is only supported on failed orchestration instances.",
                status=500,
                exception_type="System.InvalidOperationException",
            )
        await self._rewind(instance_id, reason)

    async def _rewind(self, instance_id: str, reason: str | None) -> None:
        stored = await self.hub.history.read_rows(instance_id)
        rows = stored.rows
        events = [from_table_entity(row) for row in rows]
        failed_tasks = {e.task_scheduled_id for e in events if isinstance(e, TaskFailedEvent)}
        failed_children = {e.task_scheduled_id for e in events if isinstance(e, SubOrchestrationInstanceFailedEvent)}
        rewrites: list[tuple[str, str]] = []
        children: list[str] = []
        for row, event in zip(rows, events, strict=True):
            kind = event.event_type.name
            if (
                kind in ("TaskFailed", "SubOrchestrationInstanceFailed")
                or (kind == "TaskScheduled" and event.event_id in failed_tasks)
                or (kind == "ExecutionCompleted" and row.get("OrchestrationStatus") == "Failed")
            ):
                rewrites.append((row["RowKey"], kind))
            elif kind == "SubOrchestrationInstanceCreated" and event.event_id in failed_children:
                children.append(getattr(event, "instance_id", None) or "")
        await self.hub.history.rewrite_as_generic(instance_id, rewrites, etag=stored.etag)
        pending = {"RuntimeStatus": OrchestrationStatus.Pending.name, "LastUpdatedTime": utcnow()}
        await self.hub.instances.merge(instance_id, pending)
        rewound_children = False
        for child in children:
            record = await self.hub.instances.get(child, fetch_large=False)
            if record is not None and record.runtime_status == OrchestrationStatus.Failed:
                await self._rewind(child, reason)
                rewound_children = True
        if not rewound_children:  # the deepest failed instances are woken; parents wait for their children
            await self._send(OrchestrationInstance(instance_id), GenericEvent(data=reason))

    async def signal_entity(self, entity: EntityId, operation: str, input_text: str | None) -> None:
        """A client signal: an ``op`` event with a signal request (no response) to ``@name@key``."""
        _validate_entity(entity)
        request = request_json(operation, input_text=input_text, signal=True)
        await self._send(
            OrchestrationInstance(entity.instance_id), EventRaisedEvent(name=OPERATION_EVENT, input=request)
        )

    async def entity_state(self, entity: EntityId) -> tuple[bool, Any]:
        """Whether the entity exists, and its state as a JSON value."""
        _validate_entity(entity)
        record = await self.hub.instances.get(entity.instance_id)
        if record is None:
            return False, None
        scheduler = SchedulerState.from_json(record.input)
        if not scheduler.exists:
            return False, None
        return True, parse_output(scheduler.state)

    async def restart(self, instance_id: str, new_instance_id: bool) -> str:
        record = await self.hub.instances.get(instance_id)
        if record is None:
            raise ClientError("InstanceId does not match a valid orchestration instance.")
        return await self.start(record.name or "", None if new_instance_id else instance_id, record.input)

    async def status(
        self,
        instance_id: str,
        *,
        show_input: bool = True,
        show_history: bool = False,
        show_history_output: bool = False,
    ) -> dict[str, Any] | None:
        record = await self.hub.instances.get(instance_id)
        if record is None:
            return None
        data = status_json(record, show_input=show_input)
        if show_history:
            history = await self.hub.history.read_rows(instance_id)
            events = [from_table_entity(row) for row in history.rows]
            data["historyEvents"] = history_json(events, show_input=show_input, show_output=show_history_output)
        return data


def status_json(record: InstanceRecord, *, show_input: bool = True) -> dict[str, Any]:
    """The instance status object of host-protocol §5.2."""

    def time(value: datetime | None) -> str | None:
        return format_datetime_seconds(value) if value is not None else None

    return {
        "name": record.name,
        "instanceId": record.instance_id,
        "runtimeStatus": record.runtime_status.name,
        "input": parse_output(record.input) if show_input else None,
        "customStatus": parse_output(record.custom_status),
        "output": parse_output(record.output),
        "createdTime": time(record.created_time),
        "lastUpdatedTime": time(record.last_updated_time),
    }


#: The answers the extension merges with the event that scheduled their task (``COMPLETIONS``): an activity's
#: and a sub-orchestration's, not a timer's (TimerCreated and TimerFired both stay, the latter without TimerId).
_COMPLETIONS = {
    kind.name: completion.scheduled.name
    for kind, completion in COMPLETIONS.items()
    if completion.scheduled is not EventType.TimerCreated
}
_RESULT_EVENTS = ("TaskCompleted", "SubOrchestrationInstanceCompleted", "ExecutionCompleted")


def history_json(events: list[HistoryEvent], *, show_input: bool, show_output: bool) -> list[dict[str, Any]]:
    """``historyEvents`` of the status API: the extension's transformation of the raw history (§5.2)."""
    raw = [to_sdk_json(e) for e in events]
    for item, event in zip(raw, events, strict=True):
        item["EventType"] = event.event_type.name
    scheduled = {(r["EventType"], r["EventId"]): r for r in raw if r["EventType"] in _COMPLETIONS.values()}
    matched: set[int] = set()
    out = []
    for item in raw:
        kind = item["EventType"]
        if kind in ("OrchestratorStarted", "OrchestratorCompleted"):
            continue
        if kind in _COMPLETIONS:
            source = scheduled.get((_COMPLETIONS[kind], item.get("TaskScheduledId")))
            if source is not None:
                matched.add(id(source))
                item["ScheduledTime"] = source["Timestamp"]
                item["FunctionName"] = source.get("Name")
                if show_input and source.get("Input") is not None:
                    item["Input"] = source.get("Input")
                item.pop("TaskScheduledId", None)
        if kind == "ExecutionStarted":
            item["FunctionName"] = item.pop("Name", None)
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags"):
                item.pop(key, None)
        if kind == "ExecutionCompleted":
            status = item.get("OrchestrationStatus")
            if isinstance(status, int):
                item["OrchestrationStatus"] = OrchestrationStatus(status).name
        if kind == "TimerFired":
            item.pop("TimerId", None)
        if kind in _RESULT_EVENTS:
            if show_output:
                item["Result"] = parse_output(item.get("Result"))
            else:
                item.pop("Result", None)
        if not show_input:
            item.pop("Input", None)
        item.pop("EventId", None)
        item.pop("IsPlayed", None)
        out.append(item)
    return [item for item in out if id(item) not in matched]
