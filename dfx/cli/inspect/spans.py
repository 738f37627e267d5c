"""The spans of an execution, read from its history rows: activities, timers, sub-orchestrations, events.

A span starts at the row that opened it (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated) and
ends at the row that answers it, matched by EventId = TaskScheduledId (TimerId for timers). A fired timer
ends when the orchestration got it (the episode whose OrchestratorStarted precedes its TimerFired row): the
TimerFired row itself carries the time the timer was created, and a timer delivered late shows as longer
than its FireAt. A span with no answer yet is open (``end`` None). Raised events are instants: the history
does not record when a wait for them began.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

_OPENERS = {
    "TaskScheduled": "activity",
    "TimerCreated": "timer",
    "SubOrchestrationInstanceCreated": "sub-orchestration",
}
_ANSWERS = {
    "TaskCompleted": "Completed",
    "TaskFailed": "Failed",
    "SubOrchestrationInstanceCompleted": "Completed",
    "SubOrchestrationInstanceFailed": "Failed",
    "TimerFired": "Fired",
}
_ENDINGS = ("ExecutionCompleted", "ExecutionTerminated")


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


def spans_of(rows: list[dict[str, Any]]) -> list[Span]:
    """The spans of an execution's rows, ordered by start time (then by task id)."""
    answers: dict[tuple[str, int], dict[str, Any]] = {}
    delivered: dict[int, datetime] = {}  # timer id -> start of the episode that received its TimerFired
    episode: datetime | None = None
    for row in rows:
        kind = row.get("EventType")
        if kind == "OrchestratorStarted":
            episode = row_timestamp(row)
        elif kind == "TimerFired" and row.get("TimerId") is not None and episode is not None:
            delivered.setdefault(int(row["TimerId"]), episode)
        if kind in _ANSWERS:
            pointer = row.get("TimerId") if kind == "TimerFired" else row.get("TaskScheduledId")
            if pointer is not None:
                answers.setdefault(("timer" if kind == "TimerFired" else "task", int(pointer)), row)
    spans: list[Span] = []
    for row in rows:
        kind = row.get("EventType")
        start = row_timestamp(row)
        if start is None:
            continue
        if kind in _OPENERS:
            task_id = int(row.get("EventId", -1))
            span_kind = _OPENERS[kind]
            answer = answers.get(("timer" if span_kind == "timer" else "task", task_id))
            end = row_timestamp(answer) if answer is not None else None
            fire_at = row.get("FireAt")
            if answer is not None and span_kind == "timer":
                got = delivered.get(task_id)
                if got is None or got < start:  # no episode start after the timer began: trust its FireAt
                    got = fire_at if isinstance(fire_at, datetime) else end
                end = max(got, start) if got is not None else end
            if answer is not None:
                status = _ANSWERS[answer["EventType"]]
            else:
                status = "Waiting" if span_kind == "timer" else "Running"
            spans.append(
                Span(
                    span_kind,
                    "timer" if span_kind == "timer" else str(row.get("Name") or "?"),
                    start,
                    end,
                    status,
                    task_id,
                    instance_id=row.get("InstanceId") if span_kind == "sub-orchestration" else None,
                    fire_at=fire_at if isinstance(fire_at, datetime) else None,
                )
            )
        elif kind == "EventRaised":
            spans.append(Span("event", str(row.get("Name") or "?"), start, start, "Raised"))
    spans.sort(key=lambda s: (s.start, s.task_id if s.task_id is not None else -1))
    return spans
