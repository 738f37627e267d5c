"""Host figures: ``dfx start`` time to first response, resident memory, and HTTP trigger throughput."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench.azurite import REPO_ROOT, free_ports
from dfx.emulator.storage import StorageAccount

SAMPLE = REPO_ROOT / "samples" / "hello_http"
HOST_STARTED = re.compile(r"Host started \((\d+) ms\)")


@dataclass
class HostFigures:
    """What the host bench measured; every list holds one value per run."""

    first_response_ms: list[float] = field(default_factory=list)
    reported_ms: list[float] = field(default_factory=list)
    host_rss_mb: list[float] = field(default_factory=list)
    watch_rss_mb: list[float] = field(default_factory=list)
    requests_per_second: float = 0.0
    requests: int = 0

    @staticmethod
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def _start(account: StorageAccount, port: int, log: IO[str], *extra: str) -> subprocess.Popen[str]:
    """Start the sample; its console goes to ``log`` (a pipe nobody reads would block it once full)."""
    return _start_app(account, SAMPLE, port, log, *extra)


def _start_app(account: StorageAccount, app: Path, port: int, log: IO[str], *extra: str) -> subprocess.Popen[str]:
    """Start ``dfx start APP`` with its console going to ``log``."""
    env = {**os.environ, "AzureWebJobsStorage": account.connection_string(), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "dfx", "start", str(app), "--port", str(port), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _stop(process: subprocess.Popen[str], log: IO[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.seek(0)
    return log.read()


def _wait_first_response(url: str, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dfx start exited early with code {process.returncode}")
        try:
            _get(url, timeout=1.0)
            return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("dfx start did not answer within 30 s")


def _wait_for_line(log: IO[str], text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log.seek(0)
        if text in log.read():
            return
        time.sleep(0.05)
    raise RuntimeError(f"dfx start never logged {text!r}")


def _throughput(url: str, requests: int, clients: int = 8) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _: _get(url), range(requests)))
    return requests / (time.perf_counter() - started)


def _measure_run(
    account: StorageAccount,
    port: int,
    url: str,
    log: IO[str],
    figures: HostFigures,
    *,
    throughput: bool,
    progress: Callable[[str], None],
) -> str:
    """One ``dfx start``: time to first response, then memory (and throughput); return its console output."""
    started = time.perf_counter()
    process = _start(account, port, log, "--no-watch")
    try:
        _wait_first_response(url, process)
        figures.first_response_ms.append((time.perf_counter() - started) * 1000)
        _wait_for_line(log, "ready on")  # the task hub (and the storage SDKs) loaded, as in real use
        if throughput:
            progress(f"{figures.requests} HTTP requests")
            figures.requests_per_second = _throughput(url, figures.requests)
        figures.host_rss_mb.append(_rss_mb(process.pid))
    finally:
        output = _stop(process, log)
    return output


def measure_host(account: StorageAccount, runs: int, requests: int, progress: Callable[[str], None]) -> HostFigures:
    """Start ``dfx start --no-watch`` ``runs`` times; then once with ``--watch`` for the supervisor's memory."""
    figures = HostFigures(requests=requests)
    for run in range(runs):
        progress(f"dfx start, run {run + 1} of {runs}")
        (port,) = free_ports(1)
        url = f"http://127.0.0.1:{port}/api/hello?name=bench"
        with tempfile.TemporaryFile("w+") as log:
            output = _measure_run(account, port, url, log, figures, throughput=run == runs - 1, progress=progress)
        found = HOST_STARTED.search(output)
        if found:
            figures.reported_ms.append(float(found.group(1)))
    progress("dfx start --watch (supervisor + host)")
    (port,) = free_ports(1)
    with tempfile.TemporaryFile("w+") as log:
        process = _start(account, port, log, "--watch")
        try:
            _wait_first_response(f"http://127.0.0.1:{port}/api/hello", process)
            _wait_for_line(log, "ready on")
            figures.watch_rss_mb.append(_rss_mb(process.pid) + sum(_rss_mb(c) for c in _children(process.pid)))
        finally:
            _stop(process, log)
    return figures


def host_section(figures: HostFigures) -> str:
    """The ``## Host`` section of BENCHMARKS.md."""
    median = HostFigures.median
    runs = len(figures.first_response_ms)
    return "\n".join(
        [
            "## Host",
            "",
            f"`dfx start samples/hello_http --no-watch`, {runs} runs against the bench's Azurite (already running, "
            "task hub already created after the first run). Targets from issue 3: ready in <= 1.0 s, <= 120 MB.",
            "",
            "| Figure | Median | Runs |",
            "|---|---:|---|",
            f"| Host started (reported: process start to listening) | {median(figures.reported_ms):.0f} ms"
            f" | {', '.join(f'{v:.0f}' for v in figures.reported_ms)} |",
            f"| Process start to first HTTP 200 (measured by the bench) | {median(figures.first_response_ms):.0f} ms"
            f" | {', '.join(f'{v:.0f}' for v in figures.first_response_ms)} |",
            "| Resident memory of the host (task hub ready; the last run after "
            f"{figures.requests} requests) | {median(figures.host_rss_mb):.0f} MB"
            f" | {', '.join(f'{v:.0f}' for v in figures.host_rss_mb)} |",
            f"| Resident memory with `--watch` (supervisor + host) | {median(figures.watch_rss_mb):.0f} MB | |",
            f"| HTTP trigger throughput (sync function, 8 client threads) | {figures.requests_per_second:.0f} req/s"
            " | |",
            "",
        ]
    )
