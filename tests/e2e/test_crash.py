"""A host killed with SIGKILL in the middle of a fan-out loses nothing: a restart finishes the orchestration."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from pathlib import Path

import pytest
from azure.data.tables.aio import TableClient

from tests.conftest import free_port
from tests.e2e.conftest import APPS, HostLauncher, call

pytestmark = pytest.mark.azurite
FAN_OUT = 200
#: Short visibility timeouts so that messages held by the killed host reappear within seconds, not minutes.
HOST_JSON = {"version": "2.0", "extensions": {"durableTask": {"storageProvider": {
    "controlQueueVisibilityTimeout": "00:00:03", "workItemQueueVisibilityTimeout": "00:00:03"}}}}  # fmt: skip


def scheduled_ids(account, hub: str, instance_id: str) -> list[int]:
    async def read() -> list[int]:
        async with TableClient.from_connection_string(account.connection_string(), f"{hub}History") as table:
            query = f"PartitionKey eq '{instance_id}' and EventType eq 'TaskScheduled'"
            return [e["EventId"] async for e in table.query_entities(query)]

    return asyncio.run(read())


def test_kill_9_in_the_middle_of_a_fan_out_then_restart_completes_exactly(start_host: HostLauncher, tmp_path: Path,
                                                                           account):  # fmt: skip
    app = tmp_path / "crash_app"
    shutil.copytree(APPS / "durable_app", app, ignore=shutil.ignore_patterns("__pycache__", ".dfx"))
    (app / "host.json").write_text(json.dumps(HOST_JSON))
    hub, port = "crash" + uuid.uuid4().hex[:10], free_port()
    first = start_host(app, "--no-watch", "--task-hub", hub, copy=False, port=port)
    first.wait_for("Task hub")
    body = json.dumps(FAN_OUT).encode()
    instance_id = call("POST", f"{first.url}/api/start/slow_fan_out", body).json()["id"]
    deadline = time.monotonic() + 30
    while first.output.count("Executed 'Functions.slow_double'") < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.process.kill()  # SIGKILL: no cleanup at all
    first.process.wait()
    executed_before = first.output.count("Executed 'Functions.slow_double'")
    assert 40 <= executed_before < FAN_OUT

    second = start_host(app, "--no-watch", "--task-hub", hub, copy=False, port=port)
    second.wait_for("Task hub")
    url = f"{second.url}/runtime/webhooks/durabletask/instances/{instance_id}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = call("GET", url).json()
        if status["runtimeStatus"] not in ("Running", "Pending"):
            break
        time.sleep(0.1)
    assert status["runtimeStatus"] == "Completed", second.output[-3000:]
    assert status["output"] == sum(n * 2 for n in range(FAN_OUT))
    ids = scheduled_ids(account, hub, instance_id)
    assert sorted(ids) == list(range(FAN_OUT))  # every TaskScheduled EventId exactly once
