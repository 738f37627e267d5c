"""Shared pieces of the CLI: the consoles, the common options and running async work."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
from collections.abc import AsyncIterator, Coroutine
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from dfx.emulator.config import Settings, load_settings
from dfx.errors import DfxError

if TYPE_CHECKING:  # the storage SDKs load only when a command runs
    from dfx.emulator.storage import TaskHub
    from dfx.emulator.storage.instances_table import InstanceRecord
    from dfx.model.history import OrchestrationStatus

T = TypeVar("T")

# Piped output is not cut to 80 columns: tables of payloads need room (COLUMNS still wins).
out = Console(highlight=False, soft_wrap=False, width=shutil.get_terminal_size((160, 24)).columns)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(exc: DfxError) -> None:
    """A typed failure as the CLI says it: ``error: message`` on one line, details dimmed, ``hint: ...``."""
    err.print(f"[red]error:[/] {escape(exc.message)}", highlight=False)
    details = getattr(exc, "details", "")
    if details:
        err.print(details, markup=False, highlight=False, style="dim")
    if exc.hint:
        err.print(f"[dim]hint: {escape(exc.hint)}[/]", highlight=False)


TaskHubOption = Annotated[
    str | None,
    typer.Option("--task-hub", "--task-hub-name", help="Task hub name (default: host.json, else TestHubName)."),
]
ConnectionOption = Annotated[
    str | None,
    typer.Option(
        "--connection",
        "--connection-string-setting",
        help="Connection string, or the app setting that holds one (default: AzureWebJobsStorage).",
    ),
]
AppDirOption = Annotated[
    Path, typer.Option("--app-dir", help="Function app folder to read host.json and local.settings.json from.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def settings_for(app_dir: Path, task_hub: str | None, connection: str | None) -> Settings:
    return load_settings(app_dir, task_hub=task_hub, connection=connection)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from a synchronous command.

    Ctrl-C cancels the coroutine, then raises KeyboardInterrupt, as ``asyncio.run`` does from Python 3.11 on.
    """
    if sys.version_info >= (3, 11):
        return asyncio.run(coro)
    return asyncio.run(_cancelled_by_sigint(coro))


async def _cancelled_by_sigint(coro: Coroutine[Any, Any, T]) -> T:
    import signal
    import threading

    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        if task is not None:
            task.cancel()

    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        return await coro
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        if main:
            loop.remove_signal_handler(signal.SIGINT)


def iso_time(value: datetime, timespec: str = "auto") -> str:
    """A time as ISO-8601 with ``Z`` for UTC, to the microsecond as stored (``2026-01-31T12:00:00.123456Z``)."""
    return value.isoformat(timespec=timespec).replace("+00:00", "Z")


def format_time(value: datetime | None) -> str:
    """A time to the second in UTC, ``2026-01-31T12:00:00Z``; empty for None."""
    return "" if value is None else iso_time(value, "seconds")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, ensure_ascii=False, indent=2) + "\n")


def shorten(value: Any, width: int, full: bool) -> str:
    """A payload cell: the whole text with ``full``, else one line cut to ``width`` characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if full:
        return text
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- pieces shared by the commands that act on one instance ------------------------------------------

InstanceIdArgument = Annotated[
    str | None, typer.Argument(metavar="ID", help="The instance id (or pass it with --id, as Core Tools does).")
]
IdOption = Annotated[str | None, typer.Option("--id", help="The instance id (Core Tools' spelling of the argument).")]


def pick_instance_id(argument: str | None, option: str | None) -> str:
    """The instance id given either as the positional argument or as ``--id`` (exactly one of them)."""
    if argument is not None and option is not None and argument != option:
        raise typer.BadParameter(f"two different ids given: {argument!r} and --id {option!r}.", param_hint="ID")
    chosen = argument if argument is not None else option
    if not chosen:
        raise typer.BadParameter("an instance id is needed: pass it as the first argument or with --id.")
    return chosen


def json_argument(value: str | None, option: str) -> str | None:
    """The JSON text of an option that takes inline JSON or ``@file.json`` (Core Tools' convention).

    Returns the text as given (or the file's text) after checking that it parses; the caller decides how it is
    stored. A value that is not JSON is refused with the parser's position; a plain word is not taken as a
    string, because on Azure the SDK would not take it either.
    """
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {path}: {exc.strerror}.", param_hint=option) from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        where = f" in {value[1:]}" if value.startswith("@") else ""
        hint = " (a string needs quotes: '\"text\"')" if text.strip() and text.strip()[0].isalpha() else ""
        raise typer.BadParameter(
            f"not valid JSON{where}: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}.", param_hint=option
        ) from None
    return text


# -- filters shared by the commands that list or purge instances --------------------------------------


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO-8601 time option (``2026-01-31T12:00:00Z``; no zone means UTC), or None when not given."""
    from dfx.model.encoding import parse_datetime

    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 time like 2026-01-31T12:00:00Z.", param_hint=option
        ) from None


def parse_statuses(values: list[str] | None, option: str = "--runtime-status") -> frozenset[OrchestrationStatus]:
    """Runtime statuses from a repeatable option whose values may also be comma- or space-separated."""
    from dfx.model.history import OrchestrationStatus

    found = set()
    for value in values or []:
        for name in value.replace(",", " ").split():
            match = next((s for s in OrchestrationStatus if s.name.lower() == name.lower()), None)
            if match is None:
                names = ", ".join(s.name for s in OrchestrationStatus)
                raise typer.BadParameter(f"unknown status {name!r}; use one of {names}.", param_hint=option)
            found.add(match)
    return frozenset(found)


# -- the task hub a command acts on ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def open_hub(settings: Settings, *, create: bool = False) -> AsyncIterator[TaskHub]:
    """The task hub of ``settings``, checked to exist (or created with ``create``), closed afterwards.

    An existing hub keeps the partition count it was created with, whatever host.json here says: a message
    for an instance must land on the control queue that hub's hosts read.
    """
    from dfx.emulator.storage import TaskHub, TaskHubNotFoundError

    try:
        hub = await TaskHub.open_existing(settings.storage, settings.hub_name, settings.partition_count)
        missing = False
    except TaskHubNotFoundError:
        if not create:
            raise
        hub, missing = TaskHub(settings.storage, settings.hub_name, settings.partition_count), True
    async with hub:
        if missing:
            await hub.create()
            err.print(f"[dim]Created task hub {escape(hub.name)} in {escape(settings.storage.describe())}.[/]")
        yield hub


def instance_not_found(hub: TaskHub, instance_id: str) -> DfxError:
    """The one-line error for an instance id that ``hub`` holds nothing of."""
    from dfx.emulator.storage import InstanceNotFoundError

    return InstanceNotFoundError(f"No instance with ID {instance_id!r} found in task hub {hub.name!r}.")


async def require_instance(hub: TaskHub, instance_id: str, *, fetch_large: bool = True) -> InstanceRecord:
    """The Instances row of ``instance_id``, or the one-line "no instance" error."""
    record = await hub.instances.get(instance_id, fetch_large=fetch_large)
    if record is None:
        raise instance_not_found(hub, instance_id)
    return record


# -- asking before destroying something ----------------------------------------------------------------

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking first.")]


class ConfirmationRequiredError(DfxError):
    """A destructive command without --yes where nobody can answer the question (stdin is not a terminal)."""

    hint = "Pass --yes to confirm from a script or CI."


def stdin_is_interactive() -> bool:
    """Whether someone can answer a question on stdin."""
    return sys.stdin.isatty()


def confirm_or_exit(question: str, *, yes: bool) -> None:
    """Go on only if ``yes`` was given or the user answers yes; "no" prints "Aborted." and exits with 1.

    Never blocks a script: without a terminal on stdin and without ``yes`` it refuses instead of asking.
    The question goes to stderr so that ``--json`` output stays clean.
    """
    if yes:
        return
    if not stdin_is_interactive():
        raise ConfirmationRequiredError(f"{question} Not asked: stdin is not a terminal, so nothing was deleted.")
    if not typer.confirm(question, default=False, err=True):
        err.print("Aborted.")
        raise typer.Exit(1)
