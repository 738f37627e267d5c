"""``dfx start`` itself: a port it cannot serve on is said in one line before anything starts, and a host
under ``--watch`` does not outlive its supervisor."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dfx.emulator.storage import StorageAccount, TaskHub
from tests.cli import one_line_error
from tests.conftest import free_port
from tests.e2e.conftest import SAMPLES, HostLauncher, eventually

APP = "import azure.functions as func\napp = func.FunctionApp()\n"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """An app on development storage that nothing serves: dfx would start Azurite for it if it got that far."""
    (tmp_path / "function_app.py").write_text(APP)
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    return tmp_path


def run_start(app_dir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AzureWebJobsStorage", "PYTHON_SCRIPT_FILE_NAME")}
    return subprocess.run(
        [sys.executable, "-m", "dfx", "start", str(app_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
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


# Folders that hold no app to host, and the one line dfx start refuses each with.
NO_APP = {
    "empty": ({}, "has no host.json", "dfx init"),
    "only-settings": ({"local.settings.json": '{"IsEncrypted": false, "Values": {}}'}, "has no host.json", "dfx init"),
    "no-host-json": ({"function_app.py": APP}, "has no host.json", 'holding {"version": "2.0"}'),
    "no-script": ({"host.json": '{"version": "2.0"}'}, "has a host.json but no function_app.py", "--force (it"),
    "other-script": (
        {"host.json": '{"version": "2.0"}', "function_app.py": APP,
         "local.settings.json": '{"Values": {"PYTHON_SCRIPT_FILE_NAME": "main.py"}}'},
        "has a host.json but no main.py (PYTHON_SCRIPT_FILE_NAME)",
        "Create main.py",
    ),
}  # fmt: skip


def no_app(tmp_path: Path, case: str) -> tuple[Path, str, str]:
    files, fragment, hint = NO_APP[case]
    folder = tmp_path / case
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder, fragment, hint


@pytest.mark.parametrize("mode", ["--watch", "--no-watch"])
@pytest.mark.parametrize("case", list(NO_APP))
def test_a_folder_with_no_app_is_refused_before_the_port_is_bound(tmp_path: Path, case: str, mode: str):
    """Core Tools' "Unable to find project root" (or: no script to host), not the port's error: nothing was bound."""
    folder, fragment, hint = no_app(tmp_path, case)
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", port))
        taken.listen()
        result = run_start(folder, "--port", str(port), mode, timeout=20)
    one_line_error(result, fragment, hint=hint)
    assert "Unable to find project root" in result.stderr or case in ("no-script", "other-script"), result.stderr
    assert not (folder / ".dfx").exists() and result.stdout == "", result.stdout


@pytest.mark.parametrize("mode", ["--watch", "--no-watch"])
def test_a_folder_with_no_app_starts_nothing(tmp_path: Path, mode: str):
    """No Azurite, no "Host started", no 503s: one line and exit 1 at once."""
    for case in ("empty", "no-script"):
        folder, fragment, hint = no_app(tmp_path, case)
        started = time.monotonic()
        result = run_start(folder, "--port", str(free_port()), mode, timeout=20)
        one_line_error(result, fragment, hint=hint)
        assert time.monotonic() - started < 10 and "Azurite" not in result.stdout + result.stderr, result
        assert "Host started" not in result.stdout and not (folder / ".dfx").exists(), result.stdout


def test_a_missing_folder_is_refused_with_the_init_command_for_it(tmp_path: Path):
    result = run_start(tmp_path / "demo", "--no-watch", timeout=20)
    one_line_error(result, f"Unable to find project root: {tmp_path / 'demo'} does not exist.",
                   hint=f"dfx init {tmp_path / 'demo'}")  # fmt: skip
    assert not (tmp_path / "demo").exists()


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie nobody reaped does not count: it holds no port and no lease)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def refused(port: int) -> bool:
    """Whether nothing listens on ``port`` any more."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def lease_owners(account: StorageAccount, hub: str) -> set[str | None]:
    async def read() -> set[str | None]:
        async with TaskHub(account, hub) as taskhub:
            return {lease.current_owner for lease in await taskhub.partitions.read_all()}

    return asyncio.run(read())


@pytest.mark.azurite
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the host process through /proc")
def test_killing_the_watch_supervisor_stops_its_host_and_frees_the_port(
    start_host: HostLauncher, account: StorageAccount
):
    hub = "orphan" + uuid.uuid4().hex[:10]
    host = start_host(SAMPLES / "hello_cities", "--watch", "--task-hub", hub)
    host.wait_for("Task hub")
    supervisor = host.process.pid
    (child,) = eventually(lambda: children(supervisor))
    assert "--listen-fd" in Path(f"/proc/{child}/cmdline").read_text()
    eventually(lambda: lease_owners(account, hub) != {None})
    try:
        os.kill(supervisor, signal.SIGKILL)
        host.process.wait(timeout=5)
        eventually(lambda: not alive(child), timeout=10)
        assert refused(host.port)
        assert lease_owners(account, hub) == {None}, "a normal stop hands its partition leases back"
        time.sleep(0.2)  # the reader thread drains what the host printed last
        assert "Stopping host" in host.output and "Traceback" not in host.output, host.output
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)
