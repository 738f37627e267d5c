"""``dfx durable`` against a real Azurite with no host: what each command leaves in storage, and its errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from dfx.cli.main import app
from dfx.emulator.durable.client import DurableClient
from dfx.emulator.storage import StorageAccount, TaskHub
from dfx.emulator.storage.instances_table import InstanceRecord
from dfx.emulator.storage.keys import partition_index
from dfx.model.history import OrchestrationStatus, utcnow
from tests.cli import assert_one_line_error, invoke, run_dfx, run_main, runner
from tests.conftest import free_port
from tests.integration.test_taskhub import run_instance

pytestmark = pytest.mark.azurite
T = TypeVar("T")


def on_hub(account: StorageAccount, hub_name: str, action: Callable[[TaskHub], Awaitable[T]]) -> T:
    """Run ``action`` on the (created) hub; the CLI runs its own event loop, so the tests are sync."""

    async def go() -> T:
        async with TaskHub(account, hub_name) as hub:
            await hub.create()
            return await action(hub)

    return asyncio.run(go())


def seed(account: StorageAccount, hub_name: str, *ids: str, status=OrchestrationStatus.Completed, created=None) -> None:
    """Finished instances, written as start + one completing episode would write them."""

    async def write(hub: TaskHub) -> None:
        for instance_id in ids:
            await run_instance(hub, instance_id, status=status, created=created)

    on_hub(account, hub_name, write)


def seed_started(account: StorageAccount, hub_name: str, instance_id: str, status=OrchestrationStatus.Pending) -> None:
    """An instance started by a client (ExecutionStarted queued, Pending row), then put in ``status``."""

    async def write(hub: TaskHub) -> None:
        await DurableClient(hub).start("Hello", instance_id, '"in"')
        if status != OrchestrationStatus.Pending:
            await hub.instances.merge(instance_id, {"RuntimeStatus": status.name})

    on_hub(account, hub_name, write)


def record(account: StorageAccount, hub_name: str, instance_id: str) -> InstanceRecord | None:
    return on_hub(account, hub_name, lambda hub: hub.instances.get(instance_id))


def queued(account: StorageAccount, hub_name: str, instance_id: str) -> list[tuple[str, Any]]:
    """(event type, event) of each message on the instance's control queue, peeked without touching them."""

    async def peek(hub: TaskHub) -> list[tuple[str, Any]]:
        messages = await hub.queues.peek(hub.names.control_queue_for(instance_id))
        return [(m.event.event_type.name, m.event) for _, m in messages if m and m.target.instance_id == instance_id]

    return on_hub(account, hub_name, peek)


@pytest.fixture
def fails(monkeypatch, capsys):
    """Run dfx in process and check that it failed with one error line (and an optional hint)."""

    def check(*args: str, fragment: str, hint: str | None = None) -> str:
        code, _, stderr = run_main(monkeypatch, capsys, *args)
        assert_one_line_error(code, stderr, fragment, hint)
        return stderr

    return check


@pytest.fixture
def interactive(monkeypatch):
    """Pretend stdin is a terminal, so that CliRunner's input answers the confirmation."""
    monkeypatch.setattr("dfx.cli.console.stdin_is_interactive", lambda: True)


# -- start-new -----------------------------------------------------------------------------------------


def test_start_new_queues_execution_started_and_writes_a_pending_row_with_no_host(account, hub_name, conn, tmp_path):
    payload = tmp_path / "order.json"
    payload.write_text('{"order": 42, "city": "Zürich"}', encoding="utf-8")
    result = invoke("durable", "start-new", "--function-name", "hello_orchestrator", "--id", "order-42",
                    "--input", f"@{payload}", "--version", "2.0", *conn, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"id": "order-42", "name": "hello_orchestrator", "taskHub": hub_name}
    assert f"Created task hub {hub_name}" in result.stderr and "stays Pending" in result.stderr
    row = record(account, hub_name, "order-42")
    assert row is not None and row.runtime_status == OrchestrationStatus.Pending
    assert row.name == "hello_orchestrator" and row.version == "2.0"
    assert row.input == json.dumps('{"order": 42, "city": "Zürich"}', ensure_ascii=False)  # as the SDK stores it
    [(kind, event)] = queued(account, hub_name, "order-42")
    assert kind == "ExecutionStarted" and event.name == "hello_orchestrator" and event.input == row.input
    assert event.orchestration_instance.execution_id == row.execution_id


def test_start_new_without_an_id_prints_a_new_one(account, hub_name, conn):
    result = invoke("durable", "start-new", "--function-name", "Hello", "--input", "[1, 2]", *conn)
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith("Started 'Hello' with instance id '") and hub_name in line
    instance_id = line.split("'")[3]
    assert len(instance_id) == 32 and record(account, hub_name, instance_id) is not None


def test_start_new_uses_the_partition_count_the_hub_was_created_with(account, hub_name, conn):
    """host.json here says nothing (4 partitions); the hub has 2: the message must reach a queue its hosts read."""
    instance_id = next(f"p{i}" for i in range(100) if partition_index(f"p{i}", 4) >= 2)

    async def start_and_count() -> dict[str, int]:
        async with TaskHub(account, hub_name, partition_count=2) as two:
            await two.create()
            result = await asyncio.to_thread(invoke, "durable", "start-new", "--function-name", "Hello",
                                             "--id", instance_id, *conn)  # fmt: skip
            assert result.exit_code == 0, result.output
            return {q: (await two.queues.depth(q)).count for q in two.names.control_queues}

    depths = asyncio.run(start_and_count())
    assert depths[f"{hub_name.lower()}-control-{partition_index(instance_id, 2):02d}"] == 1


def test_start_new_refuses_an_id_that_is_still_running(account, hub_name, conn, fails):
    seed_started(account, hub_name, "busy", OrchestrationStatus.Running)
    fails("durable", "start-new", "--function-name", "Hello", "--id", "busy", *conn,
          fragment="An Orchestration instance with the status Running already exists.", hint="--id")  # fmt: skip


def test_start_new_refuses_an_invalid_id_with_the_extensions_message_and_creates_nothing(account, hub_name, conn,
                                                                                         fails):  # fmt: skip
    fails("durable", "start-new", "--function-name", "Hello", "--id", "a/b", *conn,
          fragment="Orchestration instance ids must not contain /")  # fmt: skip
    from dfx.emulator.storage import list_task_hubs

    assert hub_name not in asyncio.run(list_task_hubs(account))


def test_bad_json_input_is_a_usage_error_naming_the_option(conn):
    result = runner.invoke(app, ["durable", "start-new", "--function-name", "Hello", "--input", "{oops", *conn])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--input" in result.stderr and "not valid JSON" in result.stderr


# -- messages to one instance --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "event_type", "check"),
    [
        (["raise-event", "--event-name", "Approval", "--event-data", '{"ok": true}'], "EventRaised",
         lambda e: e.name == "Approval" and e.input == '{"ok": true}'),
        (["terminate", "--reason", "enough"], "ExecutionTerminated", lambda e: e.input == "enough"),
        (["suspend", "--reason", "pause"], "ExecutionSuspended", lambda e: e.reason == "pause"),
    ],
    ids=["raise-event", "terminate", "suspend"],
)  # fmt: skip
def test_instance_operations_put_their_event_on_the_control_queue(account, hub_name, conn, args, event_type, check):
    seed_started(account, hub_name, "job", OrchestrationStatus.Running)
    result = invoke("durable", args[0], "job", *args[1:], *conn, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["id"] == "job" and data["operation"] == args[0] and data["taskHub"] == hub_name
    kinds = queued(account, hub_name, "job")
    assert [k for k, _ in kinds] == ["ExecutionStarted", event_type]
    assert check(kinds[1][1])


def test_instance_operations_print_one_confirming_line(account, hub_name, conn):
    seed_started(account, hub_name, "job")
    result = invoke("durable", "raise-event", "--id", "job", "--event-name", "Go", *conn)
    assert result.exit_code == 0 and result.stdout == "Raised event 'Go' on instance 'job'.\n"


def test_resume_sends_execution_resumed_to_a_suspended_instance(account, hub_name, conn, fails):
    seed_started(account, hub_name, "paused", OrchestrationStatus.Suspended)
    assert invoke("durable", "resume", "paused", "--reason", "go on", *conn).exit_code == 0
    assert [k for k, _ in queued(account, hub_name, "paused")] == ["ExecutionStarted", "ExecutionResumed"]
    seed_started(account, hub_name, "running", OrchestrationStatus.Running)
    fails("durable", "resume", "running", *conn, fragment="because instance is in the Running state")


def test_rewind_sets_a_failed_instance_pending_and_wakes_it(account, hub_name, conn):
    seed(account, hub_name, "broken", status=OrchestrationStatus.Failed)
    result = invoke("durable", "rewind", "broken", "--reason", "fixed", *conn)
    assert result.exit_code == 0 and "Rewound instance 'broken'" in result.stdout
    row = record(account, hub_name, "broken")
    assert row is not None and row.runtime_status == OrchestrationStatus.Pending
    [(kind, event)] = queued(account, hub_name, "broken")
    assert kind == "GenericEvent" and event.data == "fixed"


def test_rewind_refuses_a_completed_instance(account, hub_name, conn, fails):
    seed(account, hub_name, "fine")
    fails("durable", "rewind", "fine", *conn, fragment="only supported on failed orchestration instances")
    assert queued(account, hub_name, "fine") == []


def test_restart_starts_the_same_orchestrator_and_input_under_a_new_id_by_default(account, hub_name, conn):
    seed(account, hub_name, "done")
    data = json.loads(invoke("durable", "restart", "done", *conn, "--json").stdout)
    assert data["id"] == "done" and data["operation"] == "restart" and data["newInstanceId"] != "done"
    new = record(account, hub_name, data["newInstanceId"])
    assert new is not None and new.name == "Hello" and new.input == '"in"'
    assert new.runtime_status == OrchestrationStatus.Pending


def test_restart_keep_id_reuses_the_instance_id(account, hub_name, conn):
    seed(account, hub_name, "again")
    result = invoke("durable", "restart", "again", "--keep-id", *conn)
    assert result.stdout.strip() == "Restarted instance 'again' as 'again'."
    row = record(account, hub_name, "again")
    assert row is not None and row.runtime_status == OrchestrationStatus.Pending and row.generation == 1


# -- error paths -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["terminate"], ["suspend"], ["resume"], ["rewind"], ["restart"], ["raise-event", "--event-name", "x"],
     ["purge-history", "--yes"]],
    ids=lambda a: a[0],
)  # fmt: skip
def test_an_unknown_instance_is_one_line_with_a_hint(account, hub_name, conn, fails, args):
    seed(account, hub_name)
    fragment = f"No instance with ID 'nope' found in task hub '{hub_name}'"
    fails("durable", args[0], "nope", *args[1:], *conn, fragment=fragment, hint="dfx inspect instances")


def test_an_operation_on_a_finished_instance_says_it_is_gone(account, hub_name, conn, fails):
    seed(account, hub_name, "over")
    fails("durable", "terminate", "over", *conn, fragment="Instance with ID over is gone")


def test_an_unknown_task_hub_is_one_line_with_a_hint(account, conn, fails):
    fails("durable", "terminate", "x", "--task-hub", "NoSuchHubHere", "--connection", account.connection_string(),
          fragment="Task hub 'NoSuchHubHere' does not exist", hint="dfx taskhub list")  # fmt: skip


def nothing_listening() -> str:
    """A connection string whose endpoints nobody serves (Azurite down)."""
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=eQ==;"
        f"BlobEndpoint=http://127.0.0.1:{free_port()}/a;QueueEndpoint=http://127.0.0.1:{free_port()}/a;"
        f"TableEndpoint=http://127.0.0.1:{free_port()}/a"
    )


def test_azurite_down_is_one_line_with_a_hint(fails):
    fails("durable", "start-new", "--function-name", "Hello", "--connection", nothing_listening(),
          fragment="does not answer", hint="dfx azurite start")  # fmt: skip


def test_bad_event_data_is_a_usage_error_naming_the_option(account, hub_name, conn):
    seed_started(account, hub_name, "job")
    result = runner.invoke(app, ["durable", "raise-event", "job", "--event-name", "x", "--event-data", "yes", *conn])
    assert result.exit_code == 2 and "--event-data" in result.stderr and "a string needs quotes" in result.stderr
    assert [k for k, _ in queued(account, hub_name, "job")] == ["ExecutionStarted"]


# -- purge-history -------------------------------------------------------------------------------------


def test_purge_one_instance_deletes_its_row_and_history(account, hub_name, conn):
    seed(account, hub_name, "old", "keep")
    result = invoke("durable", "purge-history", "old", "--yes", *conn)
    assert result.exit_code == 0 and result.stdout.strip() == "Purged 1 instance."
    assert record(account, hub_name, "old") is None and record(account, hub_name, "keep") is not None
    history = on_hub(account, hub_name, lambda hub: hub.history.read_rows("old"))
    assert history.rows == []


def test_purge_refuses_an_instance_that_is_still_running(account, hub_name, conn, fails):
    seed_started(account, hub_name, "live", OrchestrationStatus.Running)
    fails("durable", "purge-history", "--id", "live", "--yes", *conn,
          fragment="Instance 'live' is Running", hint="dfx durable terminate live")  # fmt: skip
    assert record(account, hub_name, "live") is not None


def test_purge_by_filter_deletes_only_finished_instances_in_the_range(account, hub_name, conn):
    long_ago = utcnow() - timedelta(days=30)
    seed(account, hub_name, "old-1", "old-2", created=long_ago)
    seed(account, hub_name, "old-failed", status=OrchestrationStatus.Failed, created=long_ago)
    seed(account, hub_name, "new")
    seed_started(account, hub_name, "running", OrchestrationStatus.Running)
    before = (utcnow() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    result = invoke("durable", "purge-history", "--created-before", before, "--runtime-status", "completed",
                    "--yes", *conn, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"instancesDeleted": 2}
    assert record(account, hub_name, "old-1") is None and record(account, hub_name, "old-2") is None
    assert all(record(account, hub_name, i) for i in ("old-failed", "new", "running"))
    # every terminal status by default, and never a running instance
    assert json.loads(invoke("durable", "purge-history", "--yes", *conn, "--json").stdout) == {"instancesDeleted": 2}
    assert record(account, hub_name, "running") is not None


def test_purge_by_filter_refuses_a_status_that_is_not_finished(account, hub_name, conn):
    seed(account, hub_name, "x")
    result = runner.invoke(app, ["durable", "purge-history", "--runtime-status", "Completed,Running", "--yes", *conn])
    assert result.exit_code == 2 and "Running instances cannot be purged" in result.stderr
    assert record(account, hub_name, "x") is not None


def test_purge_asks_before_deleting_unless_yes(account, hub_name, conn, interactive):
    seed(account, hub_name, *(f"item-{i:02d}" for i in range(12)))
    refused = invoke("durable", "purge-history", *conn, input="n\n")
    assert refused.exit_code == 1 and "Aborted." in refused.stderr
    assert (
        "To purge from task hub" in refused.stderr
        and "12 instances (" in refused.stderr
        and "item-00" in refused.stderr
    )
    assert "… and 2 more" in refused.stderr and "Purge 12 instances? [y/N]" in refused.stderr
    assert record(account, hub_name, "item-00") is not None
    accepted = invoke("durable", "purge-history", *conn, "--json", input="y\n")
    _echoed, answer = accepted.stdout.split("\n", 1)  # CliRunner echoes the typed answer to stdout
    assert accepted.exit_code == 0 and json.loads(answer) == {"instancesDeleted": 12}
    assert record(account, hub_name, "item-11") is None


def test_purge_of_one_instance_asks_too(account, hub_name, conn, interactive):
    seed(account, hub_name, "one")
    assert invoke("durable", "purge-history", "one", *conn, input="\n").exit_code == 1  # the default is no
    assert record(account, hub_name, "one") is not None


def test_purge_with_nothing_to_delete_says_so_without_asking(account, hub_name, conn):
    seed(account, hub_name)
    result = invoke("durable", "purge-history", *conn)
    assert result.exit_code == 0 and "nothing to purge" in result.stdout


def test_purge_without_yes_and_without_a_terminal_refuses_instead_of_waiting(account, hub_name, conn):
    seed(account, hub_name, "ci-1")
    result = run_dfx("durable", "purge-history", *conn)
    preview, refusal = result.stderr.strip().splitlines()[:2], "\n".join(result.stderr.strip().splitlines()[2:])
    assert preview == [
        f"To purge from task hub {hub_name}: 1 instance (Completed, Terminated, Canceled or Failed):",
        "  ci-1",
    ]
    assert_one_line_error(result.returncode, refusal, "stdin is not a terminal", "--yes")
    assert record(account, hub_name, "ci-1") is not None


@pytest.fixture
def meanwhile(monkeypatch):
    """Run an action while the purge's question is open, then answer yes."""

    def during_the_question(action: Callable[[], object]) -> None:
        def confirm(question: str, *, yes: bool) -> None:
            action()

        monkeypatch.setattr("dfx.cli.durable.confirm_or_exit", confirm)

    return during_the_question


def restart_keep_id(account: StorageAccount, hub_name: str, instance_id: str) -> None:
    on_hub(account, hub_name, lambda hub: DurableClient(hub).start("Hello", instance_id, '"second run"'))


def test_purge_deletes_only_the_instances_it_showed(account, hub_name, conn, meanwhile):
    seed(account, hub_name, "a", "b", "c")
    meanwhile(lambda: seed(account, hub_name, "late-1", "late-2"))  # finished while the user read the list
    result = invoke("durable", "purge-history", *conn, "--json")
    assert result.exit_code == 0, result.output
    assert "To purge from task hub" in result.stderr and "3 instances (" in result.stderr
    assert json.loads(result.stdout) == {"instancesDeleted": 3}
    assert all(record(account, hub_name, i) is None for i in ("a", "b", "c"))
    assert all(record(account, hub_name, i) is not None for i in ("late-1", "late-2"))


def test_purge_skips_an_instance_restarted_after_the_question(account, hub_name, conn, meanwhile):
    seed(account, hub_name, "done", "again")
    meanwhile(lambda: restart_keep_id(account, hub_name, "again"))
    result = invoke("durable", "purge-history", *conn, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"instancesDeleted": 1, "skipped": ["again"]}
    assert "Skipped 1 instance that changed after the listing" in result.stderr and "again" in result.stderr
    row = record(account, hub_name, "again")
    assert row is not None and row.runtime_status == OrchestrationStatus.Pending and row.input == '"second run"'
    assert [kind for kind, _ in queued(account, hub_name, "again")] == ["ExecutionStarted"]


def test_purge_of_one_instance_restarted_after_the_question_is_refused_and_keeps_it(account, hub_name, conn,
                                                                                    meanwhile, fails):  # fmt: skip
    seed(account, hub_name, "single")
    meanwhile(lambda: restart_keep_id(account, hub_name, "single"))
    fails("durable", "purge-history", "single", *conn, fragment="Instance 'single' was not purged: it was started "
          "again after it was checked", hint="dfx inspect status single")  # fmt: skip
    row = record(account, hub_name, "single")
    assert row is not None and row.runtime_status == OrchestrationStatus.Pending


def test_delete_task_hub_removes_the_hub(account, hub_name, conn):
    seed(account, hub_name, "x")
    result = invoke("durable", "delete-task-hub", "--yes", *conn)
    assert result.exit_code == 0 and f"Deleted task hub {hub_name}" in result.stdout
    assert not on_hub_exists(account, hub_name)


def on_hub_exists(account: StorageAccount, hub_name: str) -> bool:
    async def exists() -> bool:
        async with TaskHub(account, hub_name) as hub:
            return await hub.exists()

    return asyncio.run(exists())


def test_every_durable_command_has_help_with_an_example():
    for command in ("start-new", "raise-event", "terminate", "suspend", "resume", "rewind", "restart",
                    "purge-history", "delete-task-hub"):  # fmt: skip
        result = invoke("durable", command, "--help")
        assert result.exit_code == 0 and "Example: dfx durable" in result.output, command
