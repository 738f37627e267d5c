"""Durable entities through `dfx start`: signals, calls, reads, deletes, ordering, errors, stored rows."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import SAMPLES, HostLauncher, RunningHost, call, eventually

pytestmark = pytest.mark.azurite
HUB = "ent" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def host(module_hosts: HostLauncher) -> RunningHost:
    running = module_hosts(SAMPLES / "counter_entity", "--no-watch", "--task-hub", HUB)
    running.wait_for("Task hub")
    return running


def entity_url(host: RunningHost, name: str, key: str, query: str = "") -> str:
    return f"{host.url}/runtime/webhooks/durabletask/entities/{name}/{key}{query}"


def finish(host: RunningHost, check: dict[str, Any]) -> dict[str, Any]:
    return eventually(
        lambda: (d := call("GET", check["statusQueryGetUri"]).json())["runtimeStatus"] in ("Completed", "Failed") and d
    )


def test_sdk_client_signals_and_reads_state(host: RunningHost):
    for amount in (5, 7):
        assert call("POST", f"{host.url}/api/counter/c1/add", json.dumps(amount).encode()).status == 202
    assert eventually(lambda: call("GET", f"{host.url}/api/counter/c1").text == "12")
    assert call("GET", f"{host.url}/api/counter/never").status == 404


def test_an_orchestration_signals_and_calls_an_entity(host: RunningHost):
    check = call("POST", f"{host.url}/api/orchestrators/count_twice", b'"orch-1"').json()
    assert finish(host, check)["output"] == 2


def test_an_operation_that_raises_reaches_its_caller_and_keeps_other_changes(host: RunningHost):
    check = call("POST", f"{host.url}/api/orchestrators/call_failing").json()
    done = finish(host, check)
    assert "the counter refuses this operation" in done["output"]["error"] and done["output"]["value"] == 3


def test_public_routes_signal_read_delete_and_refuse_bad_input(host: RunningHost):
    url = entity_url(host, "counter", "pub", "?op=add")
    # Like the Python client, raw HTTP callers send JSON text inside a JSON string (a bare 4 is an operation
    # error in the SDK: host-protocol §8).
    assert call("POST", url, b'"4"', {"Content-Type": "application/json"}).status == 202
    assert eventually(lambda: call("GET", entity_url(host, "counter", "pub")).status == 200)
    assert call("GET", entity_url(host, "counter", "pub")).json() == 4
    assert call("DELETE", entity_url(host, "counter", "pub")).status == 202
    assert eventually(lambda: call("GET", entity_url(host, "counter", "pub")).status == 404)
    unknown = call("POST", entity_url(host, "nosuch", "k", "?op=add"), b'"1"', {"Content-Type": "application/json"})
    assert unknown.status == 400 and "doesn't exist" in unknown.json()["Message"]
    bad_json = call("POST", url, b"{nope", {"Content-Type": "application/json"})
    assert bad_json.status == 400 and "Could not parse JSON content" in bad_json.json()["Message"]


def test_signals_from_several_clients_are_all_applied(host: RunningHost):
    def send(n: int) -> int:
        return call(
            "POST", entity_url(host, "counter", "many", "?op=add"), b'"1"', {"Content-Type": "application/json"}
        ).status

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(send, range(100))) == {202}
    assert eventually(lambda: call("GET", entity_url(host, "counter", "many")).text == "100")


def test_list_entities_with_state(host: RunningHost):
    call("POST", entity_url(host, "counter", "listed", "?op=add"), b'"9"', {"Content-Type": "application/json"})
    eventually(lambda: call("GET", entity_url(host, "counter", "listed")).status == 200)
    listing = call("GET", f"{host.url}/runtime/webhooks/durabletask/entities/counter?fetchState=true").json()
    entry = next(e for e in listing if e["entityId"]["key"] == "listed")
    assert entry["entityId"]["name"] == "counter" and entry["state"] == 9 and entry["lastOperationTime"]


def test_a_call_sees_every_signal_that_arrived_before_it(host: RunningHost):
    check = call("POST", f"{host.url}/api/orchestrators/wait_then_call").json()
    for _ in range(10):
        call("POST", entity_url(host, "counter", "busy", "?op=add"), b'"2"', {"Content-Type": "application/json"})
    eventually(lambda: call("GET", entity_url(host, "counter", "busy")).text == "20")
    call("POST", check["sendEventPostUri"].replace("{eventName}", "go"), b"true", {"Content-Type": "application/json"})
    assert finish(host, check)["output"] == 20


def test_entity_rows_follow_the_provider_layout(host: RunningHost, account):
    import asyncio

    from azure.data.tables.aio import TableClient

    call("POST", entity_url(host, "counter", "rows", "?op=add"), b'"3"', {"Content-Type": "application/json"})
    eventually(lambda: call("GET", entity_url(host, "counter", "rows")).text == "3")
    time.sleep(0.3)

    async def read(table: str) -> list[dict[str, Any]]:
        async with TableClient.from_connection_string(account.connection_string(), table) as client:
            return [dict(e) async for e in client.query_entities("PartitionKey eq '@counter@rows'")]

    history = sorted(asyncio.run(read(f"{HUB}History")), key=lambda r: r["RowKey"])
    events = [r for r in history if r["RowKey"] != "sentinel"]
    assert [r["EventType"] for r in events] == ["OrchestratorStarted", "ExecutionStarted", "OrchestratorCompleted"]
    scheduler = json.loads(events[1]["Input"])
    assert scheduler == {"exists": True, "state": "3", "queue": [], "lockedBy": None, "sorter": {}}
    assert events[1]["Name"] == "@counter@rows"
    (row,) = asyncio.run(read(f"{HUB}Instances"))
    assert row["Name"] == "@counter@rows" and row["RuntimeStatus"] == "Running"
    assert json.loads(row["CustomStatus"]) == {"entityExists": True, "queueSize": 0, "lockedBy": None}


def test_entity_state_survives_a_host_restart(start_host: HostLauncher, account):
    hub = "entrestart" + uuid.uuid4().hex[:8]
    first = start_host(SAMPLES / "counter_entity", "--no-watch", "--task-hub", hub)
    first.wait_for("Task hub")
    call("POST", entity_url(first, "counter", "kept", "?op=add"), b'"8"', {"Content-Type": "application/json"})
    eventually(lambda: call("GET", entity_url(first, "counter", "kept")).text == "8")
    first.stop()
    second = start_host(SAMPLES / "counter_entity", "--no-watch", "--task-hub", hub)
    second.wait_for("Task hub")
    call("POST", entity_url(second, "counter", "kept", "?op=add"), b'"1"', {"Content-Type": "application/json"})
    assert eventually(lambda: call("GET", entity_url(second, "counter", "kept")).text == "9")


def test_inspect_entities_lists_state_without_a_host(host: RunningHost, account):
    import subprocess
    import sys

    call("POST", entity_url(host, "counter", "cli", "?op=add"), b'"6"', {"Content-Type": "application/json"})
    eventually(lambda: call("GET", entity_url(host, "counter", "cli")).text == "6")
    result = subprocess.run(
        [sys.executable, "-m", "dfx", "inspect", "entities", "counter", "--json", "--task-hub", HUB,
         "--connection", account.connection_string()],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    entities = json.loads(result.stdout)["entities"]
    assert {"entityId": {"name": "counter", "key": "cli"}, "exists": True, "state": 6} in [
        {k: e[k] for k in ("entityId", "exists", "state")} for e in entities
    ]


def test_each_senders_signals_arrive_in_the_order_it_sent_them(host: RunningHost):
    url = entity_url(host, "journal", "ordered", "?op=append")

    def sender(client: int) -> None:
        for n in range(25):
            body = json.dumps(json.dumps(f"{client}-{n}")).encode()
            assert call("POST", url, body, {"Content-Type": "application/json"}).status == 202

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(sender, range(4)))
    entries = eventually(
        lambda: (
            (r := call("GET", entity_url(host, "journal", "ordered"))).status == 200
            and len(r.json()) == 100
            and r.json()
        )
    )
    for client in range(4):
        assert [e for e in entries if e.startswith(f"{client}-")] == [f"{client}-{n}" for n in range(25)]
