"""``dfx inspect instances`` and ``dfx inspect entities``: listings of the Instances table."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dfx._compat import StrEnum
from dfx.cli.console import (
    AppDirOption,
    ConnectionOption,
    JsonOption,
    TaskHubOption,
    err,
    format_time,
    open_hub,
    out,
    parse_statuses,
    parse_time,
    print_json,
    run,
    settings_for,
    shorten,
)
from dfx.cli.inspect.common import STATUS_STYLES, ContinuationOption, TopOption
from dfx.cli.linetable import Column, LineTable, fit_widths, natural_widths
from dfx.emulator.config import Settings

if TYPE_CHECKING:
    from dfx.emulator.storage.instances_table import InstanceQuery, InstanceRecord

MAX_SORTED = 10_000  # instances a sorted listing reads at most
INSTANCE_COLUMNS = [
    Column("InstanceId", min_width=10),
    Column("Name"),
    Column("RuntimeStatus", shrink=False),
    Column("CreatedTime", shrink=False),
    Column("LastUpdatedTime", shrink=False),
    Column("Output"),
]


class SortKey(StrEnum):
    """What ``--sort`` orders instances by."""

    created = "created"
    updated = "updated"
    name = "name"
    status = "status"


_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


def sort_records(records: list[InstanceRecord], key: SortKey, descending: bool | None) -> list[InstanceRecord]:
    """Instances in ``key`` order: newest first for times, A to Z otherwise, unless ``descending`` says.

    Ties keep instance id order, so the result does not depend on the order the pages came in.
    """
    by_id = sorted(records, key=lambda r: r.instance_id)
    reverse = descending if descending is not None else key in (SortKey.created, SortKey.updated)
    if key is SortKey.created:
        return sorted(by_id, key=lambda r: r.created_time or _EPOCH, reverse=reverse)
    if key is SortKey.updated:
        return sorted(by_id, key=lambda r: r.last_updated_time or _EPOCH, reverse=reverse)
    if key is SortKey.name:
        return sorted(by_id, key=lambda r: ((r.name or "").lower(), r.name or ""), reverse=reverse)
    return sorted(by_id, key=lambda r: r.runtime_status.name, reverse=reverse)


def name_filter(pattern: str) -> str:
    """The OData condition of ``--name``: equal to the name, or starting with it when it ends with ``*``."""
    from dfx.emulator.storage import odata

    if pattern.endswith("*") and len(pattern) > 1:
        start = pattern[:-1]
        end = start[:-1] + chr(ord(start[-1]) + 1)
        return f"(Name ge {odata.string(start)} and Name lt {odata.string(end)})"
    return f"({odata.eq('Name', pattern)})"


@functools.cache
def _named_query() -> type[InstanceQuery]:
    """InstanceQuery with a ``name`` (a ``--name`` pattern) too; made on first use, as the SDKs load then."""
    from dfx.emulator.storage.instances_table import InstanceQuery

    @dataclass(frozen=True)
    class NamedInstanceQuery(InstanceQuery):
        name: str | None = None

        def filter(self) -> str:
            base = super().filter()
            return f"{base} and {name_filter(self.name)}" if self.name else base

    return NamedInstanceQuery


def _query(**fields: Any) -> InstanceQuery:
    return _named_query()(**fields)


def instance_json(record: InstanceRecord) -> dict[str, Any]:
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


async def _load_page(
    settings: Settings, query: InstanceQuery, continuation_token: str | None
) -> tuple[list[InstanceRecord], str | None]:
    """One page of the Instances table, after checking that the task hub exists."""
    async with open_hub(settings) as hub:
        page = await hub.instances.query(query, continuation_token)
        return page.instances, page.continuation_token


async def _load_all(settings: Settings, query: InstanceQuery) -> tuple[list[InstanceRecord], bool]:
    """Every matching instance, up to MAX_SORTED; and whether there were more."""
    found: list[InstanceRecord] = []
    token: str | None = None
    with err.status("reading instances") as status:
        async with open_hub(settings) as hub:
            while True:
                page = await hub.instances.query(query, token)
                found.extend(page.instances)
                token = page.continuation_token
                status.update(f"reading instances: {len(found):,}")
                if not token or len(found) >= MAX_SORTED:
                    return found[:MAX_SORTED], bool(token) or len(found) > MAX_SORTED


def instances(
    runtime_status: Annotated[
        list[str] | None, typer.Option("--runtime-status", "--status", help="Only these statuses (repeatable).")
    ] = None,
    created_after: Annotated[str | None, typer.Option(help="Created at or after this ISO-8601 time.")] = None,
    created_before: Annotated[str | None, typer.Option(help="Created at or before this ISO-8601 time.")] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Only this orchestration name (exact, case-sensitive; end with * for a prefix)."),
    ] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Instance ids starting with this.")] = None,
    entities: Annotated[
        bool | None, typer.Option("--entities/--no-entities", help="Only entities, or no entities (default: both).")
    ] = None,
    sort: Annotated[
        SortKey | None,
        typer.Option(
            "--sort",
            help=f"Order by this column. Sorting reads every matching instance (up to {MAX_SORTED:,}), sorts them "
            "all, then shows the first --top: no continuation token. Without it, instances come in instance id "
            "order, a page at a time.",
        ),
    ] = None,
    descending: Annotated[
        bool | None,
        typer.Option("--desc/--asc", help="Sort direction (default: newest first for times, A to Z otherwise)."),
    ] = None,
    top: TopOption = 100,
    continuation_token: ContinuationOption = None,
    full: Annotated[bool, typer.Option("--full", help="Show whole outputs.")] = False,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """List instances from the Instances table, with filters, a page at a time or sorted.

    Example: dfx inspect instances --runtime-status Failed --created-after 2026-01-01T00:00:00Z --sort created
    """
    if sort is not None and continuation_token:
        raise typer.BadParameter(
            "a sorted listing has no continuation: narrow the filters or raise --top.", param_hint="--sort"
        )
    if descending is not None and sort is None:
        raise typer.BadParameter("--desc/--asc go with --sort.", param_hint="--desc/--asc")
    settings = settings_for(app_dir, task_hub, connection)
    fields = {
        "statuses": parse_statuses(runtime_status),
        "created_from": parse_time(created_after, "--created-after"),
        "created_to": parse_time(created_before, "--created-before"),
        "instance_id_prefix": prefix,
        "exclude_entities": entities is False,
        "only_entities": entities is True,
        "name": name,
    }
    token: str | None = None
    if sort is None:
        records, token = run(_load_page(settings, _query(**fields, page_size=top), continuation_token))
    else:
        everything, more = run(_load_all(settings, _query(**fields, page_size=1000, fetch_input=json_output)))
        if more:
            err.print(f"[yellow]Sorted the first {MAX_SORTED:,} matching instances only: narrow the filters.[/]")
        records = sort_records(everything, sort, descending)[:top]
    if json_output:
        print_json({"instances": [instance_json(r) for r in records], "continuationToken": token})
        return
    cells = [
        [r.instance_id, r.name or "", r.runtime_status.name, format_time(r.created_time),
         format_time(r.last_updated_time), shorten(r.output, 50, full)]
        for r in records
    ]  # fmt: skip
    widths = fit_widths(INSTANCE_COLUMNS, natural_widths(INSTANCE_COLUMNS, cells), out.width)
    table = LineTable(out, INSTANCE_COLUMNS, widths, fold=full)
    table.title(f"{settings.hub_name}Instances")
    table.header()
    table.lines(
        [
            line
            for row in cells
            for line in table.row_lines(row, cell_styles=[None, None, STATUS_STYLES.get(row[2]), None, None, None])
        ]
    )
    table.bottom()
    if token:
        out.print(f"More: --continuation-token '{token}'", markup=False)


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
    table = Table(title=f"{escape(settings.hub_name)} entities", title_justify="left")
    for column in ("Name", "Key", "Exists", "LastOperationTime", "State"):
        table.add_column(column, overflow="fold" if full else "ellipsis", no_wrap=not full)
    for entity, scheduler, record in rows:
        table.add_row(
            escape(entity.name),
            escape(entity.key),
            "yes" if scheduler.exists else "no",
            format_time(record.last_updated_time),
            escape(shorten(scheduler.state, 60, full)),
        )
    out.print(table)
    if token:
        out.print(f"More: --continuation-token '{token}'", markup=False)
