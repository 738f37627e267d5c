"""Episodes as a pure function, driven through the real azure.durable_functions replay engine."""

from __future__ import annotations

import json
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

from dfx.emulator.durable.orchestration import EpisodeResult, run_episode
from dfx.emulator.worker.functions import index_function
from dfx.model.history import (
    EventRaisedEvent,
    ExecutionCompletedEvent,
    ExecutionStartedEvent,
    ExecutionTerminatedEvent,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    SubOrchestrationInstanceCreatedEvent,
    TaskCompletedEvent,
    TaskFailedEvent,
    TaskScheduledEvent,
    TimerCreatedEvent,
    TimerFiredEvent,
    utcnow,
)

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def cities(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("hello", "Tokyo")
    second = yield context.call_activity("hello", "London")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def retried(context: df.DurableOrchestrationContext):
    return (yield context.call_activity_with_retry("flaky", df.RetryOptions(1000, 2), None))


@app.orchestration_trigger(context_name="context")
def renamed(context: df.DurableOrchestrationContext):
    yield context.call_activity("other", None)


@app.orchestration_trigger(context_name="context")
def child_and_timer(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=5))
    return (yield context.call_sub_orchestrator("cities", "x"))


@app.orchestration_trigger(context_name="context")
def add_add_get(context: df.DurableOrchestrationContext):
    yield context.call_activity("hello", "first")
    counter = df.EntityId("counter", "k")
    context.signal_entity(counter, "add", 2)
    context.signal_entity(counter, "add", 5)
    total = yield context.call_entity(counter, "get")
    child = yield context.call_sub_orchestrator("cities", "x")
    return [total, child]


@app.orchestration_trigger(context_name="context")
def long_child(context: df.DurableOrchestrationContext):
    yield context.call_sub_orchestrator("cities", None, "c" * 300)


FUNCTIONS = {f.name: f for f in map(index_function, app.get_functions())}


class Instance:
    """Stored history of one instance, advanced episode by episode like the dispatcher does."""

    def __init__(self, name: str, input_text: str | None = '"\\"in\\""') -> None:
        self.id = "i1"
        self.history: list[HistoryEvent] = []
        self.started = ExecutionStartedEvent(
            orchestration_instance=OrchestrationInstance(self.id, "e1"), name=name, input=input_text, generation=0
        )
        self.function = FUNCTIONS[name]

    def episode(self, *events: HistoryEvent) -> EpisodeResult:
        result = run_episode(
            self.history, list(events), instance_id=self.id, invoke=self.function.callable, now=utcnow()
        )
        self.history += result.appended
        return result


def types(events):
    return [type(e).__name__.removesuffix("Event") for e in events]


def test_a_chain_schedules_one_activity_per_episode_and_completes_with_the_output():
    instance = Instance("cities")
    first = instance.episode(instance.started)
    assert types(first.appended) == [
        "OrchestratorStarted",
        "ExecutionStarted",
        "TaskScheduled",
        "OrchestratorCompleted",
    ]
    work = first.outbound[0]
    assert work.work_item and work.event.name == "hello" and work.event.input == '"Tokyo"' and work.event.event_id == 0
    assert first.appended[2].input is None  # inputs are not stored in history
    second = instance.episode(TaskCompletedEvent(task_scheduled_id=0, result='"Hello Tokyo"'))
    assert second.outbound[0].event.event_id == 1 and second.status == OrchestrationStatus.Running
    third = instance.episode(TaskCompletedEvent(task_scheduled_id=1, result='"Hello London"'))
    completed = third.appended[-2]
    assert isinstance(completed, ExecutionCompletedEvent) and completed.event_id == 2
    assert json.loads(completed.result) == ["Hello Tokyo", "Hello London"]
    assert third.status == OrchestrationStatus.Completed and isinstance(third.appended[-1], OrchestratorCompletedEvent)
    assert all(e.is_played for e in instance.history if isinstance(e, (TaskCompletedEvent, ExecutionStartedEvent)))


def test_retry_creates_a_timer_after_each_failure_and_an_extra_final_timer():
    instance = Instance("retried")
    instance.episode(instance.started)
    failed = instance.episode(TaskFailedEvent(task_scheduled_id=0, reason="boom", details="d"))
    timer = next(e for e in failed.appended if isinstance(e, TimerCreatedEvent))
    assert timer.event_id == 1 and (timer.fire_at - failed.appended[0].timestamp) == timedelta(seconds=1)
    again = instance.episode(TimerFiredEvent(timer_id=1, fire_at=timer.fire_at))
    assert [e.event_id for e in again.appended if isinstance(e, TaskScheduledEvent)] == [2]
    last = instance.episode(TaskFailedEvent(task_scheduled_id=2, reason="boom", details="d"))
    final_timer = next(e for e in last.appended if isinstance(e, TimerCreatedEvent))
    assert final_timer.event_id == 3 and final_timer.fire_at == last.appended[0].timestamp
    done = instance.episode(TimerFiredEvent(timer_id=3, fire_at=final_timer.fire_at))
    assert done.status == OrchestrationStatus.Failed
    assert done.appended[-2].result.startswith("Orchestrator function 'retried' failed: boom")


def test_a_changed_activity_name_is_reported_as_non_determinism():
    instance = Instance("renamed")
    instance.history = [
        OrchestratorStartedEvent(),
        instance.started,
        TaskScheduledEvent(event_id=0, name="original"),
        OrchestratorCompletedEvent(),
    ]
    result = instance.episode(TaskCompletedEvent(task_scheduled_id=0, result="null"))
    assert result.status == OrchestrationStatus.Failed
    assert result.appended[-2].result.startswith(
        "Non-Deterministic workflow detected: A previous execution of this orchestration scheduled an activity "
        "task with sequence number 0 named 'original', but the current orchestration replay instead scheduled "
        "an activity task named 'other'"
    )


def test_timers_and_sub_orchestrations_get_sequence_ids_and_messages():
    instance = Instance("child_and_timer")
    first = instance.episode(instance.started)
    timer = next(e for e in first.appended if isinstance(e, TimerCreatedEvent))
    fired = first.outbound[0]
    assert timer.event_id == 0 and fired.visible_at == timer.fire_at and isinstance(fired.event, TimerFiredEvent)
    second = instance.episode(TimerFiredEvent(timer_id=0, fire_at=timer.fire_at))
    created = next(e for e in second.appended if isinstance(e, SubOrchestrationInstanceCreatedEvent))
    start = second.outbound[0].event
    assert created.event_id == 1 and created.instance_id == "e1:1"
    assert isinstance(start, ExecutionStartedEvent) and start.input == '"\\"x\\""'
    assert (
        start.parent_instance.task_schedule_id == 1 and start.parent_instance.orchestration_instance.instance_id == "i1"
    )


def test_terminate_completes_without_running_user_code():
    instance = Instance("cities")
    instance.episode(instance.started)
    result = instance.episode(ExecutionTerminatedEvent(input="stop"))
    assert not result.ran_orchestrator and result.status == OrchestrationStatus.Terminated
    assert result.appended[-2].orchestration_status == OrchestrationStatus.Terminated


def test_continue_as_new_carries_events_no_wait_consumed():
    from dfx.emulator.durable.actions import Action, ActionType
    from dfx.emulator.durable.orchestration import unconsumed_events

    history = [EventRaisedEvent(name="a", input="1"), EventRaisedEvent(name="a", input="2"),
               EventRaisedEvent(name="b", input="3")]  # fmt: skip
    waits = [Action(ActionType.WhenAny, children=(Action(ActionType.WaitForExternalEvent, name="a"),))]
    assert [(e.name, e.input) for e in unconsumed_events(history, waits)] == [("a", "2"), ("b", "3")]


def test_an_episode_run_again_after_a_lost_commit_sends_the_same_requests_and_child_ids():
    instance = Instance("add_add_get")
    instance.episode(instance.started)
    committed = list(instance.history)

    def rerun() -> EpisodeResult:
        instance.history = list(committed)
        return instance.episode(TaskCompletedEvent(task_scheduled_id=0, result='"done"'))

    first, second = rerun(), rerun()

    def identity(result: EpisodeResult) -> list[tuple[str, str, str | None]]:
        bodies = [json.loads(o.event.input) for o in result.outbound]
        return [(b["id"], b["Timestamp"], b.get("Predecessor")) for b in bodies]

    assert len(first.outbound) == 3 and identity(first) == identity(second)
    bodies = [json.loads(o.event.input) for o in second.outbound]
    assert [b["op"] for b in bodies] == ["add", "add", "get"]
    assert bodies[0]["Timestamp"] < bodies[1]["Timestamp"] < bodies[2]["Timestamp"]
    assert "Predecessor" not in bodies[0]
    assert [b.get("Predecessor") for b in bodies[1:]] == [bodies[0]["Timestamp"], bodies[1]["Timestamp"]]
    sent = [e for e in second.appended if e.event_type.name == "EventSent"]
    assert [json.loads(e.input)["id"] for e in sent] == [b["id"] for b in bodies]  # the SDK matches on these ids

    answered = instance.episode(EventRaisedEvent(name=bodies[2]["id"], input='{"result":"7"}'))
    child_start = answered.outbound[0].event
    assert isinstance(child_start, ExecutionStartedEvent)
    instance.history = instance.history[: -len(answered.appended)]
    again = instance.episode(EventRaisedEvent(name=bodies[2]["id"], input='{"result":"7"}'))
    assert again.outbound[0].event.orchestration_instance == child_start.orchestration_instance


def test_a_child_id_longer_than_instance_ids_may_be_fails_the_orchestration_instead_of_looping():
    instance = Instance("long_child")
    result = instance.episode(instance.started)
    assert result.status == OrchestrationStatus.Failed and not result.outbound
    assert "Instance ID lengths must not exceed 256 characters." in result.appended[-2].result


def test_an_episode_changes_none_of_its_inputs_and_takes_its_ids_from_new_id():
    import copy
    import dataclasses
    import uuid

    instance = Instance("child_and_timer")
    first = instance.episode(instance.started)
    assert not instance.started.is_played, "the message's event stays as it came"
    assert first.appended[1] == dataclasses.replace(instance.started, is_played=True)
    timer = next(e for e in first.appended if isinstance(e, TimerCreatedEvent))
    fired = TimerFiredEvent(timer_id=0, fire_at=timer.fire_at)
    past = list(instance.history)
    before = copy.deepcopy(past)
    asked: list[tuple[object, ...]] = []

    def new_id(owner: OrchestrationInstance, *parts: object) -> uuid.UUID:
        asked.append((owner.instance_id, owner.execution_id, *parts))
        return uuid.UUID(int=7)

    invoke = instance.function.callable
    result = run_episode(past, [fired], instance_id="i1", invoke=invoke, now=utcnow(), new_id=new_id)
    start = result.outbound[0].event
    assert isinstance(start, ExecutionStartedEvent)
    assert start.orchestration_instance.execution_id == uuid.UUID(int=7).hex
    assert asked == [("i1", "e1", 1, "child")]
    assert past == before and not fired.is_played
