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
