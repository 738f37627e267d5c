"""A private, in-memory Azurite for one bench run, on free ports, always stopped afterwards."""

from __future__ import annotations

import json
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

from dfx.emulator.azurite import AzuriteError, AzuriteOptions, AzuriteProcess, start_azurite
from dfx.emulator.storage import StorageAccount

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 20.0


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that nothing listens on right now (all held open until all are chosen)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def azurite_version() -> str:
    """The version in the project's node_modules/azurite/package.json, or "unknown"."""
    try:
        return str(json.loads((REPO_ROOT / "node_modules" / "azurite" / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


@contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """Record SIGINT and SIGTERM instead of acting on them; yield the list they are recorded in.

    ``start_azurite`` stops its child only on AzuriteError, so a Ctrl-C during start-up would leave
    Azurite running with nobody holding its pid; the caller re-raises what was recorded once it does.
    """
    caught: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, record) for signum in watched}
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def running_azurite(workdir: Path) -> Iterator[StorageAccount]:
    """Start Azurite with in-memory persistence (its log in ``workdir``), yield its account, then stop it."""
    blob, queue, table = free_ports(3)
    options = AzuriteOptions(blob_port=blob, queue_port=queue, table_port=table)
    log_path = workdir / "azurite.log"
    process: AzuriteProcess | None = None
    try:
        with deferred_signals() as caught:
            try:
                process = start_azurite(options, log_path=log_path, ready_timeout=READY_TIMEOUT)
            except AzuriteError:
                _print_log_tail(log_path)
                raise
        for signum in caught[:1]:
            signal.raise_signal(signum)  # now that the process is known, act on an interruption
        yield options.account()
    finally:
        if process is not None:
            process.stop()


def _print_log_tail(log_path: Path, lines: int = 20) -> None:
    """Show the end of Azurite's log on stderr (the log lives in a folder that is about to be deleted)."""
    try:
        tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    if tail:
        print(f"--- last lines of {log_path} ---", *tail, sep="\n", file=sys.stderr)
