"""``dfx inspect status``: one instance's status — times, input, output, custom status, why it failed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dfx.cli.console import (
    AppDirOption,
    ConnectionOption,
    IdOption,
    InstanceIdArgument,
    JsonOption,
    TaskHubOption,
    format_time,
    open_hub,
    out,
    pick_instance_id,
    print_json,
    require_instance,
    run,
    settings_for,
    shorten,
)
from dfx.cli.inspect.common import FullOption, format_duration, read_history, seconds_between, status_markup
from dfx.cli.inspect.failures import Failure, failure_of
from dfx.cli.inspect.history import HistoryTable
from dfx.emulator.config import Settings

if TYPE_CHECKING:
    from dfx.emulator.storage.instances_table import InstanceRecord

PAYLOAD_WIDTH = 200  # characters of input, output and custom status shown without --full


@dataclass
class StatusReport:
    """What ``inspect status`` shows: the Instances row, its history rows when needed, and the failure."""

    record: InstanceRecord
    execution_id: str | None
    rows: list[dict[str, Any]]
    failure: Failure | None


async def _load(settings: Settings, instance_id: str, with_history: bool) -> StatusReport:
    async with open_hub(settings) as hub:
        record = await require_instance(hub, instance_id)
        failed = record.runtime_status.name == "Failed"
        execution_id = record.execution_id
        rows: list[dict[str, Any]] = []
        if failed or with_history:
            execution_id, rows = await read_history(hub, instance_id)
        failure = failure_of(rows, record.output) if failed else None
        return StatusReport(record, execution_id, rows, failure)


def entity_json(record: InstanceRecord) -> dict[str, Any]:
    """An entity's identity and state, from its scheduler state (the Instances Input)."""
    from dfx.emulator.durable.entities import EntityId, SchedulerState
    from dfx.emulator.durable.orchestration import parse_output

    entity = EntityId.parse(record.instance_id)
    scheduler = SchedulerState.from_json(record.input)
    return {
        "name": entity.name,
        "key": entity.key,
        "exists": scheduler.exists,
        "state": parse_output(scheduler.state),
        "queueSize": len(scheduler.queue),
        "lockedBy": scheduler.locked_by,
    }


def status_document(report: StatusReport, *, show_input: bool, show_output: bool, show_history: bool) -> dict:
    """The management API's status JSON (host-protocol §5.2) with the row's other columns and the failure."""
    from dfx.emulator.durable.client import history_json, status_json
    from dfx.model.encoding import format_datetime_seconds, from_table_entity

    record = report.record
    data = status_json(record, show_input=show_input)
    if not show_output:
        data["output"] = None
    completed = record.completed_time
    data.update(
        executionId=report.execution_id or record.execution_id,
        version=record.version,
        generation=record.generation,
        completedTime=format_datetime_seconds(completed) if completed else None,
        tags=record.tags,
    )
    if report.failure is not None:
        data["failureDetails"] = report.failure.to_json()
    if record.is_entity:
        data["entity"] = entity_json(record)
    if show_history:
        events = [from_table_entity(row) for row in report.rows]
        data["historyEvents"] = history_json(events, show_input=show_input, show_output=show_output)
    return data


def _payload(value: Any, full: bool) -> str:
    """A JSON value as text: a string as itself, anything else as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return escape(shorten(text, PAYLOAD_WIDTH, full))


def _show(report: StatusReport, data: dict[str, Any], *, full: bool, show_input: bool, show_output: bool) -> None:
    record = report.record
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    status = record.runtime_status.name
    ended = record.completed_time if record.runtime_status.is_terminal else None
    took = seconds_between(record.created_time, ended or record.last_updated_time)
    rows = [
        ("Name", escape(record.name or "")),
        ("Instance ID", escape(record.instance_id)),
        ("Runtime status", status_markup(status)),
        ("Created", format_time(record.created_time)),
        ("Last updated", format_time(record.last_updated_time)),
        ("Completed", format_time(record.completed_time)),
        ("Duration" if ended else "Running for", format_duration(took)),
        ("Execution ID", escape(data.get("executionId") or "")),
        ("Version", escape(record.version or "")),
    ]
    if record.is_entity:
        entity = data["entity"]
        rows += [
            ("Entity", escape(f"{entity['name']} / key {entity['key']}")),
            ("Exists", "yes" if entity["exists"] else "no"),
            ("State", _payload(entity["state"], full)),
            ("Queued operations", str(entity["queueSize"])),
            ("Locked by", escape(entity["lockedBy"] or "")),
        ]
    else:
        if show_input:
            rows.append(("Input", _payload(data.get("input"), full)))
        if show_output:
            rows.append(("Output", _payload(data.get("output"), full)))
    rows.append(("Custom status", _payload(data.get("customStatus"), full) if record.custom_status else ""))
    for label, value in rows:
        grid.add_row(label, value)
    out.print(f"[bold]{escape(record.name or record.instance_id)}[/] · {escape(record.instance_id)}")
    out.print(grid)
    if report.failure is not None:
        _show_failure(report.failure, full)


def _show_failure(failure: Failure, full: bool) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("Error type", escape(failure.error_type or "(not recorded)"))
    grid.add_row("Message", f"[red]{escape(failure.message or '')}[/]")
    out.print()
    out.print("[bold red]Failure[/]")
    out.print(grid)
    if failure.stack_trace:
        out.print("[bold]Stack trace[/]")
        out.print(escape(failure.stack_trace.rstrip()), style="dim")
    for task in failure.failed_tasks:
        target = f" {task.instance_id}" if task.instance_id else ""
        out.print(
            f"[red]failed {task.kind}[/] [bold]{escape(task.name or '?')}[/]{escape(target)} (task {task.task_id}): "
            f"{escape(shorten(task.reason, PAYLOAD_WIDTH, full))}"
        )


def status(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    show_input: Annotated[
        bool,
        typer.Option("--show-input/--no-show-input", help="Show the input (Core Tools' --show-input true|false too)."),
    ] = True,
    show_output: Annotated[
        bool, typer.Option("--show-output/--no-show-output", help="Show the output (--show-output true|false too).")
    ] = True,
    show_history: Annotated[bool, typer.Option("--show-history", help="Show the history below the status.")] = False,
    full: FullOption = False,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Show one instance's status: times, input, output, custom status, and why it failed.

    An entity (@name@key) shows its state. --json prints the management API's status object with the
    Instances row's other columns (executionId, version, completedTime, ...) and failureDetails.

    Example: dfx inspect status 4a1b9c0e2f7d4e3c8b5a6d7e8f9a0b1c --show-history
    """
    chosen = pick_instance_id(instance_id, id_option)
    settings = settings_for(app_dir, task_hub, connection)
    report = run(_load(settings, chosen, show_history))
    data = status_document(report, show_input=show_input, show_output=show_output, show_history=show_history)
    if json_output:
        print_json(data)
        return
    _show(report, data, full=full, show_input=show_input, show_output=show_output)
    if show_history:
        out.print()
        HistoryTable(settings.hub_name, chosen, report.execution_id, full=full).show(report.rows)
