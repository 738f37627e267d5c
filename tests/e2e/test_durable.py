"""Durable patterns end to end: HTTP starter -> real SDK client -> dfx engine -> Azurite, checked over HTTP."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import APPS, HostLauncher, Reply, RunningHost, call

pytestmark = pytest.mark.azurite
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


HUB = "e2e" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def host(module_hosts: HostLauncher) -> RunningHost:
    """The durable app on its own task hub, so no other host of the suite competes for its partitions."""
    running = module_hosts(APPS / "durable_app", "--no-watch", "--task-hub", HUB)
    running.wait_for("Task hub")
    return running


def start(host: RunningHost, name: str, payload: Any = None, instance_id: str = "") -> dict[str, Any]:
    body = json.dumps(payload).encode() if payload is not None else None
    reply = call("POST", f"{host.url}/api/start/{name}/{instance_id}".rstrip("/"), body)
    assert reply.status == 202, (reply.status, reply.text, host.output[-3000:])
    return reply.json()


def status(host: RunningHost, instance_id: str, query: str = "") -> Reply:
    return call("GET", f"{host.url}/runtime/webhooks/durabletask/instances/{instance_id}{query}")


def wait_done(host: RunningHost, instance_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = status(host, instance_id)
        if reply.status in (200, 202) and reply.json()["runtimeStatus"] in TERMINAL:
            return reply.json()
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} did not finish: {status(host, instance_id).text}\n{host.output[-3000:]}")


def wait_status(host: RunningHost, instance_id: str, wanted: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = status(host, instance_id).json() if status(host, instance_id).status != 404 else {}
        if data.get("runtimeStatus") == wanted:
            return data
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} never became {wanted}: {status(host, instance_id).text}")


def test_chaining_completes_with_every_activity_result(host: RunningHost):
    check = start(host, "chain", ["Tokyo", "Lima"])
    assert set(check) >= {"id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"}
    done = wait_done(host, check["id"])
    assert done["runtimeStatus"] == "Completed" and done["output"] == ["Hello Tokyo!", "Hello Lima!"]
    assert done["input"] == '["Tokyo", "Lima"]'  # the SDK double-encodes inputs


def test_fan_out_fan_in_sums_every_branch(host: RunningHost):
    done = wait_done(host, start(host, "fan_out", 20)["id"])
    assert done["output"] == sum(n * 2 for n in range(20))


def test_an_external_event_wins_the_race_against_a_timer(host: RunningHost):
    instance_id = start(host, "approval")["id"]
    waiting = wait_status(host, instance_id, "Running")
    assert waiting["customStatus"] == "waiting"
    assert call("POST", f"{host.url}/api/client/{instance_id}/raise?event=approve", b'{"by": "ann"}').status == 202
    done = wait_done(host, instance_id)
    assert done["output"] == {"approved": '{"by": "ann"}'}  # the SDK's raise_event double-encodes (real quirk)


def test_raw_http_raise_event_delivers_parsed_json(host: RunningHost):
    instance_id = start(host, "approval")["id"]
    wait_status(host, instance_id, "Running")
    url = f"{host.url}/runtime/webhooks/durabletask/instances/{instance_id}/raiseEvent/approve"
    assert call("POST", url, b"true", {"Content-Type": "text/plain"}).status == 400
    assert call("POST", url, b"true", {"Content-Type": "application/json"}).status == 202
    assert wait_done(host, instance_id)["output"] == {"approved": True}


def test_a_timer_fires_after_its_time(host: RunningHost):
    started = time.monotonic()
    done = wait_done(host, start(host, "short_timer")["id"])
    assert done["runtimeStatus"] == "Completed" and time.monotonic() - started >= 1.0


def test_sub_orchestrations_with_generated_and_explicit_ids(host: RunningHost):
    instance_id = start(host, "parent", instance_id="family-1")["id"]
    done = wait_done(host, instance_id)
    assert done["output"] == ["Hello Oslo!", "Hello Rome!"]
    child = wait_done(host, "family-1-child")
    assert child["runtimeStatus"] == "Completed" and child["output"] == ["Hello Rome!"]


def test_retries_run_until_the_activity_succeeds(host: RunningHost):
    done = wait_done(host, start(host, "retrying")["id"])
    assert done["output"] == "succeeded on attempt 3"


def test_caught_and_uncaught_activity_failures(host: RunningHost):
    done = wait_done(host, start(host, "failing")["id"])
    assert done["runtimeStatus"] == "Failed"
    assert done["output"].startswith(
        "Orchestrator function 'failing' failed: Activity function 'explode' failed:  ValueError: boom uncaught"
    )


def test_continue_as_new_restarts_with_the_new_input(host: RunningHost):
    done = wait_done(host, start(host, "counter", 0)["id"])
    assert done["runtimeStatus"] == "Completed" and done["output"] == 3


def test_terminate_suspend_and_resume_through_the_sdk_client(host: RunningHost):
    instance_id = start(host, "approval")["id"]
    wait_status(host, instance_id, "Running")
    call("POST", f"{host.url}/api/client/{instance_id}/suspend")
    assert wait_status(host, instance_id, "Suspended")["output"] == "pause"
    call("POST", f"{host.url}/api/client/{instance_id}/resume")
    wait_status(host, instance_id, "Running")
    call("POST", f"{host.url}/api/client/{instance_id}/terminate")
    done = wait_done(host, instance_id)
    assert done["runtimeStatus"] == "Terminated" and done["output"] == "enough"
    terminate_again = f"{host.url}/runtime/webhooks/durabletask/instances/{instance_id}/terminate?reason=x"
    assert call("POST", terminate_again).status == 410


def test_sdk_get_status_and_wait_for_completion_use_the_rpc_api(host: RunningHost):
    instance_id = start(host, "chain", ["Bonn"])["id"]
    waited = call("GET", f"{host.url}/api/client/{instance_id}/wait")
    assert waited.status == 200 and waited.json() == ["Hello Bonn!"]
    data = call("GET", f"{host.url}/api/client/{instance_id}/status").json()
    assert data == {"runtimeStatus": "Completed", "output": ["Hello Bonn!"], "customStatus": None}


def test_status_route_codes_headers_and_history(host: RunningHost):
    assert status(host, "no-such-instance").status == 404 and status(host, "no-such-instance").body == b""
    instance_id = start(host, "approval")["id"]
    running = wait_status(host, instance_id, "Running")
    reply = status(host, instance_id)
    assert reply.status == 202 and reply.header("Retry-After") == "5" and reply.header("Location")
    assert running["createdTime"].endswith("Z") and "." not in running["createdTime"]
    call("POST", f"{host.url}/api/client/{instance_id}/terminate")
    wait_done(host, instance_id)
    history = status(host, instance_id, "?showHistory=true&showHistoryOutput=true").json()["historyEvents"]
    assert history[0]["EventType"] == "ExecutionStarted"
    assert history[-1]["EventType"] == "ExecutionCompleted" and history[-1]["OrchestrationStatus"] == "Terminated"


def test_start_refuses_bad_ids_unknown_orchestrators_and_running_duplicates(host: RunningHost):
    base = f"{host.url}/runtime/webhooks/durabletask/orchestrators"
    unknown = call("POST", f"{base}/nope")
    assert unknown.status == 400 and "The function 'nope' doesn't exist" in unknown.json()["ExceptionMessage"]
    assert "'approval'" in unknown.json()["ExceptionMessage"]
    bad = call("POST", f"{base}/chain/@bad")
    assert bad.status == 400 and "must not start with @" in bad.json()["ExceptionMessage"]
    assert call("POST", f"{base}/chain", b"{not json", {"Content-Type": "application/json"}).status == 400
    first = call("POST", f"{base}/approval/dup-1")
    assert first.status == 202 and first.json()["id"] == "dup-1" and first.header("Retry-After") == "10"
    wait_status(host, "dup-1", "Running")
    again = call("POST", f"{base}/approval/dup-1")
    assert again.status == 500 and "already exists" in again.json()["ExceptionMessage"]


def test_list_and_purge_routes(host: RunningHost):
    instance_id = wait_done(host, start(host, "chain", ["Kyiv"], instance_id="purge-me")["id"])["instanceId"]
    listing = call("GET", f"{host.url}/runtime/webhooks/durabletask/instances?instanceIdPrefix=purge-")
    assert listing.status == 200 and [i["instanceId"] for i in listing.json()] == [instance_id]
    assert listing.header("x-ms-continuation-token") == ""
    url = f"{host.url}/runtime/webhooks/durabletask/instances/{instance_id}"
    assert call("DELETE", url).json() == {"instancesDeleted": 1}
    assert call("DELETE", url).status == 404 and status(host, instance_id).status == 404
    no_from = call("DELETE", f"{host.url}/runtime/webhooks/durabletask/instances")
    assert no_from.status == 400 and no_from.json() == "Please provide value for 'createdTimeFrom' parameter."


def test_a_finished_chain_is_stored_row_by_row_as_the_provider_writes_it(host: RunningHost, account):
    import asyncio

    from azure.data.tables.aio import TableClient

    instance_id = wait_done(host, start(host, "chain", ["Tokyo"], instance_id="rows-1")["id"])["instanceId"]
    time.sleep(0.5)  # the Instances row is written just after the history commit

    async def read(table: str, query: str) -> list[dict[str, Any]]:
        async with TableClient.from_connection_string(account.connection_string(), table) as client:
            return [dict(e) async for e in client.query_entities(query)]

    rows = asyncio.run(read(f"{HUB}History", f"PartitionKey eq '{instance_id}'"))
    rows.sort(key=lambda r: r["RowKey"])
    events = [r for r in rows if r["RowKey"] != "sentinel"]
    assert [r["RowKey"] for r in events] == [f"{i:016X}" for i in range(8)]
    assert [r["EventType"] for r in events] == [
        "OrchestratorStarted", "ExecutionStarted", "TaskScheduled", "OrchestratorCompleted",
        "OrchestratorStarted", "TaskCompleted", "ExecutionCompleted", "OrchestratorCompleted",
    ]  # fmt: skip
    assert [r["EventId"] for r in events] == [-1, -1, 0, -1, -1, -1, 1, -1]
    assert [r["IsPlayed"] for r in events] == [False, True, False, False, False, True, False, False]
    execution_id = events[1]["ExecutionId"]
    assert all(r["ExecutionId"] == execution_id and "_Timestamp" in r for r in events)
    assert events[1]["Name"] == "chain" and events[1]["Input"] == '"[\\"Tokyo\\"]"' and events[1]["Version"] == ""
    assert events[2]["Name"] == "hello" and "Input" not in events[2]
    assert events[5]["TaskScheduledId"] == 0 and events[5]["Result"] == '"Hello Tokyo!"'
    assert events[6]["OrchestrationStatus"] == "Completed" and events[6]["Result"] == '["Hello Tokyo!"]'
    sentinel = next(r for r in rows if r["RowKey"] == "sentinel")
    assert sentinel["ExecutionId"] == execution_id and sentinel["IsCheckpointComplete"] is True
    (row,) = asyncio.run(read(f"{HUB}Instances", f"PartitionKey eq '{instance_id}'"))
    assert row["RowKey"] == "" and row["RuntimeStatus"] == "Completed" and row["Name"] == "chain"
    assert row["Output"] == '["Hello Tokyo!"]' and row["CustomStatus"] == "null" and row["ExecutionId"] == execution_id
    assert row["Input"] == '"[\\"Tokyo\\"]"' and row["TaskHubName"] == HUB and "CompletedTime" in row


def test_rewind_replays_a_failed_instance_from_its_failure(host: RunningHost):
    instance_id = start(host, "fail_once")["id"]
    assert wait_done(host, instance_id)["runtimeStatus"] == "Failed"
    base = f"{host.url}/runtime/webhooks/durabletask/instances"
    assert call("POST", f"{base}/{instance_id}/rewind?reason=retry").status == 202
    done = wait_done(host, instance_id)
    assert done["runtimeStatus"] == "Completed" and done["output"] == ["Hello before!", "second call works"]
    assert call("POST", f"{base}/{instance_id}/rewind?reason=again").status == 410
    assert call("POST", f"{base}/nope/rewind").status == 404


def test_restart_with_a_new_id_and_with_the_same_id(host: RunningHost):
    instance_id = wait_done(host, start(host, "chain", ["Riga"])["id"])["instanceId"]
    base = f"{host.url}/runtime/webhooks/durabletask/instances"
    fresh = call("POST", f"{base}/{instance_id}/restart")
    assert fresh.status == 202 and fresh.json()["id"] != instance_id
    assert wait_done(host, fresh.json()["id"])["output"] == ["Hello Riga!"]
    same = call("POST", f"{base}/{instance_id}/restart?restartWithNewInstanceId=false")
    assert same.status == 202 and same.json()["id"] == instance_id
    assert wait_done(host, instance_id)["output"] == ["Hello Riga!"]
    assert call("POST", f"{base}/unknown-id/restart").status == 400


def test_versions_reach_the_orchestration_context(host: RunningHost):
    reply = call("POST", f"{host.url}/runtime/webhooks/durabletask/orchestrators/versioned?version=2.0")
    assert reply.status == 202
    assert wait_done(host, reply.json()["id"])["output"] == {"mine": "2.0", "child": "child-1"}


def test_sdk_listing_and_purging_by_filter_use_the_rpc_api(host: RunningHost):
    ids = [wait_done(host, start(host, "chain", ["Oslo"], instance_id=f"sdk-list-{n}")["id"])["instanceId"]
           for n in range(2)]  # fmt: skip
    listed = call("GET", f"{host.url}/api/client/sdk-list-/list").json()
    assert listed["by"] == ids and listed["all"] >= 2
    purged = call("POST", f"{host.url}/api/client/no-such-instance/purge").json()
    assert purged["by"] >= 2 and purged["one"] == 0
    assert status(host, ids[0]).status == 404


def test_a_task_hub_this_host_does_not_serve_is_a_clear_400(host: RunningHost):
    reply = call("GET", f"{host.url}/runtime/webhooks/durabletask/instances/x?taskHub=OtherHub")
    assert reply.status == 400 and f"serves task hub '{HUB}', not 'OtherHub'" in reply.json()["Message"]


def test_a_host_that_served_the_sdk_client_stops_without_unclosed_session_noise(start_host: HostLauncher):
    own = start_host(APPS / "durable_app", "--no-watch", "--task-hub", "quiet" + uuid.uuid4().hex[:10])
    reply = call("POST", f"{own.url}/api/start/chain/quiet-1", json.dumps(["Oslo"]).encode())
    assert reply.status == 202, reply.text
    assert wait_done(own, "quiet-1")["runtimeStatus"] == "Completed"
    assert own.stop() == 0
    time.sleep(0.3)  # the reader thread drains the last lines
    assert "Unclosed" not in own.output and "Traceback" not in own.output, own.output[-2000:]
