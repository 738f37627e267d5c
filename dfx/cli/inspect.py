"""``dfx inspect``: read a task hub straight from storage, no host needed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from dfx.cli.console import (
    AppDirOption,
    ConnectionOption,
    JsonOption,
    TaskHubOption,
    out,
    print_json,
    run,
    settings_for,
    shorten,
)
from dfx.emulator.config import Settings

if TYPE_CHECKING:  # the storage SDKs load only when a command runs, keeping `dfx start` light
    from dfx.emulator.durable.history import OrchestrationStatus
    from dfx.emulator.storage import TaskHub
    from dfx.emulator.storage.history_table import HistoryRows
    from dfx.emulator.storage.instances_table import InstanceQuery, InstanceRecord

app = typer.Typer(help="Read a task hub straight from storage: histories, instances, entities.", no_args_is_help=True)
TopOption = Annotated[int, typer.Option("--top", min=1, max=1000, help="Page size.")]
ContinuationOption = Annotated[str | None, typer.Option(help="Continue a previous page.")]

# The columns of the classic History table view, in order.
HISTORY_COLUMNS = ("PartitionKey", "EventType", "Timestamp", "Input", "Name", "Result", "Status")
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
    "Running": "cyan",
    "Pending": "yellow",
    "Suspended": "magenta",
}


def _hub(settings: Settings) -> TaskHub:
    from dfx.emulator.storage import TaskHub

    return TaskHub(settings.storage, settings.hub_name, settings.partition_count)


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


async def _load_history(settings: Settings, instance_id: str, execution_id: str | None) -> HistoryRows:
    from dfx.emulator.storage import InstanceNotFoundError

    async with _hub(settings) as hub:
        await hub.require()
        rows = await hub.history.read_rows(instance_id, execution_id)
        if not rows.rows and await hub.instances.get(instance_id, fetch_large=False) is None:
            raise InstanceNotFoundError(f"No instance with ID {instance_id!r} found in task hub {hub.name!r}.")
        return rows


@app.command()
def history(
    instance_id: Annotated[str, typer.Argument(help="The orchestration or entity instance id.")],
    execution: Annotated[str | None, typer.Option("--execution", help="An execution id (default: current).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Show whole payloads instead of shortening them.")] = False,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Show an instance's history rows as the History table stores them.

    Example: dfx inspect history 4a1b9c0e2f7d4e3c8b5a6d7e8f9a0b1c --full
    """
    from dfx.emulator.storage.history_table import row_timestamp

    settings = settings_for(app_dir, task_hub, connection)
    rows = run(_load_history(settings, instance_id, execution))
    if json_output:
        print_json(rows.rows)
        return
    start = min((t for r in rows.rows if (t := row_timestamp(r)) is not None), default=None)
    day = f" · {start.date().isoformat()}" if start else ""
    table = Table(
        title=f"{settings.hub_name}History · {instance_id} · execution {rows.execution_id}{day}", title_justify="left"
    )
    longest = max((len(str(r.get("EventType", ""))) for r in rows.rows), default=9)
    table.add_column("#", justify="right", min_width=2, no_wrap=True)
    table.add_column("PartitionKey", max_width=None if full else 14, no_wrap=not full, overflow="ellipsis")
    table.add_column("EventType", min_width=longest, no_wrap=True)
    table.add_column("Timestamp", min_width=12, no_wrap=True)
    table.add_column("Elapsed", justify="right", min_width=8, no_wrap=True)
    for column in HISTORY_COLUMNS[3:]:
        table.add_column(column, overflow="fold")
    for row in rows.rows:
        stamp = row_timestamp(row)
        elapsed = f"+{(stamp - start).total_seconds():.3f}s" if stamp and start else ""
        event_type = str(row.get("EventType", ""))
        table.add_row(
            str(int(row["RowKey"], 16)),
            str(row["PartitionKey"]),
            event_type,
            stamp.strftime("%H:%M:%S.%f")[:-3] if stamp else "",
            elapsed,
            shorten(row.get("Input"), 40, full),
            shorten(row.get("Name"), 30, full),
            shorten(_result_of(row), 40, full),
            _status_of(row),
            style=EVENT_STYLES.get(event_type),
        )
    out.print(table)


def _parse_time(value: str | None, option: str) -> datetime | None:
    from dfx.emulator.durable.encoding import parse_datetime

    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 time like 2026-01-31T12:00:00Z.", param_hint=option
        ) from None


def _parse_statuses(values: list[str] | None) -> frozenset[OrchestrationStatus]:
    from dfx.emulator.durable.history import OrchestrationStatus

    found = set()
    for value in values or []:
        for name in value.replace(",", " ").split():
            match = next((s for s in OrchestrationStatus if s.name.lower() == name.lower()), None)
            if match is None:
                names = ", ".join(s.name for s in OrchestrationStatus)
                raise typer.BadParameter(f"unknown status {name!r}; use one of {names}.", param_hint="--runtime-status")
            found.add(match)
    return frozenset(found)


def _instance_json(record: InstanceRecord) -> dict[str, Any]:
    return {
        "instanceId": record.instance_id,
        "name": record.name,
        "runtimeStatus": record.runtime_status.name,
        "executionId": record.execution_id,
        "createdTime": record.created_time,
        "lastUpdatedTime": record.last_updated_time,
        "completedTime": record.completed_time,
        "input": record.input,
        "output": record.output,
        "customStatus": record.custom_status,
        "generation": record.generation,
    }


@app.command()
def instances(
    runtime_status: Annotated[
        list[str] | None, typer.Option("--runtime-status", "--status", help="Only these statuses (repeatable).")
    ] = None,
    created_after: Annotated[str | None, typer.Option(help="Created at or after this ISO-8601 time.")] = None,
    created_before: Annotated[str | None, typer.Option(help="Created at or before this ISO-8601 time.")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Instance ids starting with this.")] = None,
    entities: Annotated[
        bool | None, typer.Option("--entities/--no-entities", help="Only entities, or no entities (default: both).")
    ] = None,
    top: TopOption = 100,
    continuation_token: ContinuationOption = None,
    full: Annotated[bool, typer.Option("--full", help="Show whole outputs.")] = False,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """List instances from the Instances table, newest filters first, one page at a time.

    Example: dfx inspect instances --runtime-status Failed --created-after 2026-01-01T00:00:00Z
    """
    from dfx.emulator.storage.instances_table import InstanceQuery

    settings = settings_for(app_dir, task_hub, connection)
    query = InstanceQuery(
        statuses=_parse_statuses(runtime_status),
        created_from=_parse_time(created_after, "--created-after"),
        created_to=_parse_time(created_before, "--created-before"),
        instance_id_prefix=prefix,
        exclude_entities=entities is False,
        only_entities=entities is True,
        page_size=top,
    )

    records, token = run(_load_page(settings, query, continuation_token))
    if json_output:
        print_json({"instances": [_instance_json(r) for r in records], "continuationToken": token})
        return
    table = Table(title=f"{settings.hub_name}Instances", title_justify="left")
    for column in ("InstanceId", "Name", "RuntimeStatus", "CreatedTime", "LastUpdatedTime", "Output"):
        table.add_column(column, overflow="fold" if full else "ellipsis", no_wrap=not full)
    for r in records:
        table.add_row(
            r.instance_id,
            r.name or "",
            f"[{STATUS_STYLES.get(r.runtime_status.name, '')}]{r.runtime_status.name}[/]",
            r.created_time.isoformat(timespec="seconds").replace("+00:00", "Z") if r.created_time else "",
            r.last_updated_time.isoformat(timespec="seconds").replace("+00:00", "Z") if r.last_updated_time else "",
            shorten(r.output, 50, full),
        )
    out.print(table)
    if token:
        out.print(f"More: --continuation-token '{token}'")


async def _load_page(
    settings: Settings, query: InstanceQuery, continuation_token: str | None
) -> tuple[list[InstanceRecord], str | None]:
    """One page of the Instances table, after checking that the task hub exists."""
    async with _hub(settings) as hub:
        await hub.require()
        page = await hub.instances.query(query, continuation_token)
        return page.instances, page.continuation_token


@app.command("entities")
def entities_command(
    name: Annotated[str | None, typer.Argument(help="Only entities of this entity function.")] = None,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include deleted entities (exists=false).")] = False,
    top: TopOption = 100,
    continuation_token: ContinuationOption = None,
    full: Annotated[bool, typer.Option("--full", help="Show whole states.")] = False,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """List durable entities with their state, read from the Instances table (no host needed).

    An entity's history is `dfx inspect history @name@key`.

    Example: dfx inspect entities counter --json
    """
    from dfx.emulator.durable.entities import EntityId, SchedulerState
    from dfx.emulator.durable.orchestration import parse_output
    from dfx.emulator.storage.instances_table import InstanceQuery

    settings = settings_for(app_dir, task_hub, connection)
    prefix = f"@{name.lower()}@" if name else None
    query = InstanceQuery(only_entities=prefix is None, instance_id_prefix=prefix, page_size=top)

    records, token = run(_load_page(settings, query, continuation_token))
    rows = []
    for record in records:
        entity = EntityId.parse(record.instance_id)
        scheduler = SchedulerState.from_json(record.input)
        if scheduler.exists or deleted:
            rows.append((entity, scheduler, record))
    if json_output:
        items = [
            {"entityId": {"name": e.name, "key": e.key}, "exists": s.exists, "state": parse_output(s.state),
             "lastOperationTime": r.last_updated_time}
            for e, s, r in rows
        ]  # fmt: skip
        print_json({"entities": items, "continuationToken": token})
        return
    table = Table(title=f"{settings.hub_name} entities", title_justify="left")
    for column in ("Name", "Key", "Exists", "LastOperationTime", "State"):
        table.add_column(column, overflow="fold" if full else "ellipsis", no_wrap=not full)
    for entity, scheduler, record in rows:
        when = record.last_updated_time
        table.add_row(
            entity.name,
            entity.key,
            "yes" if scheduler.exists else "no",
            when.isoformat(timespec="seconds").replace("+00:00", "Z") if when else "",
            shorten(scheduler.state, 60, full),
        )
    out.print(table)
    if token:
        out.print(f"More: --continuation-token '{token}'")
