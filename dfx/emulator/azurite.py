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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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


def search_paths(cwd: Path | None = None) -> list[Path]:
    """Where dfx looks for the ``azurite`` launcher, in order (after PATH)."""
    cwd = cwd or Path.cwd()
    paths = [cwd / "node_modules" / ".bin", _REPO_ROOT / "node_modules" / ".bin"]
    paths.append(USER_INSTALL_DIR / "node_modules" / ".bin")
    unique: list[Path] = []
    for p in paths:
        if p not in unique:
            unique.append(p)
    return unique


def find_azurite(cwd: Path | None = None) -> Path | None:
    """The ``azurite`` launcher: on PATH, in ./node_modules/.bin, in dfx's checkout, or ~/.dfx/azurite."""
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
        f"{service} {port}"
        for service, port in (("blob", options.blob_port), ("queue", options.queue_port), ("table", options.table_port))
        if _port_in_use(options.host, port)
    ]
    if busy:
        raise AzuriteStartError(
            f"Cannot start Azurite: port(s) {', '.join(busy)} on {options.host} are already in use.",
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


def ensure_azurite(
    account: StorageAccount, *, data_dir: Path, log_path: Path, say: Callable[[str], None]
) -> AzuriteProcess | None:
    """Start Azurite for ``account`` when it is local and does not answer; return the process started, if any.

    ``say`` tells the user what happens. A remote account that does not answer is an error, never started.
    """
    if is_running(account, timeout=0.5):
        return None
    if not account.is_local:
        raise AzuriteError(
            f"Storage account {account.describe()} does not answer.",
            hint="Check the AzureWebJobsStorage connection string and your network.",
        )

    def port(service: str, default: int) -> int:
        return urlsplit(account.endpoint(service)).port or default

    host = urlsplit(account.endpoint("table")).hostname or "127.0.0.1"
    ports = [port("blob", 10000), port("queue", 10001), port("table", 10002)]
    if any(_port_in_use(host, p) for p in ports):
        # Something listens there: a busy Azurite answers slowly rather than not at all.
        say("Storage answers slowly; waiting for it…")
        try:
            wait_until_ready(account, timeout=BUSY_STORAGE_WAIT)
        except AzuriteStartError as exc:
            raise AzuriteError(
                f"Storage at {account.describe()} does not answer, but its ports are in use.",
                hint="Another program may hold the ports; 'dfx azurite status' tells whether it is Azurite.",
            ) from exc
        return None

    options = AzuriteOptions(
        location=data_dir,
        blob_port=port("blob", 10000),
        queue_port=port("queue", 10001),
        table_port=port("table", 10002),
    )
    say(f"Storage is not running: starting Azurite (data in {data_dir})…")
    started = time.perf_counter()
    process = start_azurite(options, log_path=log_path, cwd=Path(__file__).parent)
    say(f"Azurite started in {(time.perf_counter() - started) * 1000:.0f} ms (pid {process.pid}).")
    return process
