"""``dfx start`` as a subprocess on a free port, driven over HTTP; its console output is kept for assertions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dfx.emulator.storage import StorageAccount
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
APPS = Path(__file__).parent / "apps"


@dataclass
class RunningHost:
    """A ``dfx start`` process: its base URL and every line it printed so far."""

    process: subprocess.Popen[str]
    port: int
    app_dir: Path
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 20.0, after: int = 0) -> int:
        """Wait until a line after index ``after`` contains ``text``; return that line's index."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, line in enumerate(self.lines[after:], start=after):
                if text in line:
                    return i
            if self.process.poll() is not None and not any(text in line for line in self.lines[after:]):
                time.sleep(0.2)  # let the reader thread drain the pipe
                if not any(text in line for line in self.lines[after:]):
                    raise AssertionError(
                        f"dfx start exited ({self.process.returncode}) before {text!r}:\n{self.output}"
                    )
            time.sleep(0.02)
        raise AssertionError(f"no {text!r} within {timeout} s:\n{self.output}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def copy_app(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".dfx"))
    return target


class HostLauncher:
    """Starts ``dfx start`` processes on copies of app folders, against the suite's Azurite."""

    def __init__(self, account: StorageAccount, workdir: Path) -> None:
        self.account = account
        self.workdir = workdir
        self.hosts: list[RunningHost] = []

    def __call__(
        self,
        source: Path,
        *args: str,
        wait: str | None = "Host started",
        copy: bool = True,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> RunningHost:
        app_dir = copy_app(source, self.workdir / f"{source.name}-{len(self.hosts)}") if copy else source
        port = port or free_port()
        env = {**os.environ, "AzureWebJobsStorage": self.account.connection_string(), "PYTHONUNBUFFERED": "1",
               "COLUMNS": "200", **(env or {})}  # fmt: skip
        process = subprocess.Popen(
            [sys.executable, "-m", "dfx", "start", str(app_dir), "--port", str(port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=self.workdir,
        )
        host = RunningHost(process, port, app_dir)
        self.hosts.append(host)

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                host.lines.append(line.rstrip("\n"))

        threading.Thread(target=read, daemon=True).start()
        if wait:
            host.wait_for(wait)
        return host

    def stop_all(self) -> None:
        for host in self.hosts:
            host.stop()


@pytest.fixture
def start_host(account: StorageAccount, tmp_path: Path) -> Iterator[HostLauncher]:
    """Start ``dfx start`` on a copy of an app folder; every host is stopped after the test."""
    launcher = HostLauncher(account, tmp_path)
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="module")
def module_hosts(account: StorageAccount, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostLauncher]:
    """Like ``start_host``, for hosts shared by a module's tests."""
    launcher = HostLauncher(account, tmp_path_factory.mktemp("hosts"))
    yield launcher
    launcher.stop_all()


@dataclass
class Reply:
    """An HTTP answer: status, headers (case-insensitive lookups) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def call(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
    """One HTTP request; error statuses are answers too, not exceptions."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return Reply(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers.items()), error.read())


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy, and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s (last: {last!r})")
