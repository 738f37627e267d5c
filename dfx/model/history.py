"""The typed model of Durable Task history events: one dataclass per event type.

An event knows nothing about its wire forms; ``dfx.model.encoding`` turns it into the SDK's
JSON, a History table row and a queue message, and back. Attribute names are the .NET member names in
snake_case (``task_scheduled_id`` is ``TaskScheduledId`` on the wire), declared in .NET order.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum, IntEnum
from typing import Any, ClassVar

from dfx._compat import StrEnum


class EventType(IntEnum):
    """DTFx ``EventType``: integers in queue/SDK JSON, names in tables (append-only numbering)."""

    ExecutionStarted = 0
    ExecutionCompleted = 1
    ExecutionFailed = 2
    ExecutionTerminated = 3
    TaskScheduled = 4
    TaskCompleted = 5
    TaskFailed = 6
    SubOrchestrationInstanceCreated = 7
    SubOrchestrationInstanceCompleted = 8
    SubOrchestrationInstanceFailed = 9
    TimerCreated = 10
    TimerFired = 11
    OrchestratorStarted = 12
    OrchestratorCompleted = 13
    EventSent = 14
    EventRaised = 15
    ContinueAsNew = 16
    GenericEvent = 17
    HistoryState = 18
    ExecutionSuspended = 19
    ExecutionResumed = 20
    ExecutionRewound = 21


class OrchestrationStatus(IntEnum):
    """DTFx ``OrchestrationStatus``; the names are the ``RuntimeStatus`` strings of the Instances table."""

    Running = 0
    Completed = 1
    ContinuedAsNew = 2
    Failed = 3
    Canceled = 4
    Terminated = 5
    Pending = 6
    Suspended = 7

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        OrchestrationStatus.Completed,
        OrchestrationStatus.Failed,
        OrchestrationStatus.Terminated,
        OrchestrationStatus.Canceled,
    }
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class OrchestrationInstance:
    """An instance id with the execution it refers to (``None`` means "whatever is current")."""

    instance_id: str
    execution_id: str | None = None

    dotnet_type: ClassVar[str] = "DurableTask.Core.OrchestrationInstance"

    def to_json(self) -> dict[str, Any]:
        return {"InstanceId": self.instance_id, "ExecutionId": self.execution_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrchestrationInstance:
        return cls(instance_id=data.get("InstanceId") or "", execution_id=data.get("ExecutionId"))


@dataclass(frozen=True)
class ParentInstance:
    """The orchestration that started a sub-orchestration, and the id of its scheduling event."""

    name: str | None
    orchestration_instance: OrchestrationInstance
    task_schedule_id: int
    version: str | None = ""

    dotnet_type: ClassVar[str] = "DurableTask.Core.ParentInstance"

    def to_json(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "OrchestrationInstance": self.orchestration_instance.to_json(),
            "TaskScheduleId": self.task_schedule_id,
            "Version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ParentInstance:
        return cls(
            name=data.get("Name"),
            orchestration_instance=OrchestrationInstance.from_json(data.get("OrchestrationInstance") or {}),
            task_schedule_id=int(data.get("TaskScheduleId", -1)),
            version=data.get("Version"),
        )


@dataclass(frozen=True)
class FailureDetails:
    """Structured failure information (DTFx ``FailureDetails``)."""

    error_type: str
    error_message: str
    stack_trace: str | None = None
    inner_failure: FailureDetails | None = None
    is_non_retriable: bool = False
    properties: dict[str, Any] | None = None

    dotnet_type: ClassVar[str] = "DurableTask.Core.FailureDetails"

    def __str__(self) -> str:
        return f"{self.error_type}: {self.error_message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "ErrorType": self.error_type,
            "ErrorMessage": self.error_message,
            "StackTrace": self.stack_trace,
            "InnerFailure": self.inner_failure.to_json() if self.inner_failure else None,
            "IsNonRetriable": self.is_non_retriable,
            "Properties": self.properties,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FailureDetails:
        inner = data.get("InnerFailure")
        return cls(
            error_type=data.get("ErrorType") or "",
            error_message=data.get("ErrorMessage") or "",
            stack_trace=data.get("StackTrace"),
            inner_failure=cls.from_json(inner) if isinstance(inner, dict) else None,
            is_non_retriable=bool(data.get("IsNonRetriable", False)),
            properties=data.get("Properties"),
        )


NESTED_TYPES: tuple[type, ...] = (OrchestrationInstance, ParentInstance, FailureDetails)


class FieldKind(Enum):
    """How a member is written: the encoders switch on this, never on attribute names."""

    STRING = "string"
    INT = "int"
    BOOL = "bool"
    DATETIME = "datetime"
    STATUS = "status"
    OBJECT = "object"  # a nested object: JSON text in tables ("null" when absent), an object in JSON
    DICT = "dict"  # like OBJECT, for free-form dictionaries (tags, trace context, state)


@dataclass(frozen=True)
class FieldSpec:
    """One member of an event: Python attribute, wire name, kind and (for objects) the Python type."""

    attr: str
    wire: str
    kind: FieldKind
    nested: type | None = None


# .NET type names written as "$type" of free-form dictionaries in queue messages.
STRING_DICTIONARY_TYPE = (
    "System.Collections.Generic.Dictionary`2[[System.String, System.Private.CoreLib],"
    "[System.String, System.Private.CoreLib]]"
)
DICT_DOTNET_TYPES = {
    "tags": STRING_DICTIONARY_TYPE,
    "parent_trace_context": "DurableTask.Core.Tracing.DistributedTraceContext",
    "state": "DurableTask.Core.OrchestrationState",
}


def _pascal(attr: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in attr.split("_"))


def _kind_of(hint: Any) -> tuple[FieldKind, type | None]:
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    base = args[0]
    origin = typing.get_origin(base) or base
    if origin is bool:
        return FieldKind.BOOL, None
    if origin is int:
        return FieldKind.INT, None
    if origin is str:
        return FieldKind.STRING, None
    if origin is datetime:
        return FieldKind.DATETIME, None
    if origin is OrchestrationStatus:
        return FieldKind.STATUS, None
    if origin in NESTED_TYPES:
        return FieldKind.OBJECT, origin
    if origin is dict:
        return FieldKind.DICT, None
    raise TypeError(f"history field type {hint!r} has no wire kind")


_BASE_ATTRS = ("event_id", "is_played", "timestamp")


@dataclass(kw_only=True)
class HistoryEvent:
    """The members every event has; subclasses add theirs and name their ``event_type``."""

    event_type: ClassVar[EventType]
    dotnet_class: ClassVar[str]
    # Members written before "EventType" in a serialized event (.NET fields precede properties).
    leading: ClassVar[tuple[str, ...]] = ()
    # Filled by __init_subclass__: the type-specific members in .NET order, then the common ones.
    type_fields: ClassVar[tuple[FieldSpec, ...]] = ()
    common_fields: ClassVar[tuple[FieldSpec, ...]] = ()

    event_id: int = -1
    is_played: bool = False
    timestamp: datetime = field(default_factory=utcnow)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            cls.dotnet_class = f"DurableTask.Core.History.{cls.__name__}"

    @classmethod
    def _finalize(cls) -> None:
        hints = typing.get_type_hints(cls)
        specs = []
        for f in dataclasses.fields(cls):
            kind, nested = _kind_of(hints[f.name])
            specs.append(FieldSpec(f.name, _pascal(f.name), kind, nested))
        cls.common_fields = tuple(s for s in specs if s.attr in _BASE_ATTRS)
        own = [s for s in specs if s.attr not in _BASE_ATTRS]
        lead = [s for s in own if s.attr in cls.leading]
        cls.type_fields = tuple(lead + [s for s in own if s.attr not in cls.leading])

    @property
    def name_of_type(self) -> str:
        return self.event_type.name


@dataclass(kw_only=True)
class ExecutionStartedEvent(HistoryEvent):
    event_type = EventType.ExecutionStarted
    leading = ("orchestration_instance",)

    orchestration_instance: OrchestrationInstance
    parent_instance: ParentInstance | None = None
    name: str | None = None
    version: str | None = ""
    input: str | None = None
    tags: dict[str, str] | None = None
    correlation: str | None = None
    parent_trace_context: dict[str, Any] | None = None
    scheduled_start_time: datetime | None = None
    generation: int | None = None
    generate_new_trace: bool = False


@dataclass(kw_only=True)
class ExecutionCompletedEvent(HistoryEvent):
    event_type = EventType.ExecutionCompleted

    orchestration_status: OrchestrationStatus = OrchestrationStatus.Completed
    result: str | None = None
    failure_details: FailureDetails | None = None


@dataclass(kw_only=True)
class ContinueAsNewEvent(ExecutionCompletedEvent):
    event_type = EventType.ContinueAsNew

    orchestration_status: OrchestrationStatus = OrchestrationStatus.ContinuedAsNew


@dataclass(kw_only=True)
class ExecutionTerminatedEvent(HistoryEvent):
    event_type = EventType.ExecutionTerminated

    input: str | None = None


@dataclass(kw_only=True)
class TaskScheduledEvent(HistoryEvent):
    event_type = EventType.TaskScheduled

    name: str | None = None
    version: str | None = ""
    input: str | None = None
    parent_trace_context: dict[str, Any] | None = None
    tags: dict[str, str] | None = None


@dataclass(kw_only=True)
class TaskCompletedEvent(HistoryEvent):
    event_type = EventType.TaskCompleted

    task_scheduled_id: int = -1
    result: str | None = None


@dataclass(kw_only=True)
class TaskFailedEvent(HistoryEvent):
    event_type = EventType.TaskFailed

    task_scheduled_id: int = -1
    reason: str | None = None
    details: str | None = None
    failure_details: FailureDetails | None = None


@dataclass(kw_only=True)
class SubOrchestrationInstanceCreatedEvent(HistoryEvent):
    event_type = EventType.SubOrchestrationInstanceCreated

    name: str | None = None
    version: str | None = ""
    instance_id: str | None = None
    input: str | None = None
    client_span_id: str | None = None
    tags: dict[str, str] | None = None


@dataclass(kw_only=True)
class SubOrchestrationInstanceCompletedEvent(HistoryEvent):
    event_type = EventType.SubOrchestrationInstanceCompleted

    task_scheduled_id: int = -1
    result: str | None = None


@dataclass(kw_only=True)
class SubOrchestrationInstanceFailedEvent(HistoryEvent):
    event_type = EventType.SubOrchestrationInstanceFailed

    task_scheduled_id: int = -1
    reason: str | None = None
    details: str | None = None
    failure_details: FailureDetails | None = None


@dataclass(kw_only=True)
class TimerCreatedEvent(HistoryEvent):
    event_type = EventType.TimerCreated

    fire_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class TimerFiredEvent(HistoryEvent):
    event_type = EventType.TimerFired

    timer_id: int = -1
    fire_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class OrchestratorStartedEvent(HistoryEvent):
    event_type = EventType.OrchestratorStarted


@dataclass(kw_only=True)
class OrchestratorCompletedEvent(HistoryEvent):
    event_type = EventType.OrchestratorCompleted


@dataclass(kw_only=True)
class EventSentEvent(HistoryEvent):
    event_type = EventType.EventSent

    instance_id: str | None = None
    name: str | None = None
    input: str | None = None


@dataclass(kw_only=True)
class EventRaisedEvent(HistoryEvent):
    event_type = EventType.EventRaised

    name: str | None = None
    input: str | None = None
    parent_trace_context: dict[str, Any] | None = None


@dataclass(kw_only=True)
class GenericEvent(HistoryEvent):
    event_type = EventType.GenericEvent

    data: str | None = None


@dataclass(kw_only=True)
class HistoryStateEvent(HistoryEvent):
    event_type = EventType.HistoryState

    state: dict[str, Any] | None = None


@dataclass(kw_only=True)
class ExecutionSuspendedEvent(HistoryEvent):
    event_type = EventType.ExecutionSuspended

    reason: str | None = None


@dataclass(kw_only=True)
class ExecutionResumedEvent(HistoryEvent):
    event_type = EventType.ExecutionResumed

    reason: str | None = None


@dataclass(kw_only=True)
class ExecutionRewoundEvent(HistoryEvent):
    event_type = EventType.ExecutionRewound

    reason: str | None = None
    parent_execution_id: str | None = None
    instance_id: str | None = None
    parent_trace_context: dict[str, Any] | None = None


class Outcome(StrEnum):
    """What a completion event says of the task it answers."""

    COMPLETED = "Completed"
    FAILED = "Failed"
    FIRED = "Fired"


@dataclass(frozen=True)
class Completion:
    """How events of one type answer a scheduled task: the type of the event that scheduled the task, the
    member holding that event's EventId, and the outcome they report."""

    scheduled: EventType
    pointer: str
    outcome: Outcome


#: Which event answers which scheduled task: the one rule the engine, episodes, dfx doctor and dfx inspect
#: read. A task's answer points back at the EventId of the event that scheduled it, with TaskScheduledId
#: (activities, sub-orchestrations) or TimerId (timers); the sequence counter makes that id unique within an
#: execution. Raised events answer no task: an orchestration's waits take them by name, in the SDK.
COMPLETIONS: dict[EventType, Completion] = {
    EventType.TaskCompleted: Completion(EventType.TaskScheduled, "task_scheduled_id", Outcome.COMPLETED),
    EventType.TaskFailed: Completion(EventType.TaskScheduled, "task_scheduled_id", Outcome.FAILED),
    EventType.SubOrchestrationInstanceCompleted: Completion(
        EventType.SubOrchestrationInstanceCreated, "task_scheduled_id", Outcome.COMPLETED
    ),
    EventType.SubOrchestrationInstanceFailed: Completion(
        EventType.SubOrchestrationInstanceCreated, "task_scheduled_id", Outcome.FAILED
    ),
    EventType.TimerFired: Completion(EventType.TimerCreated, "timer_id", Outcome.FIRED),
}
#: Events that answer a scheduled task or timer.
COMPLETION_EVENT_TYPES = frozenset(COMPLETIONS)
#: Events that schedule a task or timer some later event answers.
SCHEDULING_EVENT_TYPES = frozenset(c.scheduled for c in COMPLETIONS.values())

TaskRef = tuple[EventType, int]
"""A scheduled task: the type of the event that scheduled it and that event's EventId."""


def scheduled_task(event: HistoryEvent) -> TaskRef | None:
    """The task ``event`` schedules (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated), else None."""
    return (event.event_type, event.event_id) if event.event_type in SCHEDULING_EVENT_TYPES else None


def answered_task(event: HistoryEvent) -> TaskRef | None:
    """The task ``event`` answers (see ``COMPLETIONS``), else None: equal to the ``scheduled_task`` of the
    event that scheduled it."""
    completion = COMPLETIONS.get(event.event_type)
    if completion is None:
        return None
    return completion.scheduled, int(getattr(event, completion.pointer))


def outcome_of(event: HistoryEvent) -> Outcome | None:
    """What a completion event reports of its task (None for other events)."""
    completion = COMPLETIONS.get(event.event_type)
    return completion.outcome if completion is not None else None


# ExecutionFailed (2) has no event class in DTFx: nothing ever writes it.
EVENT_CLASSES: dict[EventType, type[HistoryEvent]] = {
    cls.event_type: cls
    for cls in (
        ExecutionStartedEvent,
        ExecutionCompletedEvent,
        ExecutionTerminatedEvent,
        TaskScheduledEvent,
        TaskCompletedEvent,
        TaskFailedEvent,
        SubOrchestrationInstanceCreatedEvent,
        SubOrchestrationInstanceCompletedEvent,
        SubOrchestrationInstanceFailedEvent,
        TimerCreatedEvent,
        TimerFiredEvent,
        OrchestratorStartedEvent,
        OrchestratorCompletedEvent,
        EventSentEvent,
        EventRaisedEvent,
        ContinueAsNewEvent,
        GenericEvent,
        HistoryStateEvent,
        ExecutionSuspendedEvent,
        ExecutionResumedEvent,
        ExecutionRewoundEvent,
    )
}
for _cls in EVENT_CLASSES.values():
    _cls._finalize()

EVENT_CLASSES_BY_NAME: dict[str, type[HistoryEvent]] = {t.name: c for t, c in EVENT_CLASSES.items()}
