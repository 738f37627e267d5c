"""``dfx start`` itself: a port it cannot serve on is said in one line before anything starts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import one_line_error
from tests.conftest import free_port

APP = "import azure.functions as func\napp = func.FunctionApp()\n"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """An app on development storage that nothing serves: dfx would start Azurite for it if it got that far."""
    (tmp_path / "function_app.py").write_text(APP)
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    return tmp_path


def run_start(app_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AzureWebJobsStorage"}
    return subprocess.run(
        [sys.executable, "-m", "dfx", "start", str(app_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("mode", ["--watch", "--no-watch"])
@pytest.mark.parametrize("port", ["-1", "0", "99999"])
def test_a_port_outside_1_to_65535_is_a_usage_error_without_a_traceback(app_dir: Path, port: str, mode: str):
    result = run_start(app_dir, "--port", port, mode)
    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--port'" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "Azurite" not in result.stdout


def test_a_local_http_port_of_0_in_local_settings_is_refused(app_dir: Path):
    (app_dir / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Host": {"LocalHttpPort": 0}}))
    one_line_error(run_start(app_dir, "--no-watch"), "Host.LocalHttpPort must be a port number from 1 to 65535")


@pytest.mark.parametrize("mode", ["--watch", "--no-watch"])
def test_a_port_in_use_is_one_line_before_azurite_or_the_app_starts(app_dir: Path, mode: str):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", port))
        taken.listen()
        result = run_start(app_dir, "--port", str(port), mode)
    one_line_error(result, f"Port {port} is already in use.", hint="choose another port with --port")
    assert "Azurite" not in result.stdout and not (app_dir / ".dfx" / "azurite").exists(), result.stdout
