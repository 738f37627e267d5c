"""``dfx inspect timeline``: a Gantt chart of an instance's activities, timers and sub-orchestrations."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from dfx.cli.console import (
    AppDirOption,
    ConnectionOption,
    IdOption,
    InstanceIdArgument,
    JsonOption,
    TaskHubOption,
    open_hub,
    out,
    pick_instance_id,
    print_json,
    run,
    settings_for,
)
from dfx.cli.inspect.common import format_duration, read_history, status_markup
from dfx.cli.inspect.gantt import axis_label, draw_bar, layout_bars
from dfx.cli.inspect.spans import Axis, Span, axis_of, spans_of
from dfx.cli.linetable import Column, LineTable, fit_widths, natural_widths
from dfx.emulator.config import Settings

MIN_BAR_WIDTH = 10
KIND_STYLES = {"activity": "cyan", "timer": "yellow", "sub-orchestration": "magenta", "event": "blue"}


async def _load(
    settings: Settings, instance_id: str
) -> tuple[str | None, str | None, str, list[dict[str, Any]], datetime]:
    from dfx.model.history import utcnow

    async with open_hub(settings) as hub:
        execution_id, rows = await read_history(hub, instance_id)
        record = await hub.instances.get(instance_id, fetch_large=False)
        name = record.name if record is not None else None
        status = record.runtime_status.name if record is not None else ""
        return execution_id, name, status, rows, utcnow()


def span_json(span: Span, axis: Axis) -> dict[str, Any]:
    end = span.end or axis.end
    return {
        "name": span.name,
        "kind": span.kind,
        "start": span.start,
        "end": span.end,
        "durationMs": round((end - span.start).total_seconds() * 1000),
        "status": span.status,
        "taskId": span.task_id,
        "instanceId": span.instance_id,
        "fireAt": span.fire_at,
    }


def span_label(span: Span) -> str:
    """The name column: a sub-orchestration with its instance id, a timer with the time it fires."""
    if span.instance_id:
        return f"{span.name} ({span.instance_id})"
    if span.fire_at is not None:
        return f"{span.name} until {span.fire_at:%H:%M:%S.%f}"[:-3]
    return span.name


def _style(span: Span) -> str:
    if span.status == "Failed":
        return "red"
    style = KIND_STYLES.get(span.kind, "")
    return f"bold {style}" if span.is_open else style


def _render(title: str, spans: list[Span], axis: Axis, width: int | None) -> None:
    ends = [(axis.offset(s.start), None if s.end is None else axis.offset(s.end)) for s in spans]
    cells = [
        [
            s.kind,
            span_label(s),
            f"+{start:.3f}s",
            format_duration((end if end is not None else axis.seconds) - start)
            + (" so far" if s.is_open and s.kind != "event" else ""),
            s.status,
        ]
        for s, (start, end) in zip(spans, ends, strict=True)
    ]
    columns = [
        Column("Kind", shrink=False),
        Column("Name", max_width=40),
        Column("Start", "right", shrink=False),
        Column("Duration", "right", shrink=False),
        Column("Status", shrink=False),
    ]
    widths = fit_widths(columns, natural_widths(columns, cells), out.width - MIN_BAR_WIDTH - 3)
    bar_width = width or max(MIN_BAR_WIDTH, out.width - (sum(widths) + 3 * len(widths) + 1) - 3)
    total = format_duration(axis.seconds) + (" (now)" if axis.running else "")
    columns.append(Column(axis_label(total, bar_width), shrink=False))
    widths.append(bar_width)
    bars = layout_bars(ends, axis.seconds, bar_width)
    table = LineTable(out, columns, widths)
    table.title(title)
    table.header()
    table.rows(
        ([*row, draw_bar(bar, bar_width, instant=span.kind == "event")], _style(span))
        for row, bar, span in zip(cells, bars, spans, strict=True)
    )
    table.bottom()


def timeline(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    width: Annotated[
        int | None, typer.Option("--width", min=MIN_BAR_WIDTH, help="Columns of the bars (default: what fits).")
    ] = None,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Show a Gantt chart of an instance's activities, timers, sub-orchestrations and raised events.

    One bar per span on a common time axis from ExecutionStarted to the end (or to now while it runs);
    spans still running are drawn to now, light and ending in ▶. Raised events are marked with ◆.

    Example: dfx inspect timeline 4a1b9c0e2f7d4e3c8b5a6d7e8f9a0b1c --width 60
    """
    chosen = pick_instance_id(instance_id, id_option)
    settings = settings_for(app_dir, task_hub, connection)
    execution_id, name, status, rows, now = run(_load(settings, chosen))
    axis = axis_of(rows, now)
    spans = spans_of(rows)
    if json_output:
        print_json(
            {
                "instanceId": chosen,
                "executionId": execution_id,
                "runtimeStatus": status,
                "start": axis.start if axis else None,
                "end": axis.end if axis else None,
                "running": axis.running if axis else True,
                "spans": [span_json(s, axis) for s in spans] if axis else [],
            }
        )
        return
    if axis is None:
        out.print(f"{escape(chosen)} has no history yet ({status_markup(status) if status else 'no status'}).")
        return
    title = f"{name or chosen} · {chosen} · execution {execution_id} · {status}"
    if not spans:
        out.print(f"{title}\nNo activities, timers, sub-orchestrations or events in this execution.", markup=False)
        return
    _render(title, spans, axis, width)
