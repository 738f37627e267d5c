"""What the inspect views share: reading a history, styles, and time and option formats."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dfx.cli.console import _default, instance_not_found
from dfx.errors import DfxError

if TYPE_CHECKING:  # the storage SDKs load only when a command runs, keeping `dfx start` light
    from dfx.emulator.storage import TaskHub

TopOption = Annotated[int, typer.Option("--top", min=1, max=1000, help="Page size.")]
ContinuationOption = Annotated[str | None, typer.Option(help="Continue a previous page.")]
FullOption = Annotated[bool, typer.Option("--full", help="Show whole payloads instead of shortening them.")]

EVENT_STYLES = {
    "ExecutionStarted": "bold",
    "ExecutionCompleted": "bold green",
    "ExecutionTerminated": "bold red",
    "TaskScheduled": "cyan",
    "TaskCompleted": "green",
    "TaskFailed": "red",
    "SubOrchestrationInstanceCreated": "cyan",
    "SubOrchestrationInstanceCompleted": "green",
    "SubOrchestrationInstanceFailed": "red",
    "TimerCreated": "yellow",
    "TimerFired": "yellow",
    "EventRaised": "magenta",
    "EventSent": "magenta",
    "OrchestratorStarted": "dim",
    "OrchestratorCompleted": "dim",
}
STATUS_STYLES = {
    "Completed": "green",
    "Failed": "red",
    "Terminated": "red",
    "Canceled": "red",
    "Running": "cyan",
    "Pending": "yellow",
    "Suspended": "magenta",
    "ContinuedAsNew": "cyan",
}


class ExecutionNotFoundError(DfxError):
    """``--execution`` names an execution whose rows the History table no longer holds."""

    hint = (
        "Only the current execution's rows are kept: a continue-as-new or a restart writes its history over "
        "the previous one's from row 0. Leave out --execution to see the current one."
    )


async def current_execution(hub: TaskHub, instance_id: str, wanted: str | None = None) -> str | None:
    """The execution whose rows a history read shows: the sentinel's (storage-layout §3.7), or ``wanted``.

    None when the instance has no history yet. ``wanted`` must be the current execution: older executions
    are overwritten in place, so asking for one is an error rather than an empty answer.
    """
    sentinel = await hub.history.read_sentinel(instance_id)
    current = sentinel.get("ExecutionId") if sentinel is not None else None
    if wanted is not None and wanted != current:
        shown = f" (its current execution is {current})" if current else ""
        raise ExecutionNotFoundError(f"Instance {instance_id!r} has no history rows of execution {wanted!r}{shown}.")
    return current


async def read_history(
    hub: TaskHub, instance_id: str, execution: str | None = None
) -> tuple[str | None, list[dict[str, Any]]]:
    """The current execution's id and all its rows; the "no instance" error when there is neither."""
    execution_id = await current_execution(hub, instance_id, execution)
    rows = [row async for page in hub.history.iter_row_pages(instance_id, execution_id) for row in page]
    if not rows and await hub.instances.get(instance_id, fetch_large=False) is None:
        raise instance_not_found(hub, instance_id)
    return execution_id, rows


def json_line(data: Any) -> str:
    """``data`` as one line of JSON, encoded as ``print_json`` encodes it (for NDJSON)."""
    return json.dumps(data, default=_default, ensure_ascii=False)


def json_array_item(data: Any) -> str:
    """``data`` as an element of a JSON array that ``print_json`` would write: indented two levels."""
    return "  " + json.dumps(data, default=_default, ensure_ascii=False, indent=2).replace("\n", "\n  ")


def format_duration(seconds: float | None) -> str:
    """A duration for people: ``850 ms``, ``12.3 s``, ``4m 05s``, ``2h 03m``, ``3d 04h``."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start) / timedelta(seconds=1), 0.0)


def status_markup(name: str) -> str:
    """A runtime status coloured for rich markup."""
    style = STATUS_STYLES.get(name)
    return f"[{style}]{name}[/]" if style else name
