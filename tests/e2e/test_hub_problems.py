"""A task hub that cannot be prepared is said once with the reason; refused credentials stop dfx start."""

from __future__ import annotations

import base64
import dataclasses
import http.server
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dfx.emulator.storage import StorageAccount
from tests.conftest import free_port
from tests.e2e.conftest import APPS, HostLauncher, call, copy_app

pytestmark = pytest.mark.azurite


def run_start(app_dir: Path, connection: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AzureWebJobsStorage": connection, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "dfx", "start", str(app_dir), "--port", str(free_port()), *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("watch", ["--no-watch", "--watch"])
def test_a_wrong_account_key_stops_dfx_start_with_one_clear_error_and_a_non_zero_exit(
    account: StorageAccount, tmp_path: Path, watch: str
):
    wrong = dataclasses.replace(account, account_key=base64.b64encode(b"not the key" * 6).decode())
    app = copy_app(APPS / "durable_app", tmp_path / "app")
    done = run_start(app, wrong.connection_string(), watch, "--task-hub", "refused" + uuid.uuid4().hex[:8])
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert output.count("refused the credentials") == 1, output
    error = next(line for line in done.stderr.splitlines() if line.startswith("error: "))
    assert f"Storage account {account.account_name} at {account.table_endpoint} refused the credentials" in error
    assert "hint: Check AccountName and AccountKey" in done.stderr
    assert "Traceback" not in output


class NotStorage(http.server.BaseHTTPRequestHandler):
    """An HTTP server that is not a storage service (a wrong endpoint in a connection string)."""

    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_storage() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), NotStorage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.2:{server.server_address[1]}/devstoreaccount1"
    server.shutdown()
    server.server_close()


def test_durable_requests_get_a_503_with_the_reason_while_the_task_hub_cannot_be_prepared(
    start_host: HostLauncher, not_storage: str
):
    wrong = StorageAccount(
        account_name="devstoreaccount1",
        account_key=base64.b64encode(b"k" * 64).decode(),
        sas_token=None,
        blob_endpoint=not_storage,
        queue_endpoint=not_storage,
        table_endpoint=not_storage,
    )
    host = start_host(APPS / "durable_app", "--no-watch", env={"AzureWebJobsStorage": wrong.connection_string()})
    host.wait_for("dfx tries again")
    reply = call("GET", f"{host.url}/runtime/webhooks/durabletask/instances")
    assert reply.status == 503, reply.text
    body = reply.json()
    assert body["Message"] == "The task hub is not available."
    assert body["Error"].startswith(
        f"Task hub TestHubName is not ready: Storage account devstoreaccount1 at {not_storage}"
    )
    assert "answered 501" in body["Error"]
    assert host.output.count("is not ready") == 1
    assert "Traceback" not in host.output
