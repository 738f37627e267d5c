"""Hot reload for ``dfx start --watch``: a small parent process that restarts the host when the app changes.

The parent owns the listening socket and Azurite; each host is a child that inherits the socket, so requests
that arrive during a restart wait in the backlog instead of being refused, and the host being replaced answers
every connection it accepted before it exits (``dfx.emulator.http.drain``). A host that dies on its own is
restarted after a delay that grows while it keeps dying, and until then ``dfx.emulator.standin`` answers 503
with the reason. State lives in storage, so a restart loses nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from watchfiles import Change, DefaultFilter, watch

from dfx.emulator import azurite
from dfx.emulator.config import HOST_JSON, LOCAL_SETTINGS, Settings, load_settings
from dfx.emulator.logs import HostConsole
from dfx.emulator.parent import EXIT_REFUSED
from dfx.emulator.ports import listen_socket
from dfx.emulator.standin import Standin
from dfx.errors import DfxError

WATCHED_NAMES = (HOST_JSON, LOCAL_SETTINGS)
STOP_TIMEOUT = 10.0
"""Seconds a host gets to answer what it accepted (``dfx.emulator.http.drain``) and stop before it is killed."""
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before a host that exited on its own is restarted: the first delay, then longer while it keeps dying."""
STEADY_AFTER = 60.0
"""Seconds a host must have run for its exit to count as a first one again (the delays start over)."""
IGNORED_DIRS = (".dfx", ".venv", "venv", "node_modules", ".git", "__pycache__", ".python_packages", "__azurite_db")


class AppFilter(DefaultFilter):
    """Python files, host.json and local.settings.json of the app — not dfx's own files or virtualenvs."""

    def __init__(self) -> None:
        super().__init__(ignore_dirs=IGNORED_DIRS)

    def __call__(self, change: Change, path: str) -> bool:
        name = Path(path).name
        return super().__call__(change, path) and (name.endswith(".py") or name in WATCHED_NAMES)


class Supervisor:
    """Runs the host as a child process and replaces it whenever a watched file changes."""

    def __init__(self, settings: Settings, child_args: Sequence[str], console: HostConsole) -> None:
        self.settings = settings
        self.child_args = list(child_args)
        self.console = console
        self.stop_event = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self.spawned_at = 0.0
        self.exits = 0
        """Exits on its own in a row, each within ``STEADY_AFTER`` of its start."""
        self.restart_at: float | None = None
        self.standin: Standin | None = None
        self.refused = False
        """The host stopped because storage refused the credentials: this process exits non-zero too."""

    def _spawn(self, fd: int) -> subprocess.Popen[bytes]:
        """Start a host on the listening socket ``fd``; it stops when this process dies (``dfx.emulator.parent``).

        Called from the main thread only: Linux's parent-death signal fires when the *thread* that forked the
        child exits, and the main thread lives as long as this process.
        """
        command = [sys.executable, "-m", "dfx", "start", *self.child_args, "--listen-fd", str(fd)]
        command += ["--supervisor-pid", str(os.getpid())]
        return subprocess.Popen(command, pass_fds=(fd,))

    def _stop_child(self) -> None:
        child, self.child = self.child, None
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.console.warning(f"The host did not stop within {STOP_TIMEOUT:g} s; killing it.")
            child.kill()
            child.wait()

    def _start_host(self, fd: int) -> None:
        """Stop the stand-in (if any) and spawn the next host on the socket."""
        if self.standin is not None:
            self.standin.stop()
            self.standin = None
        self.restart_at = None
        self.child = self._spawn(fd)
        self.spawned_at = time.monotonic()

    def _tend(self, sock: socket.socket) -> None:
        """Notice a host that exited on its own: say so once, answer 503 meanwhile, restart it after a delay."""
        child = self.child
        if self.stop_event.is_set():
            return
        if child is not None and child.poll() == EXIT_REFUSED:  # it said why; restarting cannot help
            self.child = None
            self.refused = True
            self.stop_event.set()
            return
        if child is not None and child.poll() is not None:
            self.child = None
            lived = time.monotonic() - self.spawned_at
            self.exits = 1 if lived >= STEADY_AFTER else self.exits + 1
            delay = RESTART_DELAYS[min(self.exits, len(RESTART_DELAYS)) - 1]
            reason = f"The host {describe_exit(child.returncode)}; dfx restarts it in {delay:g} s."
            self.console.error(reason)
            self.restart_at = time.monotonic() + delay
            self.standin = Standin(sock, reason, retry_after=delay)
        elif self.child is None and self.restart_at is not None and time.monotonic() >= self.restart_at:
            self.console.line("Restarting the host…", "cyan")
            self._start_host(sock.fileno())

    def run(self) -> int:
        """Serve until Ctrl-C; return the exit code."""
        sock = listen_socket(self.settings.port)  # a taken port is said before Azurite is started for nothing
        try:
            started = azurite.ensure_azurite(
                self.settings.storage,
                data_dir=self.settings.state_dir / "azurite",
                log_path=self.settings.state_dir / "azurite.log",
                say=lambda text: self.console.line(text, "dim"),
            )
        except BaseException:
            sock.close()
            raise
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def request_stop(signum: int, frame: object) -> None:
            self.stop_event.set()

        for sig in previous:
            signal.signal(sig, request_stop)
        try:
            self._start_host(sock.fileno())
            for changes in watch(
                self.settings.app_dir,
                watch_filter=AppFilter(),
                stop_event=self.stop_event,
                debounce=200,
                step=50,
                rust_timeout=250,
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                if not changes:
                    self._tend(sock)
                    continue
                names = sorted({Path(path).name for _, path in changes})
                self.console.line(f"Detected changes in {', '.join(names)}. Restarting the host…", "cyan")
                self._stop_child()
                self._start_host(sock.fileno())
            return 1 if self.refused else 0
        finally:
            if self.standin is not None:
                self.standin.stop()
            self._stop_child()
            sock.close()
            for sig, handler in previous.items():
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(sig, handler)
            if started is not None:
                started.stop()
                self.console.line("Azurite stopped.", "dim")


def describe_exit(code: int) -> str:
    """``exited with code 3`` or ``was killed by SIGKILL``, for a child's return code."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dfx.emulator.supervisor APP_DIR --port N [host args…]``, exec'd by ``dfx start --watch``.

    Running as its own small program (not inside the CLI) keeps the parent process's memory low.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    console = HostConsole()
    try:
        settings = load_settings(args[0], port=int(args[args.index("--port") + 1]))
        return Supervisor(settings, args, console).run()
    except DfxError as exc:  # as the dfx command says it: one line on stderr, and the hint
        sys.stdout.flush()
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
