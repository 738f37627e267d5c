"""Durable correctness when hosts die, partitions move and starts race (issue 20's fault scenarios).

Every scenario runs real ``dfx start`` processes on one task hub against the suite's Azurite, with leases and
visibility timeouts of seconds (tests/e2e/apps/faults_app/host.json), so a dead host's partitions and hidden
messages come back within moments instead of minutes.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dfx.emulator import failpoints
from dfx.emulator.durable.entities import request_json
from dfx.emulator.durable.leases import worker_id
from dfx.emulator.durable.sorter import request_label
from dfx.emulator.storage import StorageAccount, TaskHub
from dfx.emulator.storage.messages import MessageData, TaskMessage
from dfx.model.history import (
    EventRaisedEvent,
    ExecutionStartedEvent,
    OrchestrationInstance,
    TaskScheduledEvent,
    utcnow,
)
from tests.conftest import free_port
from tests.e2e.conftest import APPS, HostLauncher, RunningHost, call, copy_app, eventually

pytestmark = pytest.mark.azurite
API = "runtime/webhooks/durabletask"


def status(host: RunningHost, instance_id: str) -> dict[str, Any]:
    return call("GET", f"{host.url}/{API}/instances/{instance_id}").json()


def wait_all(host: RunningHost, ids: list[str], timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    """Every instance's status once none is Pending or Running any more (fails after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        states = {i: status(host, i) for i in ids}
        waiting = [i for i, s in states.items() if s["runtimeStatus"] in ("Pending", "Running")]
        if not waiting:
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(waiting)} of {len(ids)} still waiting, e.g. {states[waiting[0]]}:\n"
                                 f"{host.output[-4000:]}")  # fmt: skip
        time.sleep(0.2)


def read_hub(account: StorageAccount, hub: str, work):
    async def run():
        async with TaskHub(account, hub) as taskhub:
            return await work(taskhub)

    return asyncio.run(run())


def owners(account: StorageAccount, hub: str) -> set[str | None]:
    async def work(taskhub: TaskHub):
        return {lease.current_owner for lease in await taskhub.partitions.read_all()}

    return read_hub(account, hub, work)


def start_pair(tmp_path: Path, start_host: HostLauncher) -> tuple[RunningHost, RunningHost, str]:
    """Host A, which owns every partition, then host B on the same hub, which owns none."""
    app = copy_app(APPS / "faults_app", tmp_path / "faults_app")
    hub = "faults" + uuid.uuid4().hex[:10]
    first = start_host(app, "--no-watch", "--task-hub", hub, copy=False)
    first.wait_for("Task hub")
    second = start_host(app, "--no-watch", "--task-hub", hub, copy=False)
    second.wait_for("Task hub")
    return first, second, hub


def test_instances_started_through_another_host_finish_after_their_host_dies(
    start_host: HostLauncher, tmp_path: Path, account: StorageAccount
):
    a, b, hub = start_pair(tmp_path, start_host)
    assert owners(account, hub) == {worker_id(a.port)}  # B started last and owns nothing
    ids = [f"takeover-{n}" for n in range(20)]
    for instance_id in ids:
        assert call("POST", f"{b.url}/api/start/approval/{instance_id}", b'"world"').status == 202
    eventually(lambda: all(status(b, i)["customStatus"] == "waiting" for i in ids), timeout=30)

    a.process.kill()  # SIGKILL: no release, no cleanup; B must take the partitions over when the leases expire
    a.process.wait()
    for instance_id in ids:
        raised = call("POST", f"{b.url}/{API}/instances/{instance_id}/raiseEvent/approve", b'"yes"',
                      {"Content-Type": "application/json"})  # fmt: skip
        assert raised.status == 202

    states = wait_all(b, ids)
    assert {s["runtimeStatus"] for s in states.values()} == {"Completed"}
    assert {s["output"] for s in states.values()} == {"hello hello world / yes"}
    assert owners(account, hub) == {worker_id(b.port)}


def test_two_concurrent_starts_of_one_id_start_it_once(
    start_host: HostLauncher, tmp_path: Path, account: StorageAccount
):
    a, b, hub = start_pair(tmp_path, start_host)
    ids = [f"twice-{n}" for n in range(30)]

    def start(host: RunningHost, instance_id: str):
        return call("POST", f"{host.url}/{API}/orchestrators/approval/{instance_id}", json.dumps('"twin"').encode(),
                    {"Content-Type": "application/json"})  # fmt: skip

    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda job: start(*job), [(h, i) for i in ids for h in (a, b)]))
    for n, instance_id in enumerate(ids):
        pair = replies[2 * n : 2 * n + 2]
        assert sorted(r.status for r in pair) == [202, 500], (instance_id, [r.text for r in pair])
        refused = next(r for r in pair if r.status == 500)
        assert "An Orchestration instance with the status" in refused.text and "already exists" in refused.text

    eventually(lambda: all(status(a, i)["customStatus"] == "waiting" for i in ids), timeout=30)
    for instance_id in ids:
        call("POST", f"{a.url}/{API}/instances/{instance_id}/raiseEvent/approve", b'"ok"',
             {"Content-Type": "application/json"})  # fmt: skip
    states = wait_all(a, ids)
    assert {s["runtimeStatus"] for s in states.values()} == {"Completed"}

    async def histories(taskhub: TaskHub):
        return {i: (await taskhub.history.read(i)).events for i in ids}

    for instance_id, events in read_hub(account, hub, histories).items():
        starts = [e for e in events if isinstance(e, ExecutionStartedEvent)]
        scheduled = [e.event_id for e in events if isinstance(e, TaskScheduledEvent)]
        assert len(starts) == 1 and scheduled == [0, 1], (instance_id, events)


def test_an_entity_applies_each_operation_once_and_in_order_when_its_host_is_killed_again_and_again(
    start_host: HostLauncher, tmp_path: Path, account: StorageAccount
):
    app = copy_app(APPS / "faults_app", tmp_path / "faults_app")
    hub, port = "crash" + uuid.uuid4().hex[:10], free_port()
    rounds, per_round = 4, 12
    rng = random.Random(20)
    host = start_host(app, "--no-watch", "--task-hub", hub, copy=False, port=port)
    keys: list[str] = []
    ids: list[str] = []
    for round_no in range(rounds):
        host.wait_for("Task hub")
        batch = [f"r{round_no}-{n}" for n in range(per_round)]
        for key in batch:
            ids.append(call("POST", f"{host.url}/api/start/add_add_get", json.dumps(key).encode()).json()["id"])
        keys += batch
        time.sleep(rng.uniform(0.05, 0.6))  # somewhere between the sends and the commits of these episodes
        host.process.kill()
        host.process.wait()
        host = start_host(app, "--no-watch", "--task-hub", hub, copy=False, port=port)
    host.wait_for("Task hub")
    states = wait_all(host, ids, timeout=90)
    assert [s["output"] for s in states.values()] == [7] * len(ids), host.output[-4000:]
    for key in keys:
        assert call("GET", f"{host.url}/{API}/entities/counter/{key}").json() == 7, key


def test_an_episode_run_again_after_its_host_died_between_sends_and_checkpoint_applies_each_operation_once(
    start_host: HostLauncher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    app = copy_app(APPS / "faults_app", tmp_path / "faults_app")
    hub, port = "lost" + uuid.uuid4().hex[:10], free_port()
    monkeypatch.setenv(failpoints.ENV, "episode.after-send=exit")  # dies after the requests went out, before the commit
    doomed = start_host(app, "--no-watch", "--task-hub", hub, copy=False, port=port)
    doomed.wait_for("Task hub")
    instance_id = call("POST", f"{doomed.url}/api/start/add_add_get", b'"lost-commit"').json()["id"]
    assert doomed.process.wait(timeout=20) == failpoints.EXIT_CODE
    monkeypatch.delenv(failpoints.ENV)

    host = start_host(app, "--no-watch", "--task-hub", hub, copy=False, port=port)
    host.wait_for("Task hub")
    done = wait_all(host, [instance_id])[instance_id]
    assert (done["runtimeStatus"], done["output"]) == ("Completed", 7), host.output[-3000:]
    assert call("GET", f"{host.url}/{API}/entities/counter/lost-commit").json() == 7


def test_an_entity_applies_an_orchestrations_requests_in_send_order_and_each_once(
    start_host: HostLauncher, tmp_path: Path, account: StorageAccount
):
    """As when a host that took the first request dies with it hidden: the later ones arrive first."""
    host = start_host(copy_app(APPS / "faults_app", tmp_path / "faults_app"), "--no-watch", "--task-hub",
                      hub := "order" + uuid.uuid4().hex[:10], copy=False)  # fmt: skip
    host.wait_for("Task hub")
    journal = OrchestrationInstance("@journal@k")
    sender = OrchestrationInstance("some-orchestration", "e1")
    labels = [request_label(n) for n in range(3)]

    def request(n: int) -> MessageData:
        text = request_json("append", input_text=json.dumps(json.dumps(n + 1)), signal=True,
                            request_id=str(uuid.uuid4()), parent=sender.instance_id,
                            parent_execution=sender.execution_id, timestamp=labels[n],
                            predecessor=labels[n - 1] if n else None,
                            predecessor_sent=utcnow() if n else None)  # fmt: skip
        return MessageData(TaskMessage(EventRaisedEvent(name="op", input=text), journal), sender=sender)

    def put(*numbers: int) -> None:
        async def work(taskhub: TaskHub):
            for n in numbers:
                await taskhub.queues.send_to_instance(request(n))

        read_hub(account, hub, work)

    def state() -> Any:
        reply = call("GET", f"{host.url}/{API}/entities/journal/k")
        return reply.json() if reply.status == 200 else None

    put(2, 1, 2)  # the third and second requests (the third twice) before the first
    time.sleep(2)
    assert state() is None  # both wait for their predecessor; nothing was applied
    put(0)
    assert eventually(state) == [1, 2, 3]
    put(0, 1)  # late duplicates
    time.sleep(2)
    assert state() == [1, 2, 3]


def test_an_event_raised_right_after_a_restart_through_another_host_reaches_the_new_execution(
    start_host: HostLauncher, tmp_path: Path
):
    a, b, _ = start_pair(tmp_path, start_host)
    event = {"Content-Type": "application/json"}
    for run, host in enumerate((a, b, b)):  # the first run on the owner, then restarts of the completed id via B
        assert call("POST", f"{host.url}/api/start/approval/again", json.dumps(f"run{run}").encode()).status == 202
        raised = call("POST", f"{host.url}/{API}/instances/again/raiseEvent/approve", b'"go"', event)
        assert raised.status == 202, raised.text
        done = wait_all(a, ["again"], timeout=30)["again"]
        assert (done["runtimeStatus"], done["output"]) == ("Completed", f"hello hello run{run} / go"), b.output[-3000:]
