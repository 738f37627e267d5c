"""The dfx inspect views against a real Azurite: history (streamed, followed), status, tree, timeline, queues,
instances; each in table and --json form. Instances are written straight to storage, as the engine writes them."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from dfx.cli.console import settings_for
from dfx.cli.inspect.history import _Follower
from dfx.cli.main import app
from dfx.emulator.durable.activities import failure_details
from dfx.emulator.durable.entities import SchedulerState
from dfx.emulator.storage import StorageAccount, TaskHub
from dfx.emulator.storage.instances_table import checkpoint_columns
from dfx.emulator.storage.messages import MessageData, TaskMessage
from dfx.model.history import (
    EventRaisedEvent,
    ExecutionCompletedEvent,
    ExecutionStartedEvent,
    HistoryEvent,
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
    utcnow,
)
from tests.cli import invoke, one_line_error, run_dfx, run_main, runner

pytestmark = pytest.mark.azurite


class Instance:
    """One instance written straight to storage, checkpoint by checkpoint, as the engine would write it."""

    def __init__(self, hub: TaskHub, instance_id: str, name: str = "Hello", created: datetime | None = None) -> None:
        self.hub = hub
        self.instance_id = instance_id
        self.name = name
        self.created = created or utcnow()
        self.execution_id = f"e-{instance_id}"
        self.written = 0
        self.etag: str | None = None

    def started(self, input_: str | None = '"in"', parent: ParentInstance | None = None) -> list[HistoryEvent]:
        return [
            OrchestratorStartedEvent(timestamp=self.created),
            ExecutionStartedEvent(
                orchestration_instance=OrchestrationInstance(self.instance_id, self.execution_id),
                parent_instance=parent,
                name=self.name,
                input=input_,
                timestamp=self.created,
            ),
        ]

    async def begin(self, input_: str | None = '"in"') -> None:
        await self.hub.instances.write_pending(
            instance_id=self.instance_id, name=self.name, execution_id=self.execution_id, input=input_,
            created_time=self.created,
        )  # fmt: skip

    async def checkpoint(self, events: list[HistoryEvent]) -> None:
        appended = await self.hub.history.append(
            self.instance_id, self.execution_id, events, start_index=self.written, etag=self.etag
        )
        self.etag, self.written = appended.etag, self.written + len(events)
        columns = checkpoint_columns(events, execution_id=self.execution_id, custom_status=None, task_hub=self.hub.name)
        await self.hub.instances.write_checkpoint(self.instance_id, columns, appended.offloaded)

    async def continue_as_new(self, execution_id: str, events: list[HistoryEvent]) -> None:
        """The next execution: its rows written over the old ones from row 0."""
        self.execution_id, self.written = execution_id, 0
        await self.checkpoint(events)


def at(t0: datetime, seconds: float) -> datetime:
    return t0 + timedelta(seconds=seconds)


def hub_run(account: StorageAccount, hub_name: str, write) -> Any:
    """Run ``write(hub)`` against a created hub, on an event loop of its own (the CLI runs its own)."""

    async def go() -> Any:
        async with TaskHub(account, hub_name) as hub:
            await hub.create()
            return await write(hub)

    return asyncio.run(go())


def finish(process: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str]:
    """The rest of a process's stdout and stderr once it exits, killed after ``timeout`` seconds.

    Read through the pipes' file objects: ``communicate`` reads the raw descriptors and would lose what an
    earlier ``readline`` left in the buffer.
    """
    guard = threading.Timer(timeout, process.kill)
    guard.start()
    try:
        assert process.stdout is not None and process.stderr is not None
        output = process.stdout.read()
        errors = process.stderr.read()
        process.wait()
    finally:
        guard.cancel()
    return output, errors


def explode() -> str:
    """The Details JSON of a failed activity, with a real Python traceback."""
    try:
        raise ValueError("boom")
    except ValueError as exc:
        return failure_details(exc)


ACTIVITY_FAILURE = "Activity function 'explode' failed:  ValueError: boom"


async def failed_family(hub: TaskHub) -> None:
    """A parent whose two sub-orchestrations ran: "family-a" completed, "family-b" failed in an activity."""
    t0 = utcnow() - timedelta(seconds=10)
    parent = Instance(hub, "family", "parent", created=t0)
    await parent.begin()
    await parent.checkpoint([
        *parent.started(),
        SubOrchestrationInstanceCreatedEvent(event_id=0, name="child", instance_id="family-a", timestamp=at(t0, 0.1)),
        SubOrchestrationInstanceCreatedEvent(event_id=1, name="child", instance_id="family-b", timestamp=at(t0, 0.1)),
        OrchestratorCompletedEvent(timestamp=at(t0, 0.1)),
    ])  # fmt: skip
    for index, child_id in enumerate(("family-a", "family-b")):
        link = ParentInstance("parent", OrchestrationInstance("family", parent.execution_id), index)
        child = Instance(hub, child_id, "child", created=at(t0, 0.2))
        await child.begin()
        scheduled = TaskScheduledEvent(event_id=0, name="explode" if index else "hello", timestamp=at(t0, 0.3))
        if index == 0:
            answer: HistoryEvent = TaskCompletedEvent(task_scheduled_id=0, result='"ok"', timestamp=at(t0, 1.0))
            end = ExecutionCompletedEvent(event_id=1, result='"ok"', timestamp=at(t0, 1.1))
        else:
            answer = TaskFailedEvent(
                task_scheduled_id=0, reason=ACTIVITY_FAILURE, details=explode(), timestamp=at(t0, 2)
            )
            end = ExecutionCompletedEvent(
                event_id=1, orchestration_status=OrchestrationStatus.Failed,
                result=f"Orchestrator function 'child' failed: {ACTIVITY_FAILURE}", timestamp=at(t0, 2.1),
            )  # fmt: skip
        await child.checkpoint([*child.started(parent=link), scheduled, OrchestratorCompletedEvent()])
        await child.checkpoint([OrchestratorStartedEvent(), answer, end, OrchestratorCompletedEvent()])
    child_failure = f"Orchestrator function 'child' failed: {ACTIVITY_FAILURE}"
    await parent.checkpoint([
        OrchestratorStartedEvent(timestamp=at(t0, 2.2)),
        SubOrchestrationInstanceCompletedEvent(task_scheduled_id=0, result='"ok"', timestamp=at(t0, 1.2)),
        SubOrchestrationInstanceFailedEvent(
            task_scheduled_id=1, reason=child_failure, details=f"Message: {child_failure}, StackTrace: ",
            timestamp=at(t0, 2.2),
        ),
        ExecutionCompletedEvent(
            event_id=2, orchestration_status=OrchestrationStatus.Failed,
            result=f"Orchestrator function 'parent' failed: {child_failure}", timestamp=at(t0, 2.3),
        ),
        OrchestratorCompletedEvent(timestamp=at(t0, 2.3)),
    ])  # fmt: skip


# -- history ---------------------------------------------------------------------------------------


def test_history_json_of_1000_events_is_one_valid_array_in_row_key_order(account, hub_name, conn):
    async def write(hub: TaskHub) -> None:
        instance = Instance(hub, "long")
        await instance.begin()
        t0 = utcnow()
        scheduled = [TaskScheduledEvent(event_id=i, name="noop", timestamp=t0) for i in range(996)]
        await instance.checkpoint([*instance.started(), *scheduled, OrchestratorCompletedEvent()])
        await instance.checkpoint([ExecutionCompletedEvent(event_id=996, result='"done"')])

    hub_run(account, hub_name, write)
    result = invoke("inspect", "history", "long", *conn, "--json")
    rows = json.loads(result.output)
    assert len(rows) == 1000 and [r["RowKey"] for r in rows] == [f"{i:016X}" for i in range(1000)]
    assert rows[-1]["EventType"] == "ExecutionCompleted" and rows[0]["_Timestamp"].endswith("Z")
    table = invoke("inspect", "history", "long", *conn)
    assert table.exit_code == 0 and table.output.count("TaskScheduled") == 996


def test_follow_prints_new_rows_as_they_arrive_and_stops_when_the_instance_completes(account, hub_name, conn):
    async def first(hub: TaskHub) -> Instance:
        instance = Instance(hub, "live")
        await instance.begin()
        await instance.checkpoint([*instance.started(), TaskScheduledEvent(event_id=0, name="one"),
                                   OrchestratorCompletedEvent()])  # fmt: skip
        return instance

    instance = hub_run(account, hub_name, first)
    outcome: dict[str, Any] = {}
    follower = threading.Thread(
        target=lambda: outcome.update(result=invoke("inspect", "history", "live", *conn, "-f", "--interval", "0.1")),
        daemon=True,
    )
    follower.start()
    time.sleep(1.0)

    async def more(hub: TaskHub) -> None:
        instance.hub = hub
        await instance.checkpoint([
            OrchestratorStartedEvent(), TaskCompletedEvent(task_scheduled_id=0, result='"1"'),
            TaskScheduledEvent(event_id=1, name="two"), OrchestratorCompletedEvent(),
        ])  # fmt: skip
        await asyncio.sleep(0.5)
        await instance.checkpoint([
            OrchestratorStartedEvent(), TaskCompletedEvent(task_scheduled_id=1, result='"2"'),
            ExecutionCompletedEvent(event_id=2, result='"done"'), OrchestratorCompletedEvent(),
        ])  # fmt: skip

    hub_run(account, hub_name, more)
    follower.join(timeout=30)
    assert not follower.is_alive(), "--follow did not stop when the instance completed"
    result = outcome["result"]
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    numbers = [int(line.split("│")[1]) for line in lines if line.startswith("│")]
    assert numbers == list(range(12)), "every row once, in RowKey order"
    assert "sentinel" not in result.output and "instance live is Completed" in result.output
    assert lines.index(next(line for line in lines if "TaskScheduled" in line and "two" in line)) > 0


def test_follow_with_json_writes_ndjson_and_follows_a_continue_as_new(account, hub_name, conn):
    async def first(hub: TaskHub) -> Instance:
        instance = Instance(hub, "loop")
        await instance.begin()
        await instance.checkpoint([*instance.started(), TimerCreatedEvent(event_id=0, fire_at=utcnow()),
                                   OrchestratorCompletedEvent()])  # fmt: skip
        return instance

    instance = hub_run(account, hub_name, first)
    process = subprocess.Popen(
        [sys.executable, "-m", "dfx", "inspect", "history", "loop", *conn, "--follow", "--json", "--interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert json.loads(first_line)["EventType"] == "OrchestratorStarted"

        async def next_execution(hub: TaskHub) -> None:
            instance.hub = hub
            second = Instance(hub, "loop")
            second.execution_id = "e-second"
            await instance.continue_as_new("e-second", [
                *second.started('"again"'), ExecutionCompletedEvent(event_id=0, result='"done"'),
                OrchestratorCompletedEvent(),
            ])  # fmt: skip

        hub_run(account, hub_name, next_execution)
        rest, errors = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    rows = [json.loads(first_line), *(json.loads(line) for line in rest.splitlines())]
    assert [(r["ExecutionId"], r["EventType"]) for r in rows] == [
        ("e-loop", "OrchestratorStarted"), ("e-loop", "ExecutionStarted"), ("e-loop", "TimerCreated"),
        ("e-loop", "OrchestratorCompleted"), ("e-second", "OrchestratorStarted"), ("e-second", "ExecutionStarted"),
        ("e-second", "ExecutionCompleted"), ("e-second", "OrchestratorCompleted"),
    ]  # fmt: skip
    assert process.returncode == 0
    assert "continued as new: now following execution e-second" in errors and "is Completed" in errors


def test_follow_prints_the_last_rows_of_an_execution_that_continued_as_new(account, hub_name, tmp_path, capsys):
    settings = settings_for(tmp_path, hub_name, account.connection_string())

    async def follow(hub: TaskHub) -> None:
        instance = Instance(hub, "cycle")
        await instance.begin()
        await instance.checkpoint([*instance.started(), TaskScheduledEvent(event_id=0, name="step"),
                                   OrchestratorCompletedEvent()])  # fmt: skip
        follower = _Follower(settings, "cycle", full=False, json_output=True)
        assert await follower.poll(hub) is None
        # Between two polls: one more episode of this execution, then the next execution from row 0.
        await instance.checkpoint([
            OrchestratorStartedEvent(), TaskCompletedEvent(task_scheduled_id=0, result='"1"'),
            TaskScheduledEvent(event_id=1, name="step"), OrchestratorCompletedEvent(),
        ])  # fmt: skip
        second = Instance(hub, "cycle")
        second.execution_id = "e-next"
        await instance.continue_as_new("e-next", [*second.started('"again"'), OrchestratorCompletedEvent()])
        assert await follower.poll(hub) is None

    capsys.readouterr()
    hub_run(account, hub_name, follow)
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["ExecutionId"], int(r["RowKey"], 16), r["EventType"]) for r in rows] == [
        ("e-cycle", 0, "OrchestratorStarted"), ("e-cycle", 1, "ExecutionStarted"), ("e-cycle", 2, "TaskScheduled"),
        ("e-cycle", 3, "OrchestratorCompleted"), ("e-cycle", 4, "OrchestratorStarted"), ("e-cycle", 5, "TaskCompleted"),
        ("e-cycle", 6, "TaskScheduled"), ("e-cycle", 7, "OrchestratorCompleted"),
        ("e-next", 0, "OrchestratorStarted"), ("e-next", 1, "ExecutionStarted"), ("e-next", 2, "OrchestratorCompleted"),
    ]  # fmt: skip


def test_ctrl_c_stops_following_with_exit_code_0_and_no_traceback(account, hub_name, conn):
    async def running(hub: TaskHub) -> None:
        instance = Instance(hub, "forever")
        await instance.begin()
        await instance.checkpoint([*instance.started(), OrchestratorCompletedEvent()])

    hub_run(account, hub_name, running)
    process = subprocess.Popen(
        [sys.executable, "-m", "dfx", "inspect", "history", "forever", *conn, "-f", "--interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        while "OrchestratorCompleted" not in process.stdout.readline():
            pass
        process.send_signal(signal.SIGINT)
        output, errors = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors and "stopped following" in output and output.rstrip().count("└") == 1


def test_an_execution_that_is_not_the_current_one_is_a_one_line_error(account, hub_name, conn):
    async def write(hub: TaskHub) -> None:
        instance = Instance(hub, "one")
        await instance.begin()
        await instance.checkpoint([*instance.started(), OrchestratorCompletedEvent()])

    hub_run(account, hub_name, write)
    one_line_error(run_dfx("inspect", "history", "one", *conn, "--execution", "old"), "has no history rows")


# -- status ----------------------------------------------------------------------------------------


def test_status_of_a_failed_instance_shows_the_error_type_message_and_stack(account, hub_name, conn):
    hub_run(account, hub_name, failed_family)
    table = invoke("inspect", "status", "family-b", *conn)
    assert table.exit_code == 0, table.output
    for text in ("Failed", "child", "Error type", "ValueError", "boom", "Stack trace", "Traceback",
                 'raise ValueError("boom")', "failed activity explode (task 0)"):  # fmt: skip
        assert text in table.output, text
    data = json.loads(invoke("inspect", "status", "family-b", *conn, "--json").output)
    failure = data["failureDetails"]
    assert failure["errorType"] == "ValueError" and "boom" in failure["message"]
    assert 'raise ValueError("boom")' in failure["stackTrace"]
    assert failure["failedTasks"][0]["name"] == "explode" and failure["failedTasks"][0]["kind"] == "activity"
    parent = json.loads(invoke("inspect", "status", "--id", "family", *conn, "--json").output)["failureDetails"]
    assert parent["errorType"] == "ValueError", "the cause is found through the failed sub-orchestration's text"
    assert parent["failedTasks"][0]["kind"] == "sub-orchestration"
    assert parent["failedTasks"][0]["instanceId"] == "family-b"


def test_status_json_is_the_management_api_status_with_the_rows_other_columns(
    account, hub_name, conn, monkeypatch, capsys
):
    hub_run(account, hub_name, failed_family)
    data = json.loads(invoke("inspect", "status", "family-a", *conn, "--json", "--show-history").output)
    assert {"name", "instanceId", "runtimeStatus", "input", "customStatus", "output", "createdTime",
            "lastUpdatedTime"} <= set(data)  # fmt: skip
    assert data["runtimeStatus"] == "Completed" and data["output"] == "ok" and data["input"] == "in"
    assert data["executionId"] == "e-family-a" and data["completedTime"].endswith("Z")
    assert [e["EventType"] for e in data["historyEvents"]] == ["ExecutionStarted", "TaskCompleted",
                                                               "ExecutionCompleted"]  # fmt: skip
    assert "failureDetails" not in data
    hidden = json.loads(invoke("inspect", "status", "family-a", *conn, "--json", "--no-show-input",
                               "--no-show-output").output)  # fmt: skip
    assert hidden["input"] is None and hidden["output"] is None
    spelled = ["--id", "family-a", *conn, "--show-input", "false", "--show-output", "true", "--json"]  # Core Tools'
    code, output, _ = run_main(monkeypatch, capsys, "durable", "get-runtime-status", *spelled)
    core_tools = json.loads(output)
    assert code == 0 and core_tools["input"] is None and core_tools["output"] == "ok"
    table = invoke("inspect", "status", "family-a", *conn, "--show-history")
    assert "Completed" in table.output and "familyHistory" not in table.output
    assert f"{hub_name}History · family-a" in table.output and "TaskCompleted" in table.output


def test_status_of_an_entity_shows_its_state(account, hub_name, conn):
    async def write(hub: TaskHub) -> None:
        state = SchedulerState(exists=True, state="42").to_json()
        await hub.instances.write_pending(
            instance_id="@counter@k1", name="@counter@k1", execution_id="e1", input=state, created_time=utcnow()
        )

    hub_run(account, hub_name, write)
    data = json.loads(invoke("inspect", "status", "@counter@k1", *conn, "--json").output)
    assert data["entity"] == {"name": "counter", "key": "k1", "exists": True, "state": 42, "queueSize": 0,
                              "lockedBy": None}  # fmt: skip
    table = invoke("inspect", "status", "@counter@k1", *conn)
    assert "counter / key k1" in table.output and "42" in table.output


def test_ids_keys_and_states_with_brackets_print_as_written(account, hub_name, conn):
    async def write(hub: TaskHub) -> None:
        state = SchedulerState(exists=True, state='{"p": "[/etc]"}').to_json()
        await hub.instances.write_pending(
            instance_id="@box@[bold]k", name="@box@[bold]k", execution_id="e1", input=state, created_time=utcnow()
        )
        await hub.instances.write_pending(
            instance_id="[red]new", name="Hello", execution_id="e2", input=None, created_time=utcnow()
        )

    hub_run(account, hub_name, write)
    entities = runner.invoke(app, ["inspect", "entities", *conn], env={"COLUMNS": "200"}, catch_exceptions=False)
    assert entities.exit_code == 0, entities.output
    assert "[bold]k" in entities.output and '{"p": "[/etc]"}' in entities.output
    timeline = invoke("inspect", "timeline", "[red]new", *conn)
    assert timeline.exit_code == 0 and "[red]new has no history yet" in timeline.output


@pytest.mark.parametrize("view", ["status", "tree", "timeline"])
def test_an_unknown_instance_is_a_one_line_error_with_a_hint(account, hub_name, conn, view):
    hub_run(account, hub_name, lambda hub: asyncio.sleep(0))
    result = run_dfx("inspect", view, "nope", *conn)
    one_line_error(result, "No instance with ID 'nope'")
    assert "hint: List the instances with 'dfx inspect instances'" in result.stderr


# -- tree ------------------------------------------------------------------------------------------


def test_tree_shows_the_sub_orchestrations_with_their_own_statuses(account, hub_name, conn):
    hub_run(account, hub_name, failed_family)
    data = json.loads(invoke("inspect", "tree", "family", *conn, "--json").output)
    assert (data["instanceId"], data["runtimeStatus"]) == ("family", "Failed")
    assert [(c["instanceId"], c["name"], c["runtimeStatus"]) for c in data["children"]] == [
        ("family-a", "child", "Completed"), ("family-b", "child", "Failed")
    ]  # fmt: skip
    assert all(c["children"] == [] and c["durationMs"] is not None for c in data["children"])
    table = invoke("inspect", "tree", "family", *conn)
    lines = table.output.splitlines()
    assert lines[0].startswith("parent  family  Failed")
    assert any("family-a" in line and "Completed" in line for line in lines[1:])
    assert any("family-b" in line and "Failed" in line and ("└" in line or "├" in line) for line in lines[1:])


def test_tree_stops_at_a_cycle(account, hub_name, conn):
    async def write(hub: TaskHub) -> None:
        for me, other in (("ping", "pong"), ("pong", "ping")):
            instance = Instance(hub, me)
            await instance.begin()
            created = SubOrchestrationInstanceCreatedEvent(event_id=0, name="x", instance_id=other)
            await instance.checkpoint([*instance.started(), created, OrchestratorCompletedEvent()])

    hub_run(account, hub_name, write)
    data = json.loads(invoke("inspect", "tree", "ping", *conn, "--json").output)
    [pong] = data["children"]
    [again] = pong["children"]
    assert again["instanceId"] == "ping" and "cycle" in again["note"] and again["children"] == []


# -- timeline --------------------------------------------------------------------------------------


async def timed_instance(hub: TaskHub) -> datetime:
    """Completed: activity a (0.5-2.5 s), a timer (2.5-5 s), an event at 5.5 s, activity b failing (5.5-6 s)."""
    t0 = utcnow() - timedelta(minutes=1)
    instance = Instance(hub, "timed", "timed", created=t0)
    await instance.begin()
    fire = at(t0, 5)
    await instance.checkpoint([
        *instance.started(), TaskScheduledEvent(event_id=0, name="a", timestamp=at(t0, 0.5)),
        OrchestratorCompletedEvent(timestamp=at(t0, 0.5)),
        OrchestratorStartedEvent(timestamp=at(t0, 2.5)),
        TaskCompletedEvent(task_scheduled_id=0, result='"A"', timestamp=at(t0, 2.5)),
        TimerCreatedEvent(event_id=1, fire_at=fire, timestamp=at(t0, 2.5)),
        OrchestratorCompletedEvent(timestamp=at(t0, 2.5)),
        OrchestratorStartedEvent(timestamp=at(t0, 5)), TimerFiredEvent(timer_id=1, fire_at=fire, timestamp=at(t0, 5)),
        EventRaisedEvent(name="approve", input="true", timestamp=at(t0, 5.5)),
        TaskScheduledEvent(event_id=2, name="b", timestamp=at(t0, 5.5)),
        TaskFailedEvent(task_scheduled_id=2, reason="nope", timestamp=at(t0, 6)),
        ExecutionCompletedEvent(event_id=3, result='"done"', timestamp=at(t0, 6)),
        OrchestratorCompletedEvent(timestamp=at(t0, 6)),
    ])  # fmt: skip
    return t0


def test_timeline_json_lists_the_spans_on_the_executions_time_axis(account, hub_name, conn):
    hub_run(account, hub_name, timed_instance)
    data = json.loads(invoke("inspect", "timeline", "timed", *conn, "--json").output)
    assert data["running"] is False and data["runtimeStatus"] == "Completed"
    assert [(s["kind"], s["name"], s["status"], s["durationMs"]) for s in data["spans"]] == [
        ("activity", "a", "Completed", 2000), ("timer", "timer", "Fired", 2500), ("event", "approve", "Raised", 0),
        ("activity", "b", "Failed", 500),
    ]  # fmt: skip
    start = datetime.fromisoformat(data["start"].replace("Z", "+00:00"))
    assert (datetime.fromisoformat(data["end"].replace("Z", "+00:00")) - start).total_seconds() == 6


def test_timeline_draws_one_bar_per_span_on_a_common_scale(account, hub_name, conn):
    hub_run(account, hub_name, timed_instance)
    result = invoke("inspect", "timeline", "timed", *conn, "--width", "60")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[2].strip(): line.split("│")[6] for line in result.output.splitlines()
            if line.startswith("│")}  # fmt: skip
    bars = {name: (len(bar) - len(bar.lstrip()) - 1, bar.strip()) for name, bar in rows.items()}
    assert bars["a"] == (5, "█" * 20), "0.5 s to 2.5 s of a 6 s axis on 60 columns"
    assert bars["b"] == (55, "█" * 5)
    assert bars["approve"][1] == "◆"
    assert "6.0 s" in result.output


def test_a_running_instance_has_its_open_spans_drawn_to_now(account, hub_name, conn):
    async def write(hub: TaskHub) -> None:
        instance = Instance(hub, "busy", created=utcnow() - timedelta(seconds=4))
        await instance.begin()
        scheduled = TaskScheduledEvent(event_id=0, name="slow", timestamp=instance.created)
        await instance.checkpoint([*instance.started(), scheduled, OrchestratorCompletedEvent()])

    hub_run(account, hub_name, write)
    data = json.loads(invoke("inspect", "timeline", "busy", *conn, "--json").output)
    [span] = data["spans"]
    assert data["running"] is True and span["status"] == "Running" and span["end"] is None
    assert span["durationMs"] >= 4000
    table = invoke("inspect", "timeline", "busy", *conn, "--width", "30")
    assert "▶" in table.output and "so far" in table.output and "(now)" in table.output


# -- queues ----------------------------------------------------------------------------------------


def message(event: HistoryEvent, instance_id: str) -> MessageData:
    return MessageData(TaskMessage(event, OrchestrationInstance(instance_id, "e1")))


def test_queues_peek_decodes_the_messages_and_leaves_their_visibility_alone(account, hub_name, conn):
    async def write(hub: TaskHub) -> str:
        await hub.queues.send_to_instance(
            message(ExecutionStartedEvent(orchestration_instance=OrchestrationInstance("q1", "e1"), name="Hello"), "q1")
        )
        await hub.queues.send_work_item(message(TaskScheduledEvent(event_id=0, name="hello", input="1"), "q1"))
        large = json.dumps("x" * 60_000)
        await hub.queues.send_work_item(message(TaskScheduledEvent(event_id=1, name="big", input=large), "q2"))
        return hub.names.control_queue_for("q1")

    control = hub_run(account, hub_name, write)
    data = json.loads(invoke("inspect", "queues", *conn, "--json").output)
    queues = {q["name"]: q for q in data["queues"]}
    assert len(queues) == 5 and queues[f"{hub_name.lower()}-workitems"]["kind"] == "work items"
    [started] = queues[control]["messages"]
    assert (started["eventType"], started["instanceId"], started["dequeueCount"]) == ("ExecutionStarted", "q1", 0)
    assert started["detail"] == "Hello" and started["ageSeconds"] >= 0
    work = queues[f"{hub_name.lower()}-workitems"]
    assert work["approximateMessageCount"] == 2 and work["peeked"] == 2
    assert [(m["eventType"], m["detail"], m["largeMessageBlob"]) for m in work["messages"]] == [
        ("TaskScheduled", "hello", False), ("TaskScheduled", "big", True)
    ]  # fmt: skip

    async def receive(hub: TaskHub) -> int:
        [received] = await hub.queues.receive(control)
        return received.dequeue_count

    assert hub_run(account, hub_name, receive) == 1, "peeking did not count as a dequeue"
    table = invoke("inspect", "queues", *conn)
    assert table.exit_code == 0 and "ExecutionStarted" not in table.output, "a received message is hidden"
    assert "TaskScheduled (blob)" in table.output and f"{hub_name.lower()}-control-00" in table.output


def test_queues_flag_high_dequeue_counts(account, hub_name, conn):
    async def write(hub: TaskHub) -> None:
        queue = hub.names.control_queue(0)
        await hub.queues.send(queue, message(EventRaisedEvent(name="poison"), "q1"))
        for _ in range(5):
            [received] = await hub.queues.receive(queue)
            await hub.queues.abandon(received, delay=0)

    hub_run(account, hub_name, write)
    data = json.loads(invoke("inspect", "queues", *conn, "--json", "--peek", "1").output)
    assert data["queues"][0]["maxDequeueCount"] == 5
    assert "Dequeue counts of 5 or more" in invoke("inspect", "queues", *conn).output


# -- instances -------------------------------------------------------------------------------------


def test_instances_filter_by_name_and_sort_over_every_page(account, hub_name, conn):
    async def write(hub: TaskHub) -> None:
        t0 = utcnow() - timedelta(hours=1)
        for index, (instance_id, name) in enumerate([("c", "Hello"), ("a", "HelloAgain"), ("b", "Other")]):
            instance = Instance(hub, instance_id, name, created=at(t0, index * 60))
            await instance.begin()

    hub_run(account, hub_name, write)

    def ids(*args: str) -> list[str]:
        return [i["instanceId"] for i in json.loads(invoke("inspect", "instances", *conn, "--json", *args).output)
                ["instances"]]  # fmt: skip

    assert ids("--name", "Hello") == ["c"]
    assert ids("--name", "Hello*") == ["a", "c"]
    assert ids("--sort", "created") == ["b", "a", "c"], "newest first"
    assert ids("--sort", "created", "--asc", "--top", "2") == ["c", "a"], "sorted over every page, then the top"
    assert ids("--sort", "name") == ["c", "a", "b"]
    assert ids("--sort", "name", "--desc") == ["b", "a", "c"]
    refused = runner.invoke(app, ["inspect", "instances", *conn, "--sort", "name", "--continuation-token", "x"])
    assert refused.exit_code == 2 and "no continuation" in refused.output
