"""Which event answers which scheduled task: the one rule on the event model, and its readers agreeing on it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dfx.cli.inspect.spans import spans_of
from dfx.doctor.diagnosis.instance import open_work
from dfx.emulator.durable.orchestration import describe
from dfx.model.encoding import to_table_entity
from dfx.model.history import (
    COMPLETION_EVENT_TYPES,
    COMPLETIONS,
    SCHEDULING_EVENT_TYPES,
    EventRaisedEvent,
    EventSentEvent,
    EventType,
    ExecutionStartedEvent,
    HistoryEvent,
    OrchestrationInstance,
    OrchestratorStartedEvent,
    Outcome,
    SubOrchestrationInstanceCompletedEvent,
    SubOrchestrationInstanceCreatedEvent,
    SubOrchestrationInstanceFailedEvent,
    TaskCompletedEvent,
    TaskFailedEvent,
    TaskScheduledEvent,
    TimerCreatedEvent,
    TimerFiredEvent,
    answered_task,
    outcome_of,
    scheduled_task,
)

T0 = datetime(2026, 1, 31, 12, 0, 0, tzinfo=timezone.utc)

PAIRS: list[tuple[HistoryEvent, HistoryEvent, Outcome]] = [
    (TaskScheduledEvent(event_id=3, name="a"), TaskCompletedEvent(task_scheduled_id=3), Outcome.COMPLETED),
    (TaskScheduledEvent(event_id=4, name="a"), TaskFailedEvent(task_scheduled_id=4), Outcome.FAILED),
    (SubOrchestrationInstanceCreatedEvent(event_id=5), SubOrchestrationInstanceCompletedEvent(task_scheduled_id=5),
     Outcome.COMPLETED),
    (SubOrchestrationInstanceCreatedEvent(event_id=6), SubOrchestrationInstanceFailedEvent(task_scheduled_id=6),
     Outcome.FAILED),
    (TimerCreatedEvent(event_id=7), TimerFiredEvent(timer_id=7), Outcome.FIRED),
]  # fmt: skip


@pytest.mark.parametrize(("scheduling", "answer", "outcome"), PAIRS, ids=lambda v: type(v).__name__)
def test_each_answer_points_at_the_event_that_scheduled_its_task(scheduling, answer, outcome):
    assert scheduled_task(scheduling) == answered_task(answer) == (scheduling.event_type, scheduling.event_id)
    assert outcome_of(answer) is outcome and outcome_of(scheduling) is None
    assert answered_task(scheduling) is None and scheduled_task(answer) is None


def test_the_completion_set_is_the_five_answers_and_each_names_a_member_its_class_has():
    assert {t.name for t in COMPLETION_EVENT_TYPES} == {
        "TaskCompleted", "TaskFailed", "SubOrchestrationInstanceCompleted", "SubOrchestrationInstanceFailed",
        "TimerFired",
    }  # fmt: skip
    expected = {EventType.TaskScheduled, EventType.TimerCreated, EventType.SubOrchestrationInstanceCreated}
    assert expected == SCHEDULING_EVENT_TYPES
    for _, answer, _ in PAIRS:
        assert hasattr(answer, COMPLETIONS[answer.event_type].pointer)


def test_an_answer_of_another_kind_with_the_same_number_is_not_the_answer():
    assert answered_task(TaskCompletedEvent(task_scheduled_id=2)) != scheduled_task(TimerCreatedEvent(event_id=2))
    assert answered_task(TimerFiredEvent(timer_id=2)) != scheduled_task(TaskScheduledEvent(event_id=2))


def test_raised_and_sent_events_and_starts_answer_and_schedule_nothing():
    started = ExecutionStartedEvent(orchestration_instance=OrchestrationInstance("i", "e"))
    for event in (EventRaisedEvent(name="x"), EventSentEvent(event_id=1, name="op"), started):
        assert answered_task(event) is None and scheduled_task(event) is None and outcome_of(event) is None


def test_log_labels_name_the_task_an_answer_points_at():
    assert describe(TimerFiredEvent(timer_id=4)) == "TimerFired #4"
    assert describe(TaskFailedEvent(task_scheduled_id=2)) == "TaskFailed #2"
    assert describe(TaskScheduledEvent(event_id=2)) == "TaskScheduled"


def test_doctor_and_inspect_agree_on_what_is_still_open():
    history: list[HistoryEvent] = [
        OrchestratorStartedEvent(timestamp=T0),
        TaskScheduledEvent(event_id=0, name="done", timestamp=T0),
        TimerCreatedEvent(event_id=1, fire_at=T0, timestamp=T0),
        SubOrchestrationInstanceCreatedEvent(event_id=2, name="kid", instance_id="k", timestamp=T0),
        TaskScheduledEvent(event_id=3, name="open", timestamp=T0),
        TimerCreatedEvent(event_id=4, fire_at=T0, timestamp=T0),
        TaskCompletedEvent(task_scheduled_id=0, timestamp=T0),
        TimerFiredEvent(timer_id=1, fire_at=T0, timestamp=T0),
        SubOrchestrationInstanceFailedEvent(task_scheduled_id=2, timestamp=T0),
    ]
    work = open_work(history)
    assert [e.event_id for e in (*work.activities, *work.timers, *work.children)] == [3, 4]
    rows = [to_table_entity(e, instance_key="i", row_key=str(n), execution_id="e") for n, e in enumerate(history)]
    spans = {s.task_id: s.status for s in spans_of(rows)}
    assert spans == {0: "Completed", 1: "Fired", 2: "Failed", 3: "Running", 4: "Waiting"}
