"""What the durable management API, the RPC API and the entity routes answer to input they cannot take.

Every route that reads a body or a date-time query answers a bad one with 400 (and an oversized body with
413) in the extension's words, never with a 500, and stores nothing for it.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import APPS, HostLauncher, Reply, RunningHost, call, eventually

pytestmark = pytest.mark.azurite
HUB = "inp" + uuid.uuid4().hex[:12]
JSON = {"Content-Type": "application/json"}
WEBHOOK = "/runtime/webhooks/durabletask"
RPC = "/durabletask"
TOO_DEEP = b"[" * 100_000
LONE_SURROGATE = b'"\\ud800"'
MAX_BODY = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def host(module_hosts: HostLauncher) -> RunningHost:
    running = module_hosts(APPS / "api_input_app", "--no-watch", "--task-hub", HUB)
    running.wait_for("Task hub")
    return running


@pytest.fixture(scope="module")
def waiting(host: RunningHost) -> str:
    """A running ``waiter`` instance, to raise events at."""
    reply = call("POST", f"{host.url}{WEBHOOK}/orchestrators/waiter")
    assert reply.status == 202, reply.text
    instance_id = reply.json()["id"]
    eventually(lambda: call("GET", f"{host.url}{WEBHOOK}/instances/{instance_id}").json()["runtimeStatus"] == "Running")
    return instance_id


def body_routes(host: RunningHost, waiting: str) -> Iterator[tuple[str, str]]:
    """Each route that parses a JSON body, as (kind, URL): ``orchestration`` or ``entity`` error shapes."""
    for base in (WEBHOOK, RPC):
        yield "orchestration", f"{host.url}{base}/orchestrators/waiter"
        yield "orchestration", f"{host.url}{base}/instances/{waiting}/raiseEvent/go"
        yield "entity", f"{host.url}{base}/entities/counter/k1?op=add"


def assert_bad_json(kind: str, reply: Reply, fragment: str) -> None:
    """The extension's bad-JSON answer: the reader's exception for orchestrations, one message for entities."""
    assert reply.status == 400, (reply.status, reply.text)
    data: dict[str, Any] = reply.json()
    if kind == "orchestration":
        assert data["Message"] == "Invalid JSON content", data
        assert data["ExceptionType"] == "Newtonsoft.Json.JsonReaderException", data
        assert fragment in data["ExceptionMessage"], data
    else:
        assert data["Message"].startswith("Could not parse JSON content: ") and fragment in data["Message"], data


def test_a_deeply_nested_json_body_is_a_400_on_every_body_route(host: RunningHost, waiting: str):
    for kind, url in body_routes(host, waiting):
        assert_bad_json(kind, call("POST", url, TOO_DEEP, JSON), "MaxDepth of 64")
        assert_bad_json(kind, call("POST", url, b"[" * 65 + b"]" * 65, JSON), "MaxDepth of 64")
    accepted = call("POST", f"{host.url}{WEBHOOK}/orchestrators/waiter", b"[" * 64 + b"]" * 64, JSON)
    assert accepted.status == 202, accepted.text
    assert "Traceback" not in host.output


def test_a_lone_surrogate_in_a_json_body_is_a_400_and_stores_nothing(host: RunningHost, waiting: str):
    for kind, url in body_routes(host, waiting):
        assert_bad_json(kind, call("POST", url, LONE_SURROGATE, JSON), "unpaired surrogate")
        assert_bad_json(kind, call("POST", url, b'{"a": ["\\udc00x"]}', JSON), "unpaired surrogate")
    refused = call("POST", f"{host.url}{WEBHOOK}/orchestrators/waiter/lone-1", LONE_SURROGATE, JSON)
    assert refused.status == 400 and call("GET", f"{host.url}{WEBHOOK}/instances/lone-1").status == 404
    paired = call("POST", f"{host.url}{WEBHOOK}/orchestrators/waiter/paired-1", b'"\\ud83d\\ude00"', JSON)
    assert paired.status == 202, paired.text
    assert call("GET", f"{host.url}{WEBHOOK}/instances/paired-1").json()["input"] == "\U0001f600"
    assert "Traceback" not in host.output


def test_a_bad_date_time_in_a_query_is_a_400_naming_the_parameter(host: RunningHost):
    assert call("POST", f"{host.url}{WEBHOOK}/entities/counter/listed?op=add", b'"1"', JSON).status == 202
    eventually(lambda: call("GET", f"{host.url}{WEBHOOK}/entities/counter/listed").status == 200)
    cases = [
        ("GET", "instances", "createdTimeFrom", "yesterday"),
        ("GET", "instances", "createdTimeTo", "2024-13-01T00:00:00Z"),
        ("DELETE", "instances", "createdTimeFrom", "nope"),
        ("DELETE", "instances", "createdTimeTo", "0001-01-01T00:00:00+01:00"),
        ("GET", "entities", "lastOperationTimeFrom", "nope"),
        ("GET", "entities/counter", "lastOperationTimeTo", "9999-12-31T23:59:59-01:00"),
    ]
    for base in (WEBHOOK, RPC):
        for method, path, name, value in cases:
            query = f"{name}={value}" if name != "createdTimeTo" else f"createdTimeFrom=2024-01-01&{name}={value}"
            reply = call(method, f"{host.url}{base}/{path}?{query.replace('+', '%2B')}")
            assert reply.status == 400, (method, path, name, reply.status, reply.text)
            assert name in reply.json()["Message"] and repr(value) in reply.json()["Message"], reply.text
    good = call("GET", f"{host.url}{WEBHOOK}/entities?lastOperationTimeFrom=2000-01-01T00:00:00Z")
    assert good.status == 200 and {"name": "counter", "key": "listed"} in [e["entityId"] for e in good.json()]
    assert "Traceback" not in host.output


def test_odd_numbers_in_queries_are_ignored_or_refused_not_a_500(host: RunningHost):
    # The extension's int.TryParse ignores a page size it cannot read; a wait it cannot make is refused.
    assert call("GET", f"{host.url}{WEBHOOK}/instances?top=%C2%B2").status == 200
    assert call("GET", f"{host.url}{WEBHOOK}/entities?top=99999999999999999999").status == 200
    assert call("GET", f"{host.url}{WEBHOOK}/instances?top=5000").status == 200
    assert call("GET", f"{host.url}{WEBHOOK}/entities?top=5000").status == 200
    for timeout, interval in (("nan", "1"), ("1", "-1"), ("inf", "1")):
        url = f"{host.url}{WEBHOOK}/orchestrators/waiter/odd-{timeout}?timeout={timeout}&pollingInterval={interval}"
        reply = call("POST", url)
        assert reply.status == 400 and "seconds" in reply.json()["Message"], reply.text
        assert call("GET", f"{host.url}{WEBHOOK}/instances/odd-{timeout}").status == 404
    assert "Traceback" not in host.output


def send_oversized(url: str, *, chunked: bool) -> tuple[int, dict[str, Any]]:
    """POST one byte more than 100 MB (with a Content-Length, or chunked) and read the answer."""
    target = urlsplit(url)
    connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
    block = b"0" * (1024 * 1024)
    try:
        connection.putrequest("POST", f"{target.path}?{target.query}")
        connection.putheader("Content-Type", "application/json")
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        else:
            connection.putheader("Content-Length", str(MAX_BODY + 1))
        connection.endheaders()
        for index in range(100):
            data = block + b"0" if index == 99 else block
            if chunked:
                data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
            try:
                connection.send(data)
            except (BrokenPipeError, ConnectionResetError):
                break  # the host answered before reading everything
        else:
            if chunked:
                connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_a_body_over_100_mb_is_a_413(host: RunningHost):
    for url, chunked in (
        (f"{host.url}{WEBHOOK}/orchestrators/waiter/huge-1", False),
        (f"{host.url}{RPC}/orchestrators/waiter/huge-2", True),
        (f"{host.url}{WEBHOOK}/entities/counter/huge?op=add", True),
    ):
        status, body = send_oversized(url, chunked=chunked)
        assert status == 413 and "larger than 104857600 bytes" in body["Message"], (url, status, body)
    assert call("GET", f"{host.url}{WEBHOOK}/instances/huge-1").status == 404
    assert "Traceback" not in host.output
