"""A storage outage under `dfx start`: said once, answered with 503s, and survived.

The test runs its own Azurite with its data on disk, so that it can stop it in the middle of the work and
start it again on the same ports and data folder, as a developer's Azurite that crashed and was restarted.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dfx.emulator.azurite import AzuriteOptions, AzuriteProcess, start_azurite
from tests.conftest import free_port
from tests.e2e.conftest import APPS, HostLauncher, RunningHost, call, eventually

pytestmark = pytest.mark.azurite
DOWN_TEXT = "does not answer"
BACK_TEXT = "Storage answers again"
#: Messages the host held when storage went (taken, not yet deleted or given back) reappear after their
#: visibility timeout, five minutes by default, as with the provider: a few seconds here.
HOST_JSON = {"version": "2.0", "extensions": {"durableTask": {"storageProvider": {
    "controlQueueVisibilityTimeout": "00:00:03", "workItemQueueVisibilityTimeout": "00:00:03"}}}}  # fmt: skip


class DiskAzurite:
    """An Azurite with on-disk persistence that can be stopped and started again on the same ports and data."""

    def __init__(self, root: Path) -> None:
        self.options = AzuriteOptions(
            location=root / "data", blob_port=free_port(), queue_port=free_port(), table_port=free_port()
        )
        self.log_path = root / "azurite.log"
        self.process: AzuriteProcess | None = None

    def start(self) -> None:
        self.process = start_azurite(self.options, log_path=self.log_path, ready_timeout=20)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@pytest.fixture
def disk_azurite(tmp_path: Path) -> Iterator[DiskAzurite]:
    azurite = DiskAzurite(tmp_path / "azurite")
    azurite.start()
    try:
        yield azurite
    finally:
        azurite.stop()


@pytest.fixture
def outage_host(disk_azurite: DiskAzurite, tmp_path: Path) -> Iterator[RunningHost]:
    app = tmp_path / "outage_app"
    shutil.copytree(APPS / "durable_app", app, ignore=shutil.ignore_patterns("__pycache__", ".dfx"))
    (app / "host.json").write_text(json.dumps(HOST_JSON))
    launcher = HostLauncher(disk_azurite.options.account(), tmp_path)
    try:
        host = launcher(app, "--no-watch", "--task-hub", "outage" + uuid.uuid4().hex[:8], copy=False)
        host.wait_for("Task hub")
        yield host
    finally:
        launcher.stop_all()


def status_url(host: RunningHost, instance_id: str) -> str:
    return f"{host.url}/runtime/webhooks/durabletask/instances/{instance_id}"


def start(host: RunningHost, name: str, payload: object = None) -> str:
    body = json.dumps(payload).encode() if payload is not None else None
    answer = call("POST", f"{host.url}/api/start/{name}", body, {"Content-Type": "application/json"})
    assert answer.status == 202, answer.text
    return str(answer.json()["id"])


def runtime_status(host: RunningHost, instance_id: str) -> str | None:
    answer = call("GET", status_url(host, instance_id))
    return answer.json()["runtimeStatus"] if answer.status in (200, 202) else None


def test_an_outage_is_said_once_answered_with_503_and_survived(disk_azurite: DiskAzurite, outage_host: RunningHost):
    host, account = outage_host, disk_azurite.options.account()
    approvals = [start(host, "approval") for _ in range(3)]
    eventually(lambda: all(runtime_status(host, i) == "Running" for i in approvals))
    done_before = start(host, "chain")
    eventually(lambda: runtime_status(host, done_before) == "Completed")
    # Work in flight when storage goes: activities scheduled, replies on their way.
    in_flight = [start(host, "fan_out", 20), start(host, "slow_fan_out", 40), start(host, "chain")]

    went_down = len(host.lines)
    disk_azurite.stop()
    host.wait_for(DOWN_TEXT, timeout=10, after=went_down)
    time.sleep(4)  # every loop meets the outage, several times, meanwhile

    answer = call("GET", status_url(host, approvals[0]))
    assert answer.status == 503, (answer.status, answer.text)
    body = answer.json()
    assert account.table_endpoint in body["Message"] and DOWN_TEXT in body["Message"], body
    assert body.get("Hint"), body
    raised = call("POST", f"{status_url(host, approvals[1])}/raiseEvent/approve", b"true",
                  {"Content-Type": "application/json"})  # fmt: skip
    assert raised.status == 503 and account.table_endpoint in raised.json()["Message"], raised.text  # reads first

    during = host.lines[went_down:]
    said = [line for line in during if DOWN_TEXT in line]
    assert len(said) == 1, "\n".join(during)
    assert any(endpoint in said[0] for endpoint in (account.blob_endpoint, account.queue_endpoint,
                                                    account.table_endpoint)), said[0]  # fmt: skip
    others = [line for line in during if DOWN_TEXT not in line and "'Functions." not in line]
    assert not others, "\n".join(during)  # the warning (and activities finishing), no line per retry

    disk_azurite.start()
    host.wait_for(BACK_TEXT, timeout=15, after=went_down)
    for instance_id in approvals:
        answer = call("POST", f"{status_url(host, instance_id)}/raiseEvent/approve", b"true",
                      {"Content-Type": "application/json"})  # fmt: skip
        assert answer.status == 202, answer.text
    everything = [*approvals, *in_flight, done_before]
    eventually(lambda: all(runtime_status(host, i) == "Completed" for i in everything), timeout=15)
    outputs = {i: call("GET", status_url(host, i)).json()["output"] for i in everything}
    assert [outputs[i] for i in approvals] == [{"approved": True}] * 3
    assert outputs[in_flight[0]] == sum(2 * n for n in range(20))
    assert outputs[in_flight[1]] == sum(2 * n for n in range(40))
    assert "Traceback" not in host.output, host.output
    assert sum(DOWN_TEXT in line for line in host.lines) == 1, host.output
