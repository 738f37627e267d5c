"""``dfx inspect history``: the History table rows of an instance, as a table, as JSON, or followed live."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from dfx.cli.console import (
    AppDirOption,
    ConnectionOption,
    IdOption,
    InstanceIdArgument,
    TaskHubOption,
    err,
    instance_not_found,
    open_hub,
    out,
    pick_instance_id,
    run,
    settings_for,
    shorten,
)
from dfx.cli.inspect.common import (
    EVENT_STYLES,
    FullOption,
    current_execution,
    json_array_item,
    json_line,
    read_history,
)
from dfx.cli.inspect.spans import row_timestamp
from dfx.cli.linetable import Column, LineTable, fit_in_stages, natural_widths
from dfx.emulator.config import Settings

if TYPE_CHECKING:
    from dfx.emulator.storage import TaskHub

# The columns of the classic History table view, in order.
HISTORY_COLUMNS = ("PartitionKey", "EventType", "Timestamp", "Input", "Name", "Result", "Status")
# Widest cells of a followed history, whose later rows are not known when the columns are sized.
FOLLOW_WIDTHS = {"#": 5, "PartitionKey": 14, "EventType": 33, "Elapsed": 10, "Input": 40, "Name": 30, "Result": 40,
                 "Status": 14}  # fmt: skip
CHUNK_ROWS = 500  # rows per write: few system calls, and the first rows show at once
DATA = ("Input", "Name", "Result")
"""The columns that hold an event's data: they share the room the others leave."""


def history_columns(full: bool) -> list[Column]:
    return [
        Column("#", "right", min_width=2, shrink=False),
        Column("PartitionKey", max_width=None if full else 14),
        Column("EventType", shrink=False),
        Column("Timestamp", min_width=12, shrink=False),
        Column("Elapsed", "right", min_width=8, shrink=False),
        Column("Input"),
        Column("Name"),
        Column("Result"),
        Column("Status", shrink=False),
    ]


def history_stages(full: bool) -> list[dict[str, int]]:
    """How a whole history's columns give way on a narrow terminal: the PartitionKey first (the title names the
    instance; a whole one with --full folds, so it shares), then Input, Name and Result evenly (widest first)."""
    data = dict.fromkeys(DATA, 0)
    return [{"PartitionKey": 0, **data}] if full else [{"PartitionKey": 0}, data]


def follow_stages(full: bool, known: Mapping[str, int]) -> list[dict[str, int]]:
    """How a followed history's columns give way, sized before its later rows are known (FOLLOW_WIDTHS).

    ``known`` is what the rows so far need. First the room kept for rows to come in the columns whose values are
    short and few (#, Elapsed, Status), and in Input, which History rows seldom fill (TaskScheduled rows keep no
    input), with the PartitionKey; then Name and Result down to 20 cells; then EventType down to 21
    ("OrchestratorCompleted", as long as all types but the sub-orchestration ones); then the data columns evenly.
    """
    room = {"#": max(known["#"], 4), "Elapsed": max(known["Elapsed"], 8), "Status": max(known["Status"], 10),
            "Input": known["Input"]}  # fmt: skip
    if not full:
        room["PartitionKey"] = 0
    data = dict.fromkeys(DATA, 0)
    last = {"PartitionKey": 0, **data} if full else data
    return [room, {"Name": 20, "Result": 20}, {"EventType": max(known["EventType"], 21)}, last]


def _status_of(row: dict[str, Any]) -> str:
    if "OrchestrationStatus" in row:
        return str(row["OrchestrationStatus"])
    if row.get("EventType") in ("TaskFailed", "SubOrchestrationInstanceFailed"):
        return "Failed"
    return ""


def _result_of(row: dict[str, Any]) -> Any:
    if row.get("Result") is not None:
        return row["Result"]
    if row.get("Reason") is not None:
        return row["Reason"]
    return None


def history_cells(row: dict[str, Any], start: datetime | None, full: bool) -> list[str]:
    """The cells of one row of the classic table: ``#``, the stored columns, and the time since ``start``."""
    stamp = row_timestamp(row)
    elapsed = f"+{(stamp - start).total_seconds():.3f}s" if stamp and start else ""
    return [
        str(int(row["RowKey"], 16)),
        str(row["PartitionKey"]),
        str(row.get("EventType", "")),
        stamp.strftime("%H:%M:%S.%f")[:-3] if stamp else "",
        elapsed,
        shorten(row.get("Input"), 40, full),
        shorten(row.get("Name"), 30, full),
        shorten(_result_of(row), 40, full),
        _status_of(row),
    ]


def earliest(rows: Iterable[dict[str, Any]]) -> datetime | None:
    return min((t for r in rows if (t := row_timestamp(r)) is not None), default=None)


class HistoryTable:
    """The classic History table of one execution, written as its rows arrive."""

    def __init__(self, hub_name: str, instance_id: str, execution_id: str | None, *, full: bool) -> None:
        self.title = f"{hub_name}History · {instance_id} · execution {execution_id}"
        self.full = full
        self.columns = history_columns(full)
        self.start: datetime | None = None
        self.table: LineTable | None = None

    def _open(self, widths: list[int], rows: list[dict[str, Any]]) -> LineTable:
        self.start = earliest(rows)
        day = f" · {self.start.date().isoformat()}" if self.start else ""
        table = LineTable(out, self.columns, widths, fold=self.full)
        table.title(self.title + day)
        table.header()
        return table

    def show(self, rows: list[dict[str, Any]]) -> None:
        """A whole history at once: the columns fit its widest cells."""
        start = earliest(rows)
        cells = [history_cells(row, start, self.full) for row in rows]
        widths = natural_widths(self.columns, cells)
        self.table = self._open(fit_in_stages(self.columns, widths, out.width, history_stages(self.full)), rows)
        for first in range(0, len(cells), CHUNK_ROWS):
            chunk = range(first, min(first + CHUNK_ROWS, len(cells)))
            self.table.rows((cells[i], EVENT_STYLES.get(rows[i].get("EventType", ""))) for i in chunk)
        self.close()

    def add(self, rows: list[dict[str, Any]]) -> None:
        """More rows of a live history: the columns are sized for any row when the first ones arrive."""
        if self.table is None:
            start = earliest(rows)
            needed = natural_widths(self.columns, [history_cells(row, start, self.full) for row in rows])
            known = {column.header: width for column, width in zip(self.columns, needed, strict=True)}
            widths = [
                max(width, FOLLOW_WIDTHS.get(column.header, 0))
                for column, width in zip(self.columns, needed, strict=True)
            ]
            stages = follow_stages(self.full, known)
            self.table = self._open(fit_in_stages(self.columns, widths, out.width, stages), rows)
        self.table.rows(
            (history_cells(row, self.start, self.full), EVENT_STYLES.get(row.get("EventType", ""))) for row in rows
        )
        self.table.flush()

    def close(self) -> None:
        if self.table is not None:
            self.table.bottom()
            self.table.flush()
            self.table = None


# -- one look --------------------------------------------------------------------------------------


async def _show_table(settings: Settings, instance_id: str, execution: str | None, full: bool) -> None:
    async with open_hub(settings) as hub:
        execution_id, rows = await read_history(hub, instance_id, execution)
    HistoryTable(settings.hub_name, instance_id, execution_id, full=full).show(rows)


async def _stream_json(settings: Settings, instance_id: str, execution: str | None) -> None:
    """The rows as one JSON array, written page by page as they arrive (print_json's layout)."""
    write = sys.stdout.write
    async with open_hub(settings) as hub:
        execution_id = await current_execution(hub, instance_id, execution)
        written = 0
        async with contextlib.aclosing(hub.history.iter_row_pages(instance_id, execution_id)) as pages:
            async for page in pages:
                write(("[\n" if not written else ",\n") + ",\n".join(json_array_item(row) for row in page))
                sys.stdout.flush()
                written += len(page)
        if not written:
            if await hub.instances.get(instance_id, fetch_large=False) is None:
                raise instance_not_found(hub, instance_id)
            write("[]\n")
        else:
            write("\n]\n")


# -- following -------------------------------------------------------------------------------------


class _Follower:
    """Where a followed history is: the execution shown and the last row key printed."""

    def __init__(self, settings: Settings, instance_id: str, *, full: bool, json_output: bool) -> None:
        self.settings = settings
        self.instance_id = instance_id
        self.full = full
        self.json_output = json_output
        self.execution_id: str | None = None
        self.last_row_key: str | None = None
        self.table: HistoryTable | None = None

    def note(self, text: str) -> None:
        """A line about the instance, not a row: on stderr beside NDJSON, in the table's flow otherwise."""
        (err if self.json_output else out).print(f"[dim]{escape(text)}[/]")

    def new_execution(self, execution_id: str) -> None:
        if self.execution_id is not None:
            if self.table is not None:
                self.table.close()
            self.note(f"continued as new: now following execution {execution_id}")
        self.execution_id = execution_id
        self.last_row_key = None
        if not self.json_output:
            self.table = HistoryTable(self.settings.hub_name, self.instance_id, execution_id, full=self.full)

    def add(self, rows: list[dict[str, Any]]) -> None:
        if self.json_output:
            sys.stdout.write("".join(json_line(row) + "\n" for row in rows))
            sys.stdout.flush()
        elif self.table is not None:
            self.table.add(rows)
        self.last_row_key = rows[-1]["RowKey"]

    def close(self) -> None:
        if self.table is not None:
            self.table.close()

    async def _print_new_rows(self, hub: TaskHub) -> None:
        """The rows of the execution shown after the last one printed, up to the first row of another execution.

        For an execution that has continued as new, those are the rows it wrote since the last poll that the
        next execution has not overwritten yet (it writes from row 0 again).
        """
        pages = hub.history.iter_row_pages(self.instance_id, self.execution_id, after_row_key=self.last_row_key)
        async with contextlib.aclosing(pages):
            async for page in pages:
                if self.execution_id is None:  # a history without a sentinel: the first row's execution
                    self.new_execution(page[0]["ExecutionId"])
                self.add(page)

    async def poll(self, hub: TaskHub) -> str | None:
        """Print the rows written since the last poll; return the runtime status once it is terminal."""
        record = await hub.instances.get(self.instance_id, fetch_large=False)
        execution_id = await current_execution(hub, self.instance_id)
        if record is None and execution_id is None:
            if self.execution_id is None:
                raise instance_not_found(hub, self.instance_id)
            return "Purged"
        if execution_id is not None and execution_id != self.execution_id:
            if self.execution_id is not None:  # continued as new: first the old execution's rows since last time
                await self._print_new_rows(hub)
            self.new_execution(execution_id)
        await self._print_new_rows(hub)
        # The Instances row is written after the history rows (storage-layout §12.1): once it reads terminal,
        # the rows read after it are all there are.
        if record is not None and record.runtime_status.is_terminal:
            return record.runtime_status.name
        return None


async def _follow(settings: Settings, instance_id: str, full: bool, json_output: bool, interval: float) -> None:
    follower = _Follower(settings, instance_id, full=full, json_output=json_output)
    try:
        async with open_hub(settings) as hub:
            status = await follower.poll(hub)
            if status is None and follower.last_row_key is None:
                follower.note(f"waiting for the first history rows of {instance_id} (Ctrl-C stops)")
            while status is None:
                await asyncio.sleep(interval)
                status = await follower.poll(hub)
        follower.close()
        ending = "was purged" if status == "Purged" else f"is {status}"
        follower.note(f"instance {instance_id} {ending}")
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels this task, then raises KeyboardInterrupt
        follower.close()
        follower.note("stopped following")
        raise


def history(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    execution: Annotated[str | None, typer.Option("--execution", help="An execution id (default: current).")] = None,
    full: FullOption = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep printing new rows until the instance completes, fails or is terminated."
        ),
    ] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.05, help="Seconds between reads with --follow.")] = 0.5,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the rows as a JSON array (NDJSON, one row a line, with --follow).")
    ] = False,
) -> None:
    """Show an instance's history rows as the History table stores them.

    With --follow, the rows already there are printed, then new ones as they are written, across continue-as-new,
    until the instance completes, fails or is terminated; Ctrl-C stops following and exits with 0.

    Example: dfx inspect history 4a1b9c0e2f7d4e3c8b5a6d7e8f9a0b1c --follow
    """
    instance_id = pick_instance_id(instance_id, id_option)
    settings = settings_for(app_dir, task_hub, connection)
    if follow:
        if execution is not None:
            raise typer.BadParameter("--follow watches the current execution; leave out --execution.")
        try:
            run(_follow(settings, instance_id, full, json_output, interval))
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
    elif json_output:
        run(_stream_json(settings, instance_id, execution))
    else:
        run(_show_table(settings, instance_id, execution, full))
