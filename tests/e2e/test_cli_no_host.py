"""The no-host story end to end: ``dfx durable`` starts and signals instances with no host, then a host runs them."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from dfx.cli.main import app
from dfx.emulator.storage import StorageAccount
from tests.e2e.conftest import APPS, HostLauncher, call, eventually
from tests.e2e.test_durable import wait_done

pytestmark = pytest.mark.azurite
runner = CliRunner()


def dfx(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_instances_started_and_signalled_without_a_host_run_when_one_starts(
    account: StorageAccount, start_host: HostLauncher
):
    hub = "nohost" + uuid.uuid4().hex[:10]
    conn = ["--task-hub", hub, "--connection", account.connection_string()]
    dfx("durable", "start-new", "--function-name", "chain", "--id", "c1", "--input", '["Oslo", "Rome"]', *conn)
    dfx("durable", "start-new", "--function-name", "approval", "--id", "a1", *conn)
    dfx("durable", "raise-event", "a1", "--event-name", "approve", "--event-data", '"yes"', *conn)
    pending = json.loads(dfx("inspect", "instances", *conn, "--json"))["instances"]
    assert {(i["instanceId"], i["runtimeStatus"]) for i in pending} == {("c1", "Pending"), ("a1", "Pending")}

    host = start_host(APPS / "durable_app", "--no-watch", "--task-hub", hub)
    assert wait_done(host, "c1")["output"] == ["Hello Oslo!", "Hello Rome!"]
    assert wait_done(host, "a1")["output"] == {"approved": "yes"}

    info = json.loads(dfx("taskhub", "info", *conn, "--json"))
    assert all(p["owner"] and not p["expired"] for p in info["partitions"]), info["partitions"]
    assert info["instances"]["byRuntimeStatus"] == {"Completed": 2}
    assert json.loads(dfx("durable", "purge-history", "--yes", *conn, "--json")) == {"instancesDeleted": 2}


def test_a_running_host_polls_a_queue_at_once_when_the_cli_nudges_it(account: StorageAccount, start_host: HostLauncher):
    hub = "nudge" + uuid.uuid4().hex[:10]
    host = start_host(APPS / "durable_app", "--no-watch", "--task-hub", hub)
    owned = f"{hub.lower()}-control-00"
    assert eventually(lambda: call("POST", f"{host.url}/admin/dfx/wake?queue={owned}").status == 202)
    assert call("POST", f"{host.url}/admin/dfx/wake?queue=someone-elses-queue").status == 404
    assert call("GET", f"{host.url}/admin/dfx/wake?queue={owned}").status == 404

    conn = ["--task-hub", hub, "--connection", account.connection_string()]
    dfx("durable", "start-new", "--function-name", "approval", "--id", "a2", *conn)
    dfx("durable", "raise-event", "a2", "--event-name", "approve", "--event-data", '"yes"', *conn)
    assert wait_done(host, "a2")["output"] == {"approved": "yes"}
