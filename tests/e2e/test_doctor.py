"""dfx doctor next to a live ``dfx start``: live partition owners, an instance waiting on a timer, a killed host."""

from __future__ import annotations

import json
import uuid

from typer.testing import CliRunner

from dfx.cli.main import app
from dfx.emulator.storage import StorageAccount
from tests.e2e.conftest import APPS, HostLauncher, call
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
