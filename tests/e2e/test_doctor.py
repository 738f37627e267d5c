"""dfx doctor next to a live ``dfx start``: live partition owners, an instance waiting on a timer, a killed host."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

from typer.testing import CliRunner

from dfx.cli.main import app
from dfx.emulator.storage import StorageAccount, TaskHub
from dfx.emulator.storage.instances_table import checkpoint_columns
from dfx.model.history import (
    ExecutionStartedEvent,
    OrchestrationInstance,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    TaskScheduledEvent,
    utcnow,
)
from tests.e2e.conftest import APPS, HostLauncher, call, eventually
from tests.e2e.test_durable import wait_status

runner = CliRunner()


def doctor(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["doctor", *args, "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.output)


def codes(report: dict) -> dict[str, dict]:
    return {f["code"]: f for f in report["findings"]}


def test_doctor_sees_a_live_host_and_then_the_lease_of_a_killed_one(start_host: HostLauncher, account: StorageAccount):
    hub = "doc" + uuid.uuid4().hex[:12]
    host = start_host(APPS / "durable_app", "--no-watch", "--task-hub", hub)
    host.wait_for("Task hub")
    reply = call("POST", f"{host.url}/api/start/approval/doc-1")
    assert reply.status == 202, reply.text
    wait_status(host, "doc-1", "Running")
    options = ["--task-hub", hub, "--connection", account.connection_string(), "--app-dir", str(host.app_dir)]

    code, report = doctor("doc-1", *options)
    found = codes(report)
    assert code == 0, report
    assert {f["severity"] for f in report["findings"]} == {"info"}, report
    assert f":{host.port}" in found["partitions-owned"]["detail"]
    assert "is waiting for a timer until" in found["timer-waiting"]["title"]

    host.process.kill()  # no clean shutdown: the leases stay with a host that no longer answers
    host.process.wait()
    code, report = doctor("doc-1", *options)
    found = codes(report)
    assert code == 0, report
    assert f"the host on port {host.port} is not answering" in found["owner-not-answering"]["title"]
    assert f"dfx start --port {host.port}" in found["owner-not-answering"]["fix"]
    assert "no host will process it" in found["timer-no-owner"]["detail"]


def seed_stuck(account: StorageAccount, hub: str) -> None:
    """A Pending instance whose start message is gone, and a Running one whose activity work item is gone."""

    async def write() -> None:
        async with TaskHub(account, hub) as taskhub:
            await taskhub.create()
            await taskhub.instances.write_pending(instance_id="lost-start", name="chain", execution_id="e1",
                                                  input=json.dumps('["Tokyo"]'), created_time=utcnow())  # fmt: skip
            execution = OrchestrationInstance("lost-activity", "e2")
            started = ExecutionStartedEvent(
                orchestration_instance=execution, name="chain", input=json.dumps('["Lima"]')
            )
            scheduled = TaskScheduledEvent(event_id=0, name="hello", input='"Lima"')
            events = [OrchestratorStartedEvent(), started, scheduled, OrchestratorCompletedEvent()]
            await taskhub.instances.write_pending(instance_id="lost-activity", name="chain", execution_id="e2",
                                                  input=json.dumps('["Lima"]'), created_time=utcnow())  # fmt: skip
            appended = await taskhub.history.append("lost-activity", "e2", events, start_index=0, etag=None)
            columns = checkpoint_columns(events, execution_id="e2", custom_status=None, task_hub=taskhub.name)
            await taskhub.instances.write_checkpoint("lost-activity", columns, appended.offloaded)

    asyncio.run(write())


def test_doctors_fix_for_a_lost_start_or_a_lost_activity_really_runs_it_again(start_host: HostLauncher,
                                                                               account: StorageAccount):  # fmt: skip
    """Every command the fix names, run as written, brings the stuck instance to Completed under its own id."""
    hub = "doc" + uuid.uuid4().hex[:12]
    seed_stuck(account, hub)
    options = ["--task-hub", hub, "--connection", account.connection_string()]
    app_dir = APPS / "durable_app"
    fixes = {}
    for instance_id, code in (("lost-start", "pending-start-lost"), ("lost-activity", "activity-lost")):
        exit_code, report = doctor(instance_id, *options, "--app-dir", str(app_dir))
        assert exit_code == 1 and code in codes(report), report
        fixes[instance_id] = codes(report)[code]["fix"]
    host = None
    for instance_id, fix in fixes.items():
        for command in re.findall(r"`(dfx [^`]+)`", fix):
            words = command.split()
            if words[:2] == ["dfx", "start"]:
                host = host or start_host(app_dir, "--no-watch", "--task-hub", hub)
            elif words[:3] == ["dfx", "inspect", "status"]:
                wait_for_status(instance_id, "Terminated", options)
            else:
                result = runner.invoke(app, [*words[1:], *options], catch_exceptions=False)
                assert result.exit_code == 0, (command, result.output)
        assert host is not None, fix
        wait_for_status(instance_id, "Completed", options)


def wait_for_status(instance_id: str, wanted: str, options: list[str]) -> None:
    def reached() -> bool:
        result = runner.invoke(app, ["inspect", "status", instance_id, "--json", *options], catch_exceptions=False)
        return bool(json.loads(result.stdout)["runtimeStatus"] == wanted)

    eventually(reached)
