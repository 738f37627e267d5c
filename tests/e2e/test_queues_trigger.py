"""Queue-triggered functions run as the Storage extension runs them: messages in, durable clients, poison."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from dfx.emulator.storage import StorageAccount
from tests.e2e.conftest import APPS, HostLauncher, call, copy_app, eventually

pytestmark = pytest.mark.azurite


def queue(account: StorageAccount, name: str) -> QueueClient:
    client = QueueClient.from_connection_string(account.connection_string(), name)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    return client


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def started_instance(host, marker: str) -> str:
    return host.lines[host.wait_for(marker)].rsplit(" ", 1)[1]


def completed(host, instance_id: str) -> dict:
    url = f"{host.url}/runtime/webhooks/durabletask/instances/{instance_id}"
    return eventually(lambda: (r := call("GET", url)).status == 200 and r.json())


def test_a_queue_message_starts_an_orchestration_through_a_durable_client(start_host: HostLauncher, account):
    broken = "broken" + uuid.uuid4().hex[:8]
    orders = queue(account, "orders")
    host = start_host(APPS / "queue_app", "--no-watch", env={"BROKEN_QUEUE": broken})
    assert "on_order: queueTrigger (orders)" in host.output
    orders.send_message(b64(json.dumps({"item": "apples"})))
    instance_id = started_instance(host, "order id=")
    assert completed(host, instance_id)["output"] == {"shipped": "apples"}
    assert "Reason='New queue message detected on 'orders'.'" in host.output
    # a message put by this host's own output binding is polled at once
    assert call("POST", f"{host.url}/api/enqueue", json.dumps({"item": "pears"}).encode()).text == "queued"
    mark = len(host.lines)
    instance_id = host.lines[host.wait_for("order id=", after=mark + 1, timeout=3)].rsplit(" ", 1)[1]
    assert completed(host, instance_id)["output"] == {"shipped": "pears"}
    eventually(lambda: orders.get_queue_properties().approximate_message_count == 0)


def test_a_message_whose_function_fails_five_times_moves_to_poison_with_its_body(start_host: HostLauncher, account):
    broken = "broken" + uuid.uuid4().hex[:8]
    source = queue(account, broken)
    host = start_host(APPS / "queue_app", "--no-watch", env={"BROKEN_QUEUE": broken})
    source.send_message(b64("crate 7"))
    host.wait_for(f"Message has reached MaxDequeueCount of 5. Moving message to queue '{broken}-poison'.", timeout=15)
    assert all(f"cannot handle crate 7 (try {n})" in host.output for n in range(1, 6))
    assert "(try 6)" not in host.output
    poison = QueueClient.from_connection_string(account.connection_string(), f"{broken}-poison")
    kept = poison.receive_message()
    assert kept is not None and kept.content == b64("crate 7")
    assert source.peek_messages() == []


def test_a_missing_queue_is_polled_until_it_exists_and_plain_text_reads_with_encoding_none(
    start_host: HostLauncher, account, tmp_path
):
    app = copy_app(APPS / "queue_app", tmp_path / "queue_app")
    (app / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"queues": {
        "maxPollingInterval": "00:00:01", "messageEncoding": "none"}}}))  # fmt: skip
    broken = "missing" + uuid.uuid4().hex[:8]
    host = start_host(app, "--no-watch", copy=False, env={"BROKEN_QUEUE": broken})
    host.wait_for(f"Queue '{broken}' of function always_fails does not exist yet")
    queue(account, broken).send_message("plain words")
    host.wait_for("cannot handle plain words (try 1)", timeout=5)
