"""``dfx start`` and local storage that it does not own: a port held by a program that is not Azurite is named
(with the way to other ports) before anything starts, and an Azurite that already answers is said to be used
(issue 12, item 5)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dfx.emulator.storage import StorageAccount, development_storage
from tests.cli import one_line_error
from tests.conftest import free_port
from tests.e2e.conftest import APPS, HostLauncher

pytestmark = pytest.mark.azurite


@pytest.mark.parametrize("mode", ["--watch", "--no-watch"])
def test_a_storage_port_held_by_another_program_is_named_with_the_way_to_other_ports(tmp_path: Path, mode: str):
    (tmp_path / "function_app.py").write_text("import azure.functions as func\napp = func.FunctionApp()\n")
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    with socket.create_server(("127.0.0.1", 0)) as foreign:  # stands for a program that is not Azurite
        port = foreign.getsockname()[1]
        account = development_storage(blob_port=free_port(), queue_port=free_port(), table_port=port)
        env = {**os.environ, "AzureWebJobsStorage": account.connection_string()}
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "dfx", "start", str(tmp_path), "--port", str(free_port()), mode],
            capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    one_line_error(result, f"Port {port} (table) on 127.0.0.1 is held by ", hint="TableEndpoint=http://127.0.0.1:")
    assert f"(pid {os.getpid()}), which gives no HTTP answer" in result.stderr
    assert "BlobEndpoint=" in result.stderr and "QueueEndpoint=" in result.stderr
    assert "Host started" not in result.stdout and not (tmp_path / ".dfx" / "azurite").exists(), result.stdout
    assert time.monotonic() - started < 15


def test_an_azurite_that_already_answers_is_said_to_be_used(start_host: HostLauncher, account: StorageAccount):
    host = start_host(APPS / "http_app", "--no-watch")
    ports = ", ".join(str(account.port(service)) for service in ("blob", "queue", "table"))
    line = host.wait_for(f"Using the Azurite already running on 127.0.0.1 ports {ports} (node azurite (pid ")
    assert host.lines[line].endswith("data in memory only).")
