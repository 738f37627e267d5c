"""The spans of an execution, read from its history rows: activities, timers, sub-orchestrations, events.

A span starts at the row that opened it (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated) and
ends at the row that answers it, as the event model pairs them (``dfx.model.history.COMPLETIONS``: EventId =
TaskScheduledId, TimerId for timers); the rows are read as typed events. A fired timer
ends when the orchestration got it (the episode whose OrchestratorStarted precedes its TimerFired row): the
TimerFired row itself carries the time the timer was created, and a timer delivered late shows as longer
than its FireAt. A span with no answer yet is open (``end`` None). Raised events are instants: the history
does not record when a wait for them began.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dfx.model.encoding import from_table_entity
from dfx.model.history import (
    COMPLETION_EVENT_TYPES,
    EventRaisedEvent,
    EventType,
    HistoryEvent,
    SubOrchestrationInstanceCreatedEvent,
    TaskRef,
    TimerCreatedEvent,
    answered_task,
    outcome_of,
    scheduled_task,
)

_OPENERS = {
    EventType.TaskScheduled: "activity",
    EventType.TimerCreated: "timer",
    EventType.SubOrchestrationInstanceCreated: "sub-orchestration",
}
_ENDINGS = ("ExecutionCompleted", "ExecutionTerminated")
#: The rows a span is made of, read as typed events.
_SPAN_ROWS = frozenset(t.name for t in (*_OPENERS, *COMPLETION_EVENT_TYPES, EventType.EventRaised))


@dataclass(frozen=True)
class Span:
    """One bar of the timeline."""

    kind: str  # "activity", "timer", "sub-orchestration" or "event"
    name: str
    start: datetime
    end: datetime | None  # None while it runs (or, for a timer, until it fires)
    status: str  # Completed, Failed, Fired, Raised, Running or Waiting
    task_id: int | None = None
    instance_id: str | None = None  # a sub-orchestration's
    fire_at: datetime | None = None  # a timer's

    @property
    def is_open(self) -> bool:
        return self.end is None


@dataclass(frozen=True)
class Axis:
    """The time axis: from ExecutionStarted to the end of the execution, or to ``now`` while it runs."""

    start: datetime
    end: datetime
    running: bool

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0)

    def offset(self, when: datetime) -> float:
        return (when - self.start).total_seconds()


def row_timestamp(row: dict[str, Any]) -> datetime | None:
    """The event time (``_Timestamp``) of a history row."""
    value = row.get("_Timestamp")
    return value if isinstance(value, datetime) else None


def axis_of(rows: list[dict[str, Any]], now: datetime) -> Axis | None:
    """The execution's axis; None for a history without timestamps."""
    stamps = [t for row in rows if (t := row_timestamp(row)) is not None]
    if not stamps:
        return None
    start = min(stamps)  # the ExecutionStarted's (the client's start time) unless a row says earlier
    if any(r.get("EventType") in _ENDINGS for r in rows):
        return Axis(start, max(stamps), running=False)
    return Axis(start, max(now, max(stamps)), running=True)


def _event_of(row: dict[str, Any]) -> HistoryEvent | None:
    """The typed event of a row spans are made of (None for other rows and for rows that do not read)."""
    if row.get("EventType") not in _SPAN_ROWS:
        return None
    try:
        return from_table_entity(row)
    except (ValueError, TypeError, KeyError):
        return None


def spans_of(rows: list[dict[str, Any]]) -> list[Span]:
    """The spans of an execution's rows, ordered by start time (then by task id)."""
    answers: dict[TaskRef, tuple[HistoryEvent, datetime | None]] = {}
    delivered: dict[int, datetime] = {}  # timer id -> start of the episode that received its TimerFired
    episode: datetime | None = None
    stamped: list[tuple[HistoryEvent, datetime]] = []
    for row in rows:
        stamp = row_timestamp(row)
        if row.get("EventType") == "OrchestratorStarted":
            episode = stamp
            continue
        event = _event_of(row)
        if event is None:
            continue
        if stamp is not None:
            stamped.append((event, stamp))
        task = answered_task(event)
        if task is not None:
            if task[0] is EventType.TimerCreated and episode is not None:
                delivered.setdefault(task[1], episode)
            answers.setdefault(task, (event, stamp))
    spans: list[Span] = []
    for event, start in stamped:
        task = scheduled_task(event)
        if task is not None:
            span_kind = _OPENERS[event.event_type]
            answer, end = answers.get(task, (None, None))
            fire_at = event.fire_at if isinstance(event, TimerCreatedEvent) else None
            if answer is not None and span_kind == "timer":
                got = delivered.get(event.event_id)
                if got is None or got < start:  # no episode start after the timer began: trust its FireAt
                    got = fire_at if fire_at is not None else end
                end = max(got, start) if got is not None else end
            outcome = outcome_of(answer) if answer is not None else None
            unanswered = "Waiting" if span_kind == "timer" else "Running"
            spans.append(
                Span(
                    span_kind,
                    "timer" if span_kind == "timer" else str(getattr(event, "name", None) or "?"),
                    start,
                    end,
                    outcome.value if outcome is not None else unanswered,
                    event.event_id,
                    instance_id=event.instance_id if isinstance(event, SubOrchestrationInstanceCreatedEvent) else None,
                    fire_at=fire_at,
                )
            )
        elif isinstance(event, EventRaisedEvent):
            spans.append(Span("event", str(event.name or "?"), start, start, "Raised"))
    spans.sort(key=lambda s: (s.start, s.task_id if s.task_id is not None else -1))
    return spans
