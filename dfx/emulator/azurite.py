"""Find, start, wait for and stop an Azurite process, and tell whether storage endpoints answer."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from dfx.emulator.listeners import PortOwner, port_owner
from dfx.emulator.storage.connection import SERVICES, StorageAccount, development_storage
from dfx.errors import DfxError

log = logging.getLogger(__name__)

AZURITE_VERSION = "3.35.0"  # the newest 3.x that runs on Node 20; keep in step with package.json
USER_INSTALL_DIR = Path.home() / ".dfx" / "azurite"
STATE_FILE = "azurite.json"
READY_TIMEOUT = 5.0
_REPO_ROOT = Path(__file__).resolve().parents[2]


class AzuriteError(DfxError):
    """Azurite could not be found, installed, started or stopped."""


class NodeNotFoundError(AzuriteError):
    hint = "Install Node.js 20 or newer (e.g. 'apt-get install nodejs' or https://nodejs.org), then retry."


class AzuriteNotFoundError(AzuriteError):
    hint = "Run 'dfx azurite install' (installs into ~/.dfx/azurite), or 'npm install -g azurite@3.35.0'."


class AzuriteStartError(AzuriteError):
    hint = "See the Azurite log named above; another program may hold the ports (try other --*-port values)."


@dataclass(frozen=True)
class AzuriteOptions:
    """How to run Azurite: ports, and either a data folder (``location``) or in-memory persistence."""

    location: Path | None = None
    host: str = "127.0.0.1"
    blob_port: int = 10000
    queue_port: int = 10001
    table_port: int = 10002

    @property
    def in_memory(self) -> bool:
        return self.location is None

    def account(self) -> StorageAccount:
        return development_storage(
            host=self.host, blob_port=self.blob_port, queue_port=self.queue_port, table_port=self.table_port
        )

    def arguments(self) -> list[str]:
        args = [
            "--blobHost", self.host, "--blobPort", str(self.blob_port),
            "--queueHost", self.host, "--queuePort", str(self.queue_port),
            "--tableHost", self.host, "--tablePort", str(self.table_port),
            "--skipApiVersionCheck", "--disableTelemetry",
        ]  # fmt: skip
        if self.location is None:
            args.append("--inMemoryPersistence")
        else:
            args += ["--location", str(self.location)]
        return args


@dataclass
class AzuriteProcess:
    """An Azurite that dfx started: enough to find it again from another process and stop it."""

    pid: int
    options: AzuriteOptions
    log_path: Path
    started_at: float = field(default_factory=time.time)
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def is_alive(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        return _pid_is_azurite(self.pid)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the process group dfx started; a no-op when it is already gone."""
        if not self.is_alive():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_alive():
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        if self._popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=1)

    def to_state(self) -> dict[str, object]:
        opts = asdict(self.options)
        opts["location"] = str(self.options.location) if self.options.location else None
        return {
            "pid": self.pid,
            "options": opts,
            "log_path": str(self.log_path),
            "started_at": self.started_at,
        }

    @classmethod
    def from_state(cls, data: dict[str, object]) -> AzuriteProcess:
        opts = dict(data["options"])  # type: ignore[call-overload]
        opts["location"] = Path(opts["location"]) if opts.get("location") else None
        return cls(
            pid=int(data["pid"]),  # type: ignore[call-overload]
            options=AzuriteOptions(**opts),
            log_path=Path(str(data["log_path"])),
            started_at=float(data.get("started_at", 0.0)),  # type: ignore[arg-type]
        )


def _pid_is_azurite(pid: int) -> bool:
    """True when ``pid`` is alive and its command line mentions azurite (a recycled pid is not ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return b"azurite" in cmdline


# ---------------------------------------------------------------------------------------------------
# Probing


def _probe(url: str, timeout: float) -> bool:
    parts = urlsplit(url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


FREE, AZURITE, OTHER_HTTP, SILENT = "free", "azurite", "other-http", "silent"


@dataclass(frozen=True)
class PortCheck:
    """What one storage endpoint's port holds: nothing (``free``), Azurite, another HTTP server, or a program
    that takes connections but gives no HTTP answer in time (``silent``: a busy Azurite, or not Azurite)."""

    service: str
    host: str
    port: int
    state: str
    server: str = ""
    """The ``Server`` header of the answer (Azurite says ``Azurite-Blob/3.35.0``)."""
    owner: PortOwner | None = None
    """The process listening there, when it can be found (not looked for on free ports)."""

    @property
    def answers(self) -> bool:
        return self.state in (AZURITE, OTHER_HTTP)

    @property
    def not_azurite(self) -> bool:
        """Certainly not an Azurite: another HTTP server, or a silent program that is neither Azurite nor a proxy."""
        if self.state == OTHER_HTTP:
            return True
        return self.state == SILENT and self.owner is not None and not (self.owner.is_azurite or self.owner.may_forward)

    def label(self) -> str:
        return f"{self.port} ({self.service})"

    def what(self) -> str:
        """What holds the port, for a message: ``python (pid 12), which gives no HTTP answer``."""
        holder = self.owner.describe() if self.owner else "a program"
        if self.state == OTHER_HTTP:
            return f"{holder}, which answers as {self.server!r}" if self.server else f"{holder}, not Azurite"
        return f"{holder}, which gives no HTTP answer"


def _check_port(service: str, url: str, timeout: float) -> PortCheck:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(host, port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        response.read()
    except ConnectionRefusedError:
        return PortCheck(service, host, port, SILENT if _port_in_use(host, port) else FREE)
    except (OSError, http.client.HTTPException):
        return PortCheck(service, host, port, SILENT)
    finally:
        conn.close()
    server = response.getheader("Server") or ""
    return PortCheck(service, host, port, AZURITE if server.startswith("Azurite-") else OTHER_HTTP, server)


def check_ports(account: StorageAccount, timeout: float = 1.0) -> dict[str, PortCheck]:
    """What holds each of the account's blob, queue and table ports (probed at once)."""
    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        return dict(pool.map(lambda s: (s, _check_port(s, account.endpoint(s), timeout)), SERVICES))


def with_owners(checks: dict[str, PortCheck]) -> dict[str, PortCheck]:
    """``checks`` with the process found for each port that is held but not by an answering Azurite."""
    return {
        service: replace(check, owner=port_owner(check.port)) if check.state in (OTHER_HTTP, SILENT) else check
        for service, check in checks.items()
    }


def endpoints_answer(account: StorageAccount, timeout: float = 1.0) -> dict[str, bool]:
    """Which of the account's blob, queue and table endpoints answer HTTP right now."""
    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        results = pool.map(lambda s: (s, _probe(account.endpoint(s), timeout)), SERVICES)
        return dict(results)


def is_running(account: StorageAccount, timeout: float = 1.0) -> bool:
    return all(endpoints_answer(account, timeout).values())


def wait_until_ready(
    account: StorageAccount, timeout: float = READY_TIMEOUT, process: AzuriteProcess | None = None
) -> None:
    """Block until blob, queue and table all answer; raise AzuriteStartError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    status: dict[str, bool] = {}
    while time.monotonic() < deadline:
        status = endpoints_answer(account, timeout=0.5)
        if all(status.values()):
            return
        if process is not None and not process.is_alive():
            raise AzuriteStartError(f"Azurite exited during start-up; see {process.log_path}.")
        time.sleep(0.05)
    missing = ", ".join(s for s, ok in status.items() if not ok) or "all services"
    where = f"; see {process.log_path}" if process else ""
    raise AzuriteStartError(f"Azurite did not answer within {timeout:.0f} s ({missing} not ready){where}.")


# ---------------------------------------------------------------------------------------------------
# Finding and installing


def search_paths(cwd: Path | None = None, prefix: Path | None = None) -> list[Path]:
    """Where dfx looks for the ``azurite`` launcher, in order (after PATH).

    ``node_modules/.bin`` in the working folder and each folder above it (as Node resolves packages), above
    the Python environment dfx runs in (a venv inside a checkout whose ``npm ci`` ran), in dfx's own
    checkout (an editable install), then ``~/.dfx/azurite`` (``dfx azurite install``).
    """
    cwd = (cwd or Path.cwd()).resolve()
    prefix = (prefix or Path(sys.prefix)).resolve()
    folders = [cwd, *cwd.parents, *prefix.parents, _REPO_ROOT, USER_INSTALL_DIR]
    unique: list[Path] = []
    for folder in folders:
        path = folder / "node_modules" / ".bin"
        if path not in unique:
            unique.append(path)
    return unique


def find_azurite(cwd: Path | None = None) -> Path | None:
    """The ``azurite`` launcher: on PATH, else the first in ``search_paths``."""
    found = shutil.which("azurite")
    if found:
        return Path(found)
    for directory in search_paths(cwd):
        candidate = directory / "azurite"
        if candidate.exists():
            return candidate
    return None


def require_node() -> str:
    node = shutil.which("node")
    if not node:
        raise NodeNotFoundError("Azurite needs Node.js, and 'node' is not on PATH.")
    return node


def install_azurite(target: Path = USER_INSTALL_DIR, version: str = AZURITE_VERSION) -> Path:
    """Install Azurite with npm into ``target`` and return the launcher's path."""
    require_node()
    npm = shutil.which("npm")
    if not npm:
        raise NodeNotFoundError("Installing Azurite needs npm, and 'npm' is not on PATH.")
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(target), f"azurite@{version}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["npm failed"])[-1]
        raise AzuriteError(f"npm could not install azurite@{version}: {last}")
    launcher = target / "node_modules" / ".bin" / "azurite"
    if not launcher.exists():
        raise AzuriteError(f"npm finished but {launcher} is missing.")
    return launcher


# ---------------------------------------------------------------------------------------------------
# Starting and stopping


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def start_azurite(
    options: AzuriteOptions,
    *,
    log_path: Path,
    cwd: Path | None = None,
    ready_timeout: float = READY_TIMEOUT,
) -> AzuriteProcess:
    """Start Azurite in its own process group and wait until every service answers."""
    busy = [
        (service, port)
        for service, port in (("blob", options.blob_port), ("queue", options.queue_port), ("table", options.table_port))
        if _port_in_use(options.host, port)
    ]
    if busy:
        owners = [(port, port_owner(port)) for _, port in busy]
        held = "; ".join(f"{port} by {owner.describe()}" for port, owner in owners if owner is not None)
        raise AzuriteStartError(
            f"Cannot start Azurite: port(s) {', '.join(f'{s} {p}' for s, p in busy)} on {options.host} are "
            f"already in use{f' ({held})' if held else ''}.",
            hint="Stop what holds them ('dfx azurite status' tells whether it is Azurite), or choose other ports.",
        )
    launcher = find_azurite(cwd)
    if launcher is None:
        raise AzuriteNotFoundError("Azurite is not installed (looked on PATH, in node_modules and ~/.dfx).")
    require_node()
    if options.location is not None:
        options.location.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        popen = subprocess.Popen(
            [str(launcher), *options.arguments()],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process = AzuriteProcess(pid=popen.pid, options=options, log_path=log_path, _popen=popen)
    log.debug("started Azurite pid %s: %s", popen.pid, options.arguments())
    try:
        wait_until_ready(options.account(), timeout=ready_timeout, process=process)
    except BaseException:  # Ctrl-C during start-up must not leave an orphan in its own session
        process.stop()
        raise
    return process


def write_state(state_dir: Path, process: AzuriteProcess) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / STATE_FILE).write_text(json.dumps(process.to_state(), indent=2))


def read_state(state_dir: Path) -> AzuriteProcess | None:
    """The Azurite that dfx started from ``state_dir``, if it is still running."""
    path = state_dir / STATE_FILE
    try:
        process = AzuriteProcess.from_state(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not process.is_alive():
        path.unlink(missing_ok=True)
        return None
    return process


def stop_recorded(state_dir: Path) -> AzuriteProcess | None:
    """Stop the Azurite recorded in ``state_dir`` (only one dfx started); return it, or None."""
    process = read_state(state_dir)
    if process is not None:
        process.stop()
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return process


BUSY_STORAGE_WAIT = 20.0
"""Seconds to wait for storage ports that take connections but do not answer yet (a busy or starting Azurite)."""
SUGGESTED_PORTS = range(20000, 20100, 10)
"""Where to look for three free ports to suggest when the storage ports are taken."""
_STATE_WORDS = {
    FREE: ("is free", "are free"),
    AZURITE: ("answers as Azurite", "answer as Azurite"),
    OTHER_HTTP: ("answers as another server", "answer as other servers"),
    SILENT: ("gives no answer", "give no answer"),
}


class StoragePortsError(AzuriteError):
    """A local storage port is held by a program that is not an answering Azurite; the message names it."""


def suggest_ports(host: str) -> tuple[int, int, int]:
    """Three consecutive free ports on ``host`` for blob, queue and table (20000-20002 when free)."""
    for base in SUGGESTED_PORTS:
        if not any(_port_in_use(host, base + i) for i in range(3)):
            return base, base + 1, base + 2
    ports = []
    for _ in range(3):
        with socket.socket() as sock:
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
    return ports[0], ports[1], ports[2]


def other_ports(host: str) -> str:
    """How to give ``AzureWebJobsStorage`` other ports (the end of a hint), with a full connection string."""
    blob, queue, table = suggest_ports(host)
    account = development_storage(host=host, blob_port=blob, queue_port=queue, table_port=table)
    return (
        "point AzureWebJobsStorage (in local.settings.json Values, or the environment) at free ports, where dfx "
        "starts Azurite itself ('UseDevelopmentStorage=true' always means 10000-10002), e.g. "
        f"{account.connection_string()}"
    )


def _ports_error(checks: dict[str, PortCheck], held: list[PortCheck], why: str) -> StoragePortsError:
    """The error naming the ``held`` ports and what holds them, the state of the others, and the way out."""
    host = held[0].host
    if len(held) == 1:
        text = f"Port {held[0].label()} on {host} is held by {held[0].what()}"
    else:
        text = f"Ports {', '.join(c.label() for c in held)} on {host} are held: " + "; ".join(
            f"{c.port} by {c.what()}" for c in held
        )
    others = [c for c in checks.values() if c not in held]
    for state, (one, many) in _STATE_WORDS.items():
        ports = [c.label() for c in others if c.state == state]
        if ports:
            text += f"; {' and '.join(ports)} {one if len(ports) == 1 else many}"
    stop = "Stop that program" if len({c.owner for c in held}) == 1 else "Stop those programs"
    return StoragePortsError(f"{text}. {why}", hint=f"{stop}, or {other_ports(host)}")


def using_message(checks: dict[str, PortCheck], data_dir: Path) -> str:
    """Which Azurite ``dfx start`` uses when one already answers, and where its data is, if that can be known."""
    first = checks["blob"]
    text = f"Using the Azurite already running on {first.host} ports {', '.join(str(c.port) for c in checks.values())}"
    owner = port_owner(first.port, azurite_only=True)
    data = owner.azurite_data() if owner else None
    if data is None:
        where = "data folder unknown"
    elif data == "memory":
        where = "data in memory only"
    elif Path(data) == data_dir:
        where = f"data in this app's {data_dir}"
    else:
        where = f"data in {data}, not in this app's {data_dir}"
    return f"{text} ({owner.describe() + ', ' if owner else ''}{where})."


def ensure_azurite(
    account: StorageAccount, *, data_dir: Path, log_path: Path, say: Callable[[str], None]
) -> AzuriteProcess | None:
    """Start Azurite for ``account`` when it is local and does not answer; return the process started, if any.

    ``say`` tells the user what happens, and which Azurite is used when one already answers. A remote account
    that does not answer is an error, never started; so is a local port held by a program that is not Azurite
    (named, with the way to other ports). Ports that take connections but give no answer yet are waited for.
    """
    checks = check_ports(account, timeout=0.5)
    if all(c.answers for c in checks.values()):
        if account.is_local and all(c.state == AZURITE for c in checks.values()):
            say(using_message(checks, data_dir))
        return None
    if not account.is_local:
        raise AzuriteError(
            f"Storage account {account.describe()} does not answer.",
            hint="Check the AzureWebJobsStorage connection string and your network.",
        )
    if any(c.state != FREE for c in checks.values()) and _wait_for_held_ports(account, checks, data_dir, say):
        return None

    options = AzuriteOptions(
        location=data_dir,
        blob_port=checks["blob"].port,
        queue_port=checks["queue"].port,
        table_port=checks["table"].port,
    )
    say(f"Storage is not running: starting Azurite (data in {data_dir})…")
    started = time.perf_counter()
    process = start_azurite(options, log_path=log_path, cwd=Path(__file__).parent)
    say(f"Azurite started in {(time.perf_counter() - started) * 1000:.0f} ms (pid {process.pid}).")
    return process


def _wait_for_held_ports(
    account: StorageAccount, checks: dict[str, PortCheck], data_dir: Path, say: Callable[[str], None]
) -> bool:
    """Some ports are held, not all by an answering Azurite: fail at once when one is certainly not Azurite, else
    wait for a busy or starting Azurite (``BUSY_STORAGE_WAIT``) and fail naming what did not come to answer.

    True when an Azurite answers on all three ports at last; False when they all came free (start one).
    """
    deadline = time.monotonic() + BUSY_STORAGE_WAIT
    said = False
    while True:
        checks = with_owners(checks)
        foreign = [c for c in checks.values() if c.not_azurite]
        if foreign:
            subject, it = ("It is", "it") if len(foreign) == 1 else ("They are", "them")
            raise _ports_error(
                checks, foreign, f"{subject} not Azurite: dfx can neither use {it} nor start Azurite there."
            )
        if all(c.state == AZURITE for c in checks.values()):
            say(using_message(checks, data_dir))
            return True
        if all(c.state == FREE for c in checks.values()):
            return False
        if time.monotonic() >= deadline:
            break
        if not said:
            say("Storage answers slowly; waiting for it…")
            said = True
        time.sleep(0.2)
        checks = check_ports(account, timeout=0.5)
    silent = [c for c in checks.values() if c.state == SILENT]
    if silent:
        raise _ports_error(
            checks,
            silent,
            f"No answer within {BUSY_STORAGE_WAIT:.0f} s: dfx can neither use {'it' if len(silent) == 1 else 'them'} "
            "nor start Azurite there.",
        )
    answering = [c for c in checks.values() if c.state == AZURITE]
    missing = [c for c in checks.values() if c.state == FREE]
    host = missing[0].host
    raise StoragePortsError(
        f"Azurite answers on {' and '.join(c.label() for c in answering)} on {host}, but nothing listens on "
        f"{' and '.join(c.label() for c in missing)}: dfx cannot start Azurite while a port of it is taken, "
        f"nor use an Azurite without {' and '.join(c.service for c in missing)}.",
        hint="Give AzureWebJobsStorage the three ports of that Azurite (all of blob, queue and table running), "
        "stop it, or " + other_ports(host),
    )
