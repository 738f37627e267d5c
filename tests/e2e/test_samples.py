"""Every durable sample runs unchanged under `dfx start` and does what its README says."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.conftest import SAMPLES, HostLauncher, RunningHost, call

pytestmark = pytest.mark.azurite
TERMINAL = {"Completed", "Failed", "Terminated"}


def start(host: RunningHost, name: str, payload: Any = None) -> dict[str, Any]:
    body = json.dumps(payload).encode() if payload is not None else None
    reply = call("POST", f"{host.url}/api/orchestrators/{name}", body)
    assert reply.status == 202, (reply.text, host.output[-2000:])
    return reply.json()


def poll(url: str, until, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = call("GET", url).json()
        if until(data):
            return data
        time.sleep(0.1)
    raise AssertionError(f"condition not met: {call('GET', url).text}")


def finish(host: RunningHost, check: dict[str, Any]) -> dict[str, Any]:
    return poll(check["statusQueryGetUri"], lambda d: d["runtimeStatus"] in TERMINAL)


@pytest.fixture
def sample(start_host: HostLauncher, request) -> RunningHost:
    host = start_host(SAMPLES / request.param, "--no-watch", "--task-hub", f"s{request.param.replace('_', '')}")
    host.wait_for("Task hub")
    return host


@pytest.mark.parametrize("sample", ["hello_cities"], indirect=True)
def test_hello_cities(sample: RunningHost):
    done = finish(sample, start(sample, "hello_cities", ["Oslo", "Lima"]))
    assert done["output"] == ["Hello Oslo!", "Hello Lima!"]


@pytest.mark.parametrize("sample", ["fan_out_fan_in"], indirect=True)
def test_fan_out_fan_in(sample: RunningHost):
    assert finish(sample, start(sample, "fan_out_fan_in", 10))["output"] == 285


@pytest.mark.parametrize("sample", ["human_interaction"], indirect=True)
def test_human_interaction_approved_and_escalated(sample: RunningHost):
    check = start(sample, "approval_workflow", 30)
    poll(check["statusQueryGetUri"], lambda d: d["customStatus"] == "waiting for approval")
    url = check["sendEventPostUri"].replace("{eventName}", "approval")
    assert call("POST", url, b"true", {"Content-Type": "application/json"}).status == 202
    assert finish(sample, check)["output"] == "approved: True"
    assert finish(sample, start(sample, "approval_workflow", 1))["output"] == "escalated: nobody answered"


@pytest.mark.parametrize("sample", ["monitor"], indirect=True)
def test_monitor_polls_with_timers_and_continues_as_new(sample: RunningHost):
    assert finish(sample, start(sample, "job_monitor", 2))["output"] == "2 jobs done"


@pytest.mark.parametrize("sample", ["sub_orchestrations"], indirect=True)
def test_sub_orchestrations(sample: RunningHost):
    done = finish(sample, start(sample, "process_orders", ["a", "b"]))
    assert done["output"] == ["a: reserved, shipped", "b: reserved, shipped"]
    child = call("GET", f"{sample.url}/runtime/webhooks/durabletask/instances/order-a").json()
    assert child["runtimeStatus"] == "Completed"


@pytest.mark.parametrize("sample", ["retry"], indirect=True)
def test_retry(sample: RunningHost):
    assert finish(sample, start(sample, "retry_flaky"))["output"] == "done after 3 attempts"


@pytest.mark.parametrize("sample", ["eternal"], indirect=True)
def test_eternal_runs_until_terminated(sample: RunningHost):
    check = start(sample, "eternal_cleanup", 0)
    poll(check["statusQueryGetUri"], lambda d: (d.get("customStatus") or {}).get("round", 0) >= 1)
    assert call("POST", check["terminatePostUri"].replace("{text}", "stop")).status == 202
    done = finish(sample, check)
    assert done["runtimeStatus"] == "Terminated" and done["output"] == "stop"


@pytest.mark.parametrize("sample", ["error_handling"], indirect=True)
def test_error_handling(sample: RunningHost):
    caught = finish(sample, start(sample, "charge_with_refund"))
    assert (
        caught["output"] == "compensated: Activity function 'charge_card' failed:  ValueError: card declined for 100 "
    )
    uncaught = finish(sample, start(sample, "charge_without_handling"))
    assert uncaught["runtimeStatus"] == "Failed" and "card declined for 100" in uncaught["output"]


@pytest.mark.parametrize("sample", ["http_call"], indirect=True)
def test_http_call_reaches_a_route_of_the_same_app(sample: RunningHost):
    done = finish(sample, start(sample, "call_weather", sample.url))
    assert done["output"] == {"status": 200, "body": {"city": "Oslo", "sky": "clear"}}


@pytest.mark.parametrize("sample", ["triggers"], indirect=True)
def test_triggers_queue_starts_an_orchestration_and_the_timer_runs_at_start(sample: RunningHost):
    sample.wait_for("tidy_up past_due=False purged")
    reply = call("POST", f"{sample.url}/api/orders", json.dumps({"item": "tea", "amount": 4}).encode())
    assert reply.status == 202 and reply.text == "Order queued."
    instance_id = sample.lines[sample.wait_for("Started process_order", timeout=5)].rsplit(" ", 1)[1]
    status = poll(f"{sample.url}/runtime/webhooks/durabletask/instances/{instance_id}",
                  lambda d: d.get("runtimeStatus") in TERMINAL)  # fmt: skip
    assert status["output"] == {"receipt": "charged 4 for tea", "parcel": "shipped tea"}
