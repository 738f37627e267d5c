"""``dfx start`` serving HTTP triggers of unchanged apps, driven over HTTP as a user would."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from azure.storage.queue.aio import QueueClient

from tests.e2e.conftest import APPS, SAMPLES, HostLauncher, RunningHost, call

pytestmark = pytest.mark.azurite


@pytest.fixture(scope="module")
def host(module_hosts: HostLauncher) -> RunningHost:
    """The e2e HTTP app, with CORS for one origin, shared by this module's tests."""
    return module_hosts(APPS / "http_app", "--no-watch", "--cors", "http://app.test")


def test_request_carries_method_url_headers_query_route_values_and_body(host: RunningHost):
    reply = call("PUT", f"{host.url}/api/echo/a/b?x=1&x=2&empty=", b"payload", {"X-Thing": "T"})
    data = reply.json()
    assert reply.status == 200 and reply.header("content-type") == "application/json"
    assert data["method"] == "PUT" and data["url"].endswith("/api/echo/a/b?x=1&x=2&empty=")
    assert data["headers"]["x-thing"] == "T" and data["params"] == {"x": "1,2"}
    assert data["route_params"] == {"rest": "a/b"} and data["body"] == "payload"


def test_routes_follow_precedence_and_constraints(host: RunningHost):
    assert call("GET", f"{host.url}/api/items/special").text == "special"
    assert call("GET", f"{host.url}/api/items/42").text == "id 42"
    assert call("GET", f"{host.url}/api/items/pen").text == "name pen"
    assert call("GET", f"{host.url}/api/optional").json() == {}
    assert call("GET", f"{host.url}/api/optional/v").json() == {"x": "v"}


def test_methods_and_unknown_routes_answer_404(host: RunningHost):
    assert call("POST", f"{host.url}/api/items/42").status == 404
    assert call("GET", f"{host.url}/api/nothing-here").status == 404
    assert call("GET", f"{host.url}/items/42").status == 404


def test_status_headers_and_json_bodies_come_back(host: RunningHost):
    reply = call("POST", f"{host.url}/api/created", b'{"a": 1}', {"Content-Type": "application/json"})
    assert reply.status == 201 and reply.json() == {"got": {"a": 1}}
    assert reply.header("X-Custom") == "yes" and reply.header("Location") == "/api/things/1"


def test_str_and_bytes_results(host: RunningHost):
    plain = call("GET", f"{host.url}/api/plain")
    assert (plain.status, plain.text) == (200, "just a string")
    assert plain.header("content-type") == "text/plain; charset=utf-8"
    assert call("GET", f"{host.url}/api/binary").body == bytes(range(256))


def test_sync_functions_run_in_the_thread_pool_and_async_ones_on_the_loop(host: RunningHost):
    assert call("GET", f"{host.url}/api/sync-thread").text.startswith("dfx-worker")
    assert call("GET", f"{host.url}/api/async-sleep").text == "async on MainThread"


def test_context_parameter_receives_the_invocation_context(host: RunningHost):
    name, invocation_id = call("GET", f"{host.url}/api/with-context").text.split()
    assert name == "with_context" and len(invocation_id) == 36
    host.wait_for(f"Executed 'Functions.with_context' (Succeeded, Id={invocation_id}")


def test_user_logging_is_shown_with_the_function_name(host: RunningHost):
    call("GET", f"{host.url}/api/logs")
    host.wait_for("logs: user log line from the function")


def test_an_exception_is_a_500_with_the_traceback_in_the_log(host: RunningHost):
    reply = call("GET", f"{host.url}/api/boom")
    assert reply.status == 500 and reply.body == b""
    host.wait_for("Exception: ValueError: kaboom from user code")
    host.wait_for('function_app.py", line')


def test_a_result_the_http_binding_cannot_carry_is_a_500(host: RunningHost):
    assert call("GET", f"{host.url}/api/dict").status == 500
    host.wait_for('unsupported type "http" for Python type "dict"')


def test_out_binding_writes_a_base64_queue_message(host: RunningHost, account):
    assert call("POST", f"{host.url}/api/queue-out", b"hello queue").status == 202

    async def receive() -> list[str]:
        async with QueueClient.from_connection_string(account.connection_string(), "outq") as queue:
            return [m.content async for m in queue.receive_messages()]

    assert [base64.b64decode(m).decode() for m in asyncio.run(receive())] == ["hello queue"]


def test_cors_preflight_and_responses_name_the_allowed_origin(host: RunningHost):
    preflight = call(
        "OPTIONS",
        f"{host.url}/api/plain",
        headers={"Origin": "http://app.test", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204 and preflight.header("Access-Control-Allow-Origin") == "http://app.test"
    other = call("GET", f"{host.url}/api/plain", headers={"Origin": "http://evil.test"})
    assert other.status == 200 and other.header("Access-Control-Allow-Origin") is None


def test_the_function_table_lists_routes_and_methods(host: RunningHost):
    host.wait_for(f"item_by_id: [GET] http://localhost:{host.port}/api/items/{{id:int}}")
    assert "Host started (" in host.output


def test_enforce_keys_requires_function_and_master_keys(start_host: HostLauncher):
    host = start_host(APPS / "http_app", "--no-watch", "--enforce-keys")
    keys = json.loads((host.app_dir / ".dfx" / "keys.json").read_text())
    function_key, master_key = keys["functionKeys"]["default"], keys["masterKey"]
    assert call("GET", f"{host.url}/api/secured").status == 401
    assert call("GET", f"{host.url}/api/secured?code={function_key}").text == "secret"
    assert call("GET", f"{host.url}/api/secured", headers={"x-functions-key": master_key}).status == 200
    assert call("GET", f"{host.url}/api/admin-only?code={function_key}").status == 401
    assert call("GET", f"{host.url}/api/admin-only?code={master_key}").text == "admin"
    assert call("GET", f"{host.url}/api/plain").status == 200  # anonymous stays open
    assert function_key in host.output


def test_hello_http_sample_with_a_blueprint_runs_unchanged(start_host: HostLauncher):
    host = start_host(SAMPLES / "hello_http", "--no-watch")
    assert call("GET", f"{host.url}/api/hello?name=Ann").text == "Hello, Ann!"
    assert call("POST", f"{host.url}/api/hello", b'{"name": "Bo"}').text == "Hello, Bo!"
    assert call("GET", f"{host.url}/api/greet/Ann/Bo").text == "Hello, Ann and Bo."
    assert call("GET", f"{host.url}/api/products/books/7").json() == {"category": "books", "id": "7"}
    assert call("GET", f"{host.url}/api/products/42").status == 404  # alpha constraint


def test_core_tools_quickstart_app_runs_unchanged(start_host: HostLauncher):
    host = start_host(SAMPLES / "quickstart", "--no-watch", "--functions", "http_trigger")
    assert call("GET", f"{host.url}/api/http_trigger?name=Ann").text.startswith("Hello, Ann.")
    assert "Pass a name" in call("GET", f"{host.url}/api/http_trigger").text
    assert call("POST", f"{host.url}/api/http_trigger", b'{"name": "Bo"}').text.startswith("Hello, Bo.")


def test_a_durable_client_parameter_receives_the_binding_with_management_urls(host: RunningHost):
    data = call("GET", f"{host.url}/api/client-urls").json()
    assert data["hub"] == "TestHubName" and data["id"] == "abc"
    assert data["rpc"] == f"http://127.0.0.1:{host.port}/durabletask/"
    assert data["statusQueryGetUri"] == (
        f"http://localhost:{host.port}/runtime/webhooks/durabletask/instances/abc?taskHub=TestHubName&connection=Storage"
    )
