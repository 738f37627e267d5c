"""``dfx inspect queues``: the depth of every queue of a task hub and a decoded peek at its head."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dfx.cli.console import (
    AppDirOption,
    ConnectionOption,
    JsonOption,
    TaskHubOption,
    open_hub,
    out,
    print_json,
    run,
    settings_for,
)
from dfx.cli.inspect.common import format_duration
from dfx.emulator.config import Settings

if TYPE_CHECKING:
    from dfx.emulator.storage.messages import MessageData

HIGH_DEQUEUE_COUNT = 5  # a message taken this often keeps failing (the provider abandons with back-off)
MAX_PEEK = 32  # Azure Queue's limit for one peek


@dataclass(frozen=True)
class PeekedMessage:
    """A message at the head of a queue, decoded from its envelope (``event_type`` None if unreadable)."""

    message_id: str
    event_type: str | None
    instance_id: str | None
    execution_id: str | None
    sequence_number: int | None
    dequeue_count: int
    inserted: datetime | None
    age_seconds: float | None
    detail: str | None = None
    in_blob: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "eventType": self.event_type,
            "instanceId": self.instance_id,
            "executionId": self.execution_id,
            "sequenceNumber": self.sequence_number,
            "dequeueCount": self.dequeue_count,
            "insertedTime": self.inserted,
            "ageSeconds": round(self.age_seconds, 3) if self.age_seconds is not None else None,
            "detail": self.detail,
            "largeMessageBlob": self.in_blob,
        }


@dataclass
class QueueReport:
    """One queue: its approximate depth (hidden messages included) and the visible messages peeked."""

    name: str
    kind: str
    depth: int
    messages: list[PeekedMessage] = field(default_factory=list)

    @property
    def oldest_age(self) -> float | None:
        return max((m.age_seconds for m in self.messages if m.age_seconds is not None), default=None)

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
            "messages": [m.to_json() for m in self.messages],
        }


def _detail(data: MessageData) -> str | None:
    """What identifies the event beyond its type: the activity, event or orchestration name, a fire time."""
    event = data.event
    fire_at = getattr(event, "fire_at", None)
    if isinstance(fire_at, datetime):
        return f"fires at {fire_at.isoformat().replace('+00:00', 'Z')}"
    name = getattr(event, "name", None)
    return str(name) if name else None


def describe_message(raw: Any, data: MessageData | None, now: datetime) -> PeekedMessage:
    """A peeked queue message (the SDK's QueueMessage) and its decoded envelope, for people and for JSON."""
    from dfx.emulator.storage.messages import MessageFormatError, decode_body

    inserted = getattr(raw, "inserted_on", None)
    try:
        in_blob = bool(decode_body(str(raw.content)).get("CompressedBlobName"))
    except MessageFormatError:
        in_blob = False
    return PeekedMessage(
        message_id=str(raw.id),
        event_type=data.event.event_type.name if data is not None else None,
        instance_id=data.target.instance_id if data is not None else None,
        execution_id=data.target.execution_id if data is not None else None,
        sequence_number=data.sequence_number if data is not None else None,
        dequeue_count=int(raw.dequeue_count or 0),
        inserted=inserted,
        age_seconds=max((now - inserted).total_seconds(), 0.0) if inserted else None,
        detail=_detail(data) if data is not None else None,
        in_blob=in_blob,
    )


async def _load(settings: Settings, peek: int) -> list[QueueReport]:
    from dfx.emulator.durable.history import utcnow

    async with open_hub(settings) as hub:

        async def report(name: str, kind: str) -> QueueReport:
            depth = await hub.queues.depth(name)
            peeked = await hub.queues.peek(name, peek) if peek else []
            now = utcnow()
            return QueueReport(name, kind, depth.count, [describe_message(m, d, now) for m, d in peeked])

        control = [(name, f"control {i:02d}") for i, name in enumerate(hub.names.control_queues)]
        return list(
            await asyncio.gather(*(report(n, k) for n, k in [*control, (hub.names.work_item_queue, "work items")]))
        )


def _count(value: int | None) -> str:
    if value is None:
        return ""
    text = str(value)
    return f"[bold red]{text}[/]" if value >= HIGH_DEQUEUE_COUNT else text


def _show(hub_name: str, reports: list[QueueReport], peek: int) -> None:
    summary = Table(title=f"{hub_name} queues", title_justify="left")
    for column, justify in (("Queue", "left"), ("Kind", "left"), ("Depth", "right"), ("Peeked", "right"),
                            ("Oldest age", "right"), ("Max dequeue", "right")):  # fmt: skip
        summary.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in reports:
        summary.add_row(
            r.name, r.kind, str(r.depth), str(len(r.messages)) if peek else "", format_duration(r.oldest_age),
            _count(r.max_dequeue_count),
        )  # fmt: skip
    out.print(summary)
    for r in reports:
        if not r.messages:
            continue
        count = len(r.messages)
        title = f"{r.name}: {count} visible message{'s' if count != 1 else ''} at the head"
        table = Table(title=title, title_justify="left")
        for column in ("EventType", "InstanceId", "ExecutionId", "Seq", "Dequeue", "Age", "Detail"):
            table.add_column(column, overflow="fold")
        for m in r.messages:
            event = m.event_type or "[red](unreadable)[/]"
            table.add_row(
                event + (" [dim](blob)[/]" if m.in_blob else ""),
                escape(m.instance_id or ""),
                escape(m.execution_id or ""),
                "" if m.sequence_number is None else str(m.sequence_number),
                _count(m.dequeue_count),
                format_duration(m.age_seconds),
                escape(m.detail or ""),
            )
        out.print(table)
    if any((r.max_dequeue_count or 0) >= HIGH_DEQUEUE_COUNT for r in reports):
        out.print(
            f"[bold red]Dequeue counts of {HIGH_DEQUEUE_COUNT} or more[/]: those messages keep failing or timing out; "
            "`dfx doctor` explains why."
        )


def queues(
    peek: Annotated[
        int, typer.Option("--peek", min=0, max=MAX_PEEK, help="Messages to peek at per queue (0: depths only).")
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
