"""Sample values for tests: one populated instance of every history event type."""

from __future__ import annotations

from datetime import datetime, timezone

from dfx.model.history import (
    EVENT_CLASSES,
    ContinueAsNewEvent,
    EventRaisedEvent,
    EventSentEvent,
    EventType,
    ExecutionCompletedEvent,
    ExecutionResumedEvent,
    ExecutionRewoundEvent,
    ExecutionStartedEvent,
    ExecutionSuspendedEvent,
    ExecutionTerminatedEvent,
    FailureDetails,
    GenericEvent,
    HistoryEvent,
    HistoryStateEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    ParentInstance,
    SubOrchestrationInstanceCompletedEvent,
    SubOrchestrationInstanceCreatedEvent,
    SubOrchestrationInstanceFailedEvent,
    TaskCompletedEvent,
    TaskFailedEvent,
    TaskScheduledEvent,
    TimerCreatedEvent,
    TimerFiredEvent,
)

T0 = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
FIRE = datetime(2024, 5, 1, 10, 5, 0, tzinfo=timezone.utc)
FAILURE = FailureDetails("ValueError", "boom", "Traceback ...", FailureDetails("KeyError", "'x'"))


def sample_events() -> list[HistoryEvent]:
    """One event of every type, with every member set to something other than its default."""
    parent = ParentInstance("parent_orch", OrchestrationInstance("p1", "pe1"), 4, "")
    events: list[HistoryEvent] = [
        ExecutionStartedEvent(
            orchestration_instance=OrchestrationInstance("abc", "e1"),
            parent_instance=parent,
            name="hello_orchestrator",
            input='"\\"Seattle\\""',
            tags={"owner": "me"},
            correlation="corr",
            parent_trace_context={"TraceParent": "00-abc-def-01", "TraceState": None},
            scheduled_start_time=FIRE,
            generation=2,
            generate_new_trace=True,
            is_played=True,
            timestamp=T0,
        ),
        ExecutionCompletedEvent(
            event_id=3,
            orchestration_status=OrchestrationStatus.Failed,
            result='"x"',
            failure_details=FAILURE,
            timestamp=T0,
        ),
        ExecutionTerminatedEvent(input="stop it", is_played=True, timestamp=T0),
        TaskScheduledEvent(event_id=0, name="hello", version="", input='"Tokyo"', tags={"a": "b"}, timestamp=T0),
        TaskCompletedEvent(task_scheduled_id=0, result='"Hello Tokyo"', is_played=True, timestamp=T0),
        TaskFailedEvent(
            task_scheduled_id=1, reason="Activity failed", details="{}", failure_details=FAILURE, timestamp=T0
        ),
        SubOrchestrationInstanceCreatedEvent(
            event_id=4,
            name="child",
            instance_id="e1:4",
            input='{"x":1}',
            client_span_id="span",
            tags={},
            timestamp=T0,
        ),
        SubOrchestrationInstanceCompletedEvent(task_scheduled_id=4, result='{"y":2}', timestamp=T0),
        SubOrchestrationInstanceFailedEvent(task_scheduled_id=4, reason="r", details="d", timestamp=T0),
        TimerCreatedEvent(event_id=5, fire_at=FIRE, timestamp=T0),
        TimerFiredEvent(timer_id=5, fire_at=FIRE, timestamp=T0),
        OrchestratorStartedEvent(timestamp=T0),
        OrchestratorCompletedEvent(timestamp=T0),
        EventSentEvent(event_id=6, instance_id="@counter@k1", name="op", input='{"op":"add"}', timestamp=T0),
        EventRaisedEvent(name="approve", input='"true"', parent_trace_context=None, timestamp=T0),
        ContinueAsNewEvent(event_id=7, result='{"n":1}', timestamp=T0),
        GenericEvent(data="rewound", timestamp=T0),
        HistoryStateEvent(state={"OrchestrationStatus": 0, "Name": "x"}, timestamp=T0),
        ExecutionSuspendedEvent(reason="pause", timestamp=T0),
        ExecutionResumedEvent(reason="go", timestamp=T0),
        ExecutionRewoundEvent(reason="again", parent_execution_id="pe", instance_id="abc", timestamp=T0),
    ]
    assert {e.event_type for e in events} == set(EVENT_CLASSES), "every event type has a sample"
    assert EventType.ExecutionFailed not in EVENT_CLASSES
    return events
