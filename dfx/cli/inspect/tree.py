"""``dfx inspect tree``: an instance and its sub-orchestrations, recursively, with their statuses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.tree import Tree

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
)
from dfx.cli.inspect.common import format_duration, read_history, seconds_between, status_markup
from dfx.emulator.config import Settings

if TYPE_CHECKING:
    from dfx.emulator.storage import TaskHub

PARALLEL_READS = 8
REPEATED = "already shown above: a cycle or a repeated instance id"


@dataclass(frozen=True)
class ChildRef:
    """A sub-orchestration as its parent's history records it, with the outcome the parent saw."""

    instance_id: str
    name: str | None
    task_id: int
    outcome: str | None  # "Completed" or "Failed" once the parent got the answer


def children_of(rows: list[dict[str, Any]]) -> list[ChildRef]:
    """The sub-orchestrations a history started, in the order it started them."""
    outcomes = {
        int(row.get("TaskScheduledId", -1)): "Completed" if row["EventType"].endswith("Completed") else "Failed"
        for row in rows
        if row.get("EventType") in ("SubOrchestrationInstanceCompleted", "SubOrchestrationInstanceFailed")
    }
    children = []
    for row in rows:
        if row.get("EventType") == "SubOrchestrationInstanceCreated" and row.get("InstanceId"):
            task_id = int(row.get("EventId", -1))
            children.append(ChildRef(str(row["InstanceId"]), row.get("Name"), task_id, outcomes.get(task_id)))
    return children


@dataclass
class TreeNode:
    """One instance of the tree: its status and times, and its sub-orchestrations."""

    instance_id: str
    name: str | None
    status: str
    created: datetime | None = None
    updated: datetime | None = None
    completed: datetime | None = None
    duration_seconds: float | None = None
    running: bool = False
    note: str | None = None
    children: list[TreeNode] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "instanceId": self.instance_id,
            "name": self.name,
            "runtimeStatus": self.status,
            "createdTime": self.created,
            "lastUpdatedTime": self.updated,
            "completedTime": self.completed,
            "durationMs": round(self.duration_seconds * 1000) if self.duration_seconds is not None else None,
            "children": [child.to_json() for child in self.children],
        }
        if self.note:
            data["note"] = self.note
        return data


class _TreeReader:
    """Reads an instance, then its children concurrently (a few reads at a time), never one instance twice."""

    def __init__(self, hub: TaskHub, max_depth: int, now: datetime) -> None:
        self.hub = hub
        self.max_depth = max_depth
        self.now = now
        self.seen: set[str] = set()
        self.limit = asyncio.Semaphore(PARALLEL_READS)

    async def node(self, instance_id: str, ref: ChildRef | None, depth: int) -> TreeNode:
        name, outcome = (ref.name, ref.outcome) if ref is not None else (None, None)
        if instance_id in self.seen:
            return TreeNode(instance_id, name, outcome or "", note=REPEATED)
        self.seen.add(instance_id)
        async with self.limit:
            record = await self.hub.instances.get(instance_id, fetch_large=False)
            rows: list[dict[str, Any]] = []
            if record is not None and depth < self.max_depth:
                _, rows = await read_history(self.hub, instance_id)
        if record is None:
            return TreeNode(instance_id, name, outcome or "Scheduled", note="no Instances row yet")
        terminal = record.runtime_status.is_terminal
        end = record.completed_time if terminal else self.now
        node = TreeNode(
            instance_id,
            record.name,
            record.runtime_status.name,
            created=record.created_time,
            updated=record.last_updated_time,
            completed=record.completed_time,
            duration_seconds=seconds_between(record.created_time, end or record.last_updated_time),
            running=not terminal,
        )
        refs = children_of(rows)
        if depth >= self.max_depth:
            node.note = f"depth limit {self.max_depth} reached: sub-orchestrations not read"
        node.children = list(await asyncio.gather(*(self.node(r.instance_id, r, depth + 1) for r in refs)))
        return node


async def _load(settings: Settings, instance_id: str, max_depth: int) -> TreeNode:
    from dfx.model.history import utcnow

    async with open_hub(settings) as hub:
        await require_instance(hub, instance_id, fetch_large=False)
        return await _TreeReader(hub, max_depth, utcnow()).node(instance_id, None, 0)


def _label(node: TreeNode) -> str:
    parts = [f"[bold]{escape(node.name or '?')}[/]", escape(node.instance_id), status_markup(node.status)]
    if node.duration_seconds is not None:
        parts.append(f"[dim]{format_duration(node.duration_seconds)}{' so far' if node.running else ''}[/]")
    if node.created is not None:
        parts.append(f"[dim]created {format_time(node.created)}[/]")
    if node.note:
        parts.append(f"[yellow]({escape(node.note)})[/]")
    return "  ".join(parts)


def _grow(tree: Tree, node: TreeNode) -> None:
    for child in node.children:
        _grow(tree.add(_label(child)), child)


def tree(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    max_depth: Annotated[int, typer.Option("--max-depth", min=1, help="Levels of sub-orchestrations to read.")] = 20,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Show an instance and its sub-orchestrations, recursively, with their statuses and durations.

    Children come from the SubOrchestrationInstanceCreated rows of each history; their statuses from their
    own Instances rows.

    Example: dfx inspect tree 4a1b9c0e2f7d4e3c8b5a6d7e8f9a0b1c --json
    """
    chosen = pick_instance_id(instance_id, id_option)
    settings = settings_for(app_dir, task_hub, connection)
    root = run(_load(settings, chosen, max_depth))
    if json_output:
        print_json(root.to_json())
        return
    view = Tree(_label(root))
    _grow(view, root)
    out.print(view)
