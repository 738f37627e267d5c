"""``dfx inspect queues``: the depth of every queue of a task hub and a decoded peek at its head."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dfx.cli.console import (
    AppDirOption,
    ConnectionOption,
    JsonOption,
    TaskHubOption,
    iso_time,
    open_hub,
    out,
    print_json,
    run,
    settings_for,
)
from dfx.cli.inspect.common import format_duration
from dfx.emulator.config import Settings
from dfx.emulator.storage.peeked import PEEK_LIMIT, POISON_DEQUEUES, PeekedMessage, peeked_message


@dataclass
class QueueReport:
    """One queue: its approximate depth (hidden messages included) and the visible messages peeked at ``now``."""

    name: str
    kind: str
    depth: int
    now: datetime
    messages: list[PeekedMessage] = field(default_factory=list)

    @property
    def oldest_age(self) -> float | None:
        return max((a for m in self.messages if (a := m.age_seconds(self.now)) is not None), default=None)

    @property
    def max_dequeue_count(self) -> int | None:
        return max((m.dequeue_count for m in self.messages), default=None)

    def to_json(self) -> dict[str, Any]:
        oldest = self.oldest_age
        return {
            "name": self.name,
            "kind": self.kind,
            "approximateMessageCount": self.depth,
            "peeked": len(self.messages),
            "oldestMessageAgeSeconds": round(oldest, 3) if oldest is not None else None,
            "maxDequeueCount": self.max_dequeue_count,
            "messages": [message_json(m, self.now) for m in self.messages],
        }


def message_detail(message: PeekedMessage) -> str | None:
    """What identifies the event beyond its type: the time a timer fires, else the activity, event or
    orchestration name."""
    if message.fire_at is not None:
        return f"fires at {iso_time(message.fire_at)}"
    return message.name or None


def message_json(message: PeekedMessage, now: datetime) -> dict[str, Any]:
    age = message.age_seconds(now)
    return {
        "messageId": message.message_id,
        "eventType": message.event_type,
        "instanceId": message.instance_id,
        "executionId": message.execution_id,
        "sequenceNumber": message.sequence_number,
        "dequeueCount": message.dequeue_count,
        "insertedTime": message.inserted_on,
        "ageSeconds": round(age, 3) if age is not None else None,
        "detail": message_detail(message),
        "largeMessageBlob": message.in_blob,
    }


async def _load(settings: Settings, peek: int) -> list[QueueReport]:
    from dfx.model.history import utcnow

    async with open_hub(settings) as hub:

        async def report(name: str, kind: str) -> QueueReport:
            depth = await hub.queues.depth(name)
            peeked = await hub.queues.peek(name, peek) if peek else []
            return QueueReport(name, kind, depth.count, utcnow(), [peeked_message(name, m, d) for m, d in peeked])

        control = [(name, f"control {i:02d}") for i, name in enumerate(hub.names.control_queues)]
        return list(
            await asyncio.gather(*(report(n, k) for n, k in [*control, (hub.names.work_item_queue, "work items")]))
        )


def _count(value: int | None) -> str:
    if value is None:
        return ""
    text = str(value)
    return f"[bold red]{text}[/]" if value >= POISON_DEQUEUES else text


def _show(hub_name: str, reports: list[QueueReport], peek: int) -> None:
    summary = Table(title=f"{escape(hub_name)} queues", title_justify="left")
    for column, justify in (("Queue", "left"), ("Kind", "left"), ("Depth", "right"), ("Peeked", "right"),
                            ("Oldest age", "right"), ("Max dequeue", "right")):  # fmt: skip
        summary.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in reports:
        summary.add_row(
            escape(r.name), r.kind, str(r.depth), str(len(r.messages)) if peek else "", format_duration(r.oldest_age),
            _count(r.max_dequeue_count),
        )  # fmt: skip
    out.print(summary)
    for r in reports:
        if not r.messages:
            continue
        count = len(r.messages)
        title = f"{escape(r.name)}: {count} visible message{'s' if count != 1 else ''} at the head"
        table = Table(title=title, title_justify="left")
        for column in ("EventType", "InstanceId", "ExecutionId", "Seq", "Dequeue", "Age", "Detail"):
            table.add_column(column, overflow="fold")
        for m in r.messages:
            event = escape(m.event_type) if m.event_type else "[red](unreadable)[/]"
            table.add_row(
                event + (" [dim](blob)[/]" if m.in_blob else ""),
                escape(m.instance_id or ""),
                escape(m.execution_id or ""),
                "" if m.sequence_number is None else str(m.sequence_number),
                _count(m.dequeue_count),
                format_duration(m.age_seconds(r.now)),
                escape(message_detail(m) or ""),
            )
        out.print(table)
    if any((r.max_dequeue_count or 0) >= POISON_DEQUEUES for r in reports):
        out.print(
            f"[bold red]Dequeue counts of {POISON_DEQUEUES} or more[/]: those messages keep failing or timing out; "
            "`dfx doctor` explains why."
        )


def queues(
    peek: Annotated[
        int, typer.Option("--peek", min=0, max=PEEK_LIMIT, help="Messages to peek at per queue (0: depths only).")
    ] = 5,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Show every queue of the task hub: depth, oldest message age, dequeue counts, and the first messages.

    Peeking never changes a message's visibility or dequeue count; only visible messages can be peeked, so
    delayed ones (timers, abandoned retries) count in Depth but are not listed.

    Example: dfx inspect queues --peek 10
    """
    settings = settings_for(app_dir, task_hub, connection)
    reports = run(_load(settings, peek))
    if json_output:
        print_json({"taskHub": settings.hub_name, "queues": [r.to_json() for r in reports]})
        return
    _show(settings.hub_name, reports, peek)
