"""Shared pieces of the CLI: the consoles, the common options and running async work."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from dfx.emulator.config import Settings, load_settings

T = TypeVar("T")

# Piped output is not cut to 80 columns: tables of payloads need room (COLUMNS still wins).
out = Console(highlight=False, soft_wrap=False, width=shutil.get_terminal_size((160, 24)).columns)
err = Console(stderr=True, highlight=False, soft_wrap=True)

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
    """Run a coroutine to completion from a synchronous command."""
    return asyncio.run(coro)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
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
    str | None, typer.Argument(metavar="[ID]", help="The instance id (or pass it with --id, as Core Tools does).")
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

    Returns the text as given (normalised only by reading the file), after checking that it parses, so that
    what reaches storage is exactly what the user wrote. A value that is not JSON is refused with the parser's
    position; a plain word is not taken as a string, because on Azure the SDK would not take it either.
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
        hint = ' (a string needs quotes: \'"text"\')' if text.strip() and text.strip()[0].isalpha() else ""
        raise typer.BadParameter(
            f"not valid JSON{where}: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}.", param_hint=option
        ) from None
    return text
