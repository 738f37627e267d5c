"""Durable entities through `dfx start`: signals, calls, reads, deletes, ordering, errors, stored rows."""

from __future__ import annotations

import json
import time
import urllib.parse
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


# The entity id @name@key is the PartitionKey of the entity's History and Instances rows: at most 512 UTF-16
# code units (1 KiB). "@counter@" and "@journal@" leave 503 for the key.
LONGEST_KEY = "k" * 503


@pytest.mark.parametrize("base", ["/runtime/webhooks/durabletask", "/durabletask"])
def test_a_key_storage_cannot_hold_is_a_400_on_every_entity_route(host: RunningHost, base: str):
    url = f"{host.url}{base}/entities/counter/{'k' * 5000}"
    for method, query in (("POST", "?op=add"), ("DELETE", ""), ("GET", "")):
        answer = call(method, url + query, b'"1"' if method == "POST" else None, {"Content-Type": "application/json"})
        assert answer.status == 400, (method, answer.status, answer.text)
        body = answer.json()
        assert body["ExceptionMessage"].startswith("Entity keys of 'counter' must not exceed 503 characters"), method
        assert body["ExceptionType"] == "System.ArgumentException"
    assert call("POST", f"{host.url}{base}/entities/counter/{'k' * 504}?op=add", b'"1"').status == 400


def test_the_longest_key_works_with_payloads_in_blobs(host: RunningHost, account):
    """503 characters: a queue message over 45 KB (a blob named by the id) and row columns over 60 KB (blobs
    named by the escaped id) work as for any entity."""
    import asyncio

    from azure.storage.blob.aio import ContainerClient

    big, headers = "x" * 50_000, {"Content-Type": "application/json"}
    url = entity_url(host, "journal", LONGEST_KEY, "?op=append")
    for entry in (big, "small"):
        assert call("POST", url, json.dumps(json.dumps(entry)).encode(), headers).status == 202
    entries = eventually(
        lambda: (r := call("GET", entity_url(host, "journal", LONGEST_KEY))).status == 200 and len(r.json()) == 2 and r
    ).json()
    assert entries == [big, "small"]
    listing = call("GET", f"{host.url}/runtime/webhooks/durabletask/entities/journal").json()
    assert {"name": "journal", "key": LONGEST_KEY} in [e["entityId"] for e in listing]

    async def blob_names() -> list[str]:
        connection = account.connection_string()
        async with ContainerClient.from_connection_string(connection, f"{HUB.lower()}-largemessages") as container:
            return [b.name async for b in container.list_blobs(name_starts_with=f"@journal@{LONGEST_KEY}/")]

    names = asyncio.run(blob_names())
    assert any("/message-" in n for n in names) and any("/history-" in n for n in names), names
    assert "Traceback" not in host.output


@pytest.mark.parametrize("key", ["\U0001f600" * 251 + "k", "^" * 251 + "k", "\u20ac" * 503])
def test_keys_that_take_more_room_than_their_length_fit_up_to_the_limit(host: RunningHost, key: str):
    """Characters beyond U+FFFF take two UTF-16 code units and '^' is stored as '^^': 503 units either way."""
    quoted, headers = urllib.parse.quote(key, safe=""), {"Content-Type": "application/json"}
    assert call("POST", entity_url(host, "counter", quoted, "?op=add"), b'"2"', headers).status == 202
    assert eventually(lambda: call("GET", entity_url(host, "counter", quoted)).text == "2")
    too_long = entity_url(host, "counter", urllib.parse.quote(key + "k", safe=""), "?op=add")
    assert call("POST", too_long, b'"2"', headers).status == 400


def test_the_sdk_client_is_refused_a_key_storage_cannot_hold(host: RunningHost):
    """The starter's signal_entity gets the 400 and raises; nothing is queued for the entity."""
    answer = call("POST", f"{host.url}/api/counter/{'k' * 5000}/add", b"1")
    assert answer.status == 500
    assert call("POST", f"{host.url}/api/counter/{LONGEST_KEY}/add", b"1").status == 202
    assert eventually(lambda: call("GET", f"{host.url}/api/counter/{LONGEST_KEY}").text == "1")


def test_an_orchestration_calling_a_key_storage_cannot_hold_fails_with_the_reason(start_host: HostLauncher):
    host = start_host(SAMPLES / "counter_entity", "--no-watch", "--task-hub", "entlong" + uuid.uuid4().hex[:8])
    host.wait_for("Task hub")
    check = call("POST", f"{host.url}/api/orchestrators/count_twice", json.dumps("k" * 5000).encode()).json()
    done = eventually(
        lambda: (d := call("GET", check["statusQueryGetUri"]).json())["runtimeStatus"] in ("Completed", "Failed") and d,
        timeout=10,
    )
    assert done["runtimeStatus"] == "Failed"
    assert "Entity keys of 'counter' must not exceed 503 characters" in done["output"]
    time.sleep(0.5)
    assert "Traceback" not in host.output and "HTTP 400" not in host.output  # nothing sent to the entity
