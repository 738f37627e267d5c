"""The host's console: ``func start``-style lines for invocations, user ``logging`` calls and host detail."""

from __future__ import annotations

import contextvars
import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timezone

from rich.console import Console
from rich.markup import escape


@dataclass(frozen=True)
class InvocationInfo:
    """Which function an invocation runs, for log lines written while it runs."""

    function_name: str
    invocation_id: str


#: The invocation whose code is running in this task or thread (log records are attributed to it).
current_invocation: contextvars.ContextVar[InvocationInfo | None] = contextvars.ContextVar(
    "dfx_current_invocation", default=None
)


LEVEL_STYLES = {logging.WARNING: "yellow", logging.ERROR: "red", logging.CRITICAL: "bold red"}


def stamp() -> str:
    """The ``[2024-05-01T10:00:00.123Z]`` prefix of every host line, as ``func start`` writes it."""
    now = datetime.now(timezone.utc)
    return now.strftime("[%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z]"


class HostConsole:
    """Prints what a developer watching ``dfx start`` needs, one timestamped line per event."""

    def __init__(self, console: Console | None = None, *, verbose: bool = False) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True, file=sys.stdout)
        self.verbose = verbose

    def line(self, text: str, style: str | None = None) -> None:
        body = f"[{style}]{escape(text)}[/]" if style else escape(text)
        prefix = f"[dim]{escape(stamp())}[/] "
        self.console.print(prefix + body, highlight=False)

    def plain(self, text: str = "", style: str | None = None) -> None:
        self.console.print(f"[{style}]{escape(text)}[/]" if style else escape(text), highlight=False)

    def executing(self, function_name: str, invocation_id: str, reason: str) -> None:
        self.line(f"Executing 'Functions.{function_name}' (Reason='{reason}', Id={invocation_id})")

    def executed(self, function_name: str, invocation_id: str, ok: bool, duration_ms: float) -> None:
        outcome = "Succeeded" if ok else "Failed"
        self.line(
            f"Executed 'Functions.{function_name}' ({outcome}, Id={invocation_id}, Duration={duration_ms:.0f}ms)",
            None if ok else "red",
        )

    def error(self, text: str) -> None:
        self.line(text, "red")

    def warning(self, text: str) -> None:
        self.line(text, "yellow")


class UserLogHandler(logging.Handler):
    """Shows log records on the host console, prefixed with the function whose invocation wrote them."""

    def __init__(self, console: HostConsole) -> None:
        super().__init__(logging.DEBUG if console.verbose else logging.INFO)
        self.host_console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            invocation = current_invocation.get()
            prefix = f"{invocation.function_name}: " if invocation else ""
            if (
                not invocation
                and record.name.startswith(("dfx", "aiohttp", "azure"))
                and record.levelno < logging.WARNING
            ):
                if not self.host_console.verbose:
                    return
                prefix = f"{record.name}: "
            self.host_console.line(prefix + message, LEVEL_STYLES.get(record.levelno))
        except Exception:  # a broken handler must never take an invocation down
            self.handleError(record)


def install_logging(console: HostConsole) -> None:
    """Route the root logger through ``console``: user INFO and up always, host detail with ``--verbose``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = UserLogHandler(console)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if console.verbose else logging.INFO)
    for name in ("azure", "aiohttp.access", "asyncio", "watchfiles"):  # library chatter, even with --verbose
        logging.getLogger(name).setLevel(logging.WARNING)
