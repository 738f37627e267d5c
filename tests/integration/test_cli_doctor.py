"""dfx doctor against a real Azurite: storage seeded directly, the command run through CliRunner."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest

from dfx.cli.main import app
from dfx.doctor import checkup
from dfx.emulator.durable.client import DurableClient
from dfx.emulator.durable.entities import EntityId
from dfx.emulator.storage import StorageAccount, TaskHub
from dfx.emulator.storage.instances_table import checkpoint_columns
from dfx.emulator.storage.messages import MessageData, TaskMessage
from dfx.model.history import (
    ExecutionStartedEvent,
    OrchestrationInstance,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    TaskCompletedEvent,
    TaskScheduledEvent,
    utcnow,
)
from tests.cli import invoke, runner
from tests.conftest import free_port
from tests.integration.test_taskhub import run_instance

pytestmark = pytest.mark.azurite

HELLO_APP = """
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def hello_orchestrator(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("say_hello", "Tokyo")
    return result


@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}"
"""


@pytest.fixture
def conn(account: StorageAccount, hub_name: str, tmp_path: Path) -> list[str]:
    """Options pointing doctor at the test's hub, with an app folder that holds no app unless a test writes one."""
    return ["--task-hub", hub_name, "--connection", account.connection_string(), "--app-dir", str(tmp_path)]


def doctor(*args: str) -> tuple[int, dict]:
    result = invoke("doctor", *args, "--json")
    return result.exit_code, json.loads(result.output)


def by_code(report: dict, code: str) -> dict:
    found = [f for f in report["findings"] if f["code"] == code]
    assert found, report
    return found[0]


def on_hub(account: StorageAccount, hub_name: str, work) -> None:
    """Create the hub (no host: its Partitions rows have no owner) and run ``work(hub)`` on it."""

    async def go() -> None:
        async with TaskHub(account, hub_name) as hub:
            await hub.create()
            await work(hub)

    asyncio.run(go())


async def running_instance(hub: TaskHub, instance_id: str, activity: str) -> None:
    """A Running instance whose one episode scheduled ``activity``, with its work item on the queue."""
    eid = f"e-{instance_id}"
    execution = OrchestrationInstance(instance_id, eid)
    await hub.instances.write_pending(instance_id=instance_id, name="hello_orchestrator", execution_id=eid,
                                      input=None, created_time=utcnow())  # fmt: skip
    scheduled = TaskScheduledEvent(event_id=0, name=activity, input='"Tokyo"')
    events = [
        OrchestratorStartedEvent(),
        ExecutionStartedEvent(orchestration_instance=execution, name="hello_orchestrator", generation=0),
        scheduled,
        OrchestratorCompletedEvent(),
    ]
    appended = await hub.history.append(instance_id, eid, events, start_index=0, etag=None)
    update = checkpoint_columns(events, execution_id=eid, custom_status=None, task_hub=hub.name)
    await hub.instances.write_checkpoint(instance_id, update, appended.offloaded)
    await hub.queues.send_work_item(MessageData(TaskMessage(scheduled, execution)))


def test_a_healthy_finished_instance_has_no_problems(account, hub_name, conn):
    on_hub(account, hub_name, lambda hub: run_instance(hub, "fine-1"))
    code, report = doctor("fine-1", *conn)
    assert code == 0 and report["taskHub"] == hub_name and report["instanceId"] == "fine-1"
    assert {f["severity"] for f in report["findings"]} == {"info"}
    assert "Completed" in by_code(report, "instance-finished")["title"]
    table = invoke("doctor", "fine-1", *conn)
    assert table.exit_code == 0 and table.output.strip().endswith("no problems found")


def test_a_pending_instance_without_partition_owner_needs_dfx_start(account, hub_name, conn):
    on_hub(account, hub_name, lambda hub: DurableClient(hub).start("hello_orchestrator", "stuck-1", None))
    code, report = doctor("stuck-1", *conn)
    assert code == 1
    pending = by_code(report, "pending-no-owner")
    assert pending["severity"] == "error" and "no host is processing its partition" in pending["title"]
    assert "dfx start" in pending["fix"]
    assert by_code(report, "no-host")["severity"] == "error"
    table = invoke("doctor", "--id", "stuck-1", *conn)
    assert table.exit_code == 1 and "fix: start the app with `dfx start`" in table.output


def test_doctor_does_not_call_an_invisible_reply_lost(account, hub_name, conn):
    """A host ran the activity, then took its TaskCompleted from the control queue and died: hidden, not lost."""

    async def reply_taken_by_a_dead_host(hub: TaskHub) -> None:
        await running_instance(hub, "taken-1", "say_hello")
        [item] = await hub.queues.receive(hub.names.work_item_queue, 1, visibility_timeout=30)
        await hub.queues.delete(item)
        done = TaskCompletedEvent(task_scheduled_id=0, result='"Hello Tokyo"')
        await hub.queues.send_to_instance(MessageData(TaskMessage(done, item.data.target)))
        control = hub.names.control_queue_for("taken-1")
        [reply] = await hub.queues.receive(control, 1, visibility_timeout=300)
        assert reply.event.event_type.name == "TaskCompleted"

    on_hub(account, hub_name, reply_taken_by_a_dead_host)
    code, report = doctor("taken-1", *conn)
    assert code == 0 and "activity-lost" not in [f["code"] for f in report["findings"]], report
    orphaned = by_code(report, "activity-orphaned")
    assert orphaned["severity"] == "warning" and "control-" in orphaned["detail"]
    assert "visibility timeout" in orphaned["detail"] and "dfx start" in orphaned["fix"]


def test_a_message_received_five_times_is_a_poison_message(account, hub_name, conn):
    async def poison(hub: TaskHub) -> None:
        scheduled = TaskScheduledEvent(event_id=0, name="flaky")
        await hub.queues.send_work_item(MessageData(TaskMessage(scheduled, OrchestrationInstance("sick-1", "e1"))))
        for _ in range(5):
            [received] = await hub.queues.receive(hub.names.work_item_queue, 1, visibility_timeout=30)
            await hub.queues.abandon(received, delay=0)

    on_hub(account, hub_name, poison)
    code, report = doctor(*conn)
    finding = by_code(report, "poison-message")
    assert code == 1 and "dequeued 5 times" in finding["title"]
    assert "TaskScheduled 'flaky'" in finding["detail"] and "'sick-1'" in finding["detail"]


def test_an_activity_the_app_does_not_register_is_named_with_a_suggestion(account, hub_name, conn, tmp_path):
    (tmp_path / "function_app.py").write_text(HELLO_APP)
    on_hub(account, hub_name, lambda hub: running_instance(hub, "typo-1", "say_helo"))
    code, report = doctor("typo-1", *conn)
    finding = by_code(report, "name-not-registered")
    assert code == 1
    assert finding["title"] == "activity 'say_helo' is not registered by function_app.py (registered: say_hello)"
    assert "did you mean 'say_hello'?" in finding["fix"]
    assert by_code(report, "activity-no-host")["severity"] == "error"


def test_an_app_that_does_not_import_is_a_finding(account, hub_name, conn, tmp_path):
    (tmp_path / "function_app.py").write_text("import azure.functions as func\nraise RuntimeError('no config')\n")
    on_hub(account, hub_name, lambda hub: asyncio.sleep(0))
    code, report = doctor(*conn)
    finding = by_code(report, "app-load-failed")
    assert code == 1 and "RuntimeError: no config" in finding["title"]


def test_an_app_that_hangs_at_import_is_stopped_and_reported(account, hub_name, conn, tmp_path, monkeypatch):
    monkeypatch.setattr(checkup, "APP_LOAD_TIMEOUT", 1.0)
    (tmp_path / "function_app.py").write_text("import time\ntime.sleep(60)\n")
    on_hub(account, hub_name, lambda hub: asyncio.sleep(0))
    started = time.monotonic()
    code, report = doctor(*conn)
    assert code == 1 and time.monotonic() - started < 10
    assert "did not finish loading within 1 s" in by_code(report, "app-load-failed")["title"]


def test_azurite_down_is_a_finding_quickly_and_without_traceback(tmp_path):
    dead = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=eQ==;"
        f"BlobEndpoint=http://127.0.0.1:{free_port()}/a;QueueEndpoint=http://127.0.0.1:{free_port()}/a;"
        f"TableEndpoint=http://127.0.0.1:{free_port()}/a"
    )
    started = time.monotonic()
    result = invoke("doctor", "--connection", dead, "--app-dir", str(tmp_path))
    assert time.monotonic() - started < 3
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Azurite is not running on 127.0.0.1:" in result.output and "dfx azurite start" in result.output


def test_a_bad_hub_name_is_a_finding_that_lists_the_hubs(account, hub_name, tmp_path):
    on_hub(account, hub_name, lambda hub: asyncio.sleep(0))
    code, report = doctor("--task-hub", "bad-hub", "--connection", account.connection_string(),
                          "--app-dir", str(tmp_path))  # fmt: skip
    finding = by_code(report, "hub-name-invalid")
    assert code == 1 and "--task-hub badhub" in finding["fix"] and hub_name in finding["detail"]


def test_a_bad_hub_name_in_host_json_suggests_the_setting(account, tmp_path):
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0",
                                                    "extensions": {"durableTask": {"hubName": "my_hub"}}}))  # fmt: skip
    code, report = doctor("--connection", account.connection_string(), "--app-dir", str(tmp_path))
    finding = by_code(report, "hub-name-invalid")
    assert code == 1 and report["taskHub"] == "my_hub"
    assert 'extensions.durableTask.hubName in host.json to a valid name, e.g. "myhub"' in finding["fix"]


def test_a_broken_host_json_is_a_finding_with_its_position(tmp_path):
    text = '{\n  "version": "2.0",\n}\n'
    (tmp_path / "host.json").write_text(text)
    with pytest.raises(json.JSONDecodeError) as parsed:  # 3.13 points at the trailing comma, 3.10-3.12 after it
        json.loads(text)
    code, report = doctor("--app-dir", str(tmp_path))
    finding = by_code(report, "config-invalid")
    assert code == 1 and f"host.json:{parsed.value.lineno}:{parsed.value.colno}" in finding["detail"]


def test_a_missing_hub_lists_the_hubs_that_exist(account, hub_name, tmp_path):
    on_hub(account, hub_name, lambda hub: asyncio.sleep(0))
    code, report = doctor("--task-hub", "NoSuchHubHere", "--connection", account.connection_string(),
                          "--app-dir", str(tmp_path))  # fmt: skip
    finding = by_code(report, "hub-not-found")
    assert code == 1 and hub_name in finding["detail"] and "dfx start" in finding["fix"]


def test_an_unknown_instance_lists_similar_ids(account, hub_name, conn):
    on_hub(account, hub_name, lambda hub: run_instance(hub, "order-42"))
    code, report = doctor("order-4", *conn)
    finding = by_code(report, "instance-not-found")
    assert code == 1 and "order-42" in finding["detail"]


def test_a_lease_held_by_a_local_host_that_does_not_answer_names_its_port(account, hub_name, conn):
    port = free_port()

    async def abandoned_lease(hub: TaskHub) -> None:
        for lease in await hub.partitions.read_all():
            lease.current_owner = f"{socket.gethostname()}:{port}"
            lease.expires_at = utcnow() + timedelta(seconds=45)
            assert await hub.partitions.replace(lease)

    on_hub(account, hub_name, abandoned_lease)
    code, report = doctor(*conn)
    finding = by_code(report, "owner-not-answering")
    assert code == 0 and f"the host on port {port} is not answering" in finding["title"]
    assert "expires at" in finding["detail"]


def test_help_names_the_exit_status_and_an_example():
    result = runner.invoke(app, ["doctor", "--help"])
    assert result.exit_code == 0 and "Example: dfx doctor" in result.output and "Exit status" in result.output


def test_a_signalled_entity_that_never_ran_has_not_started(account, hub_name, conn):
    on_hub(account, hub_name, lambda hub: DurableClient(hub).signal_entity(EntityId("counter", "k1"), "add", "1"))
    code, report = doctor("@counter@k1", *conn)
    finding = by_code(report, "not-started")
    assert code == 1 and "EventRaised 'op'" in finding["detail"] and "dfx start" in finding["fix"]
