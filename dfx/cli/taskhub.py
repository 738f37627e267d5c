"""``dfx taskhub``: list, describe and delete the task hubs of a storage account, straight through storage."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from dfx.cli.console import (
    AppDirOption,
    ConnectionOption,
    JsonOption,
    TaskHubOption,
    YesOption,
    confirm_or_exit,
    err,
    format_time,
    open_hub,
    out,
    print_json,
    run,
    settings_for,
)
from dfx.emulator.config import Settings
from dfx.emulator.durable.leases import lease_expired, live_owners

if TYPE_CHECKING:  # the storage SDKs load only when a command runs
    from dfx.emulator.storage import TaskHub
    from dfx.emulator.storage.partitions import PartitionLease
    from dfx.emulator.storage.queues import QueueDepth

app = typer.Typer(
    help="List, describe and delete the task hubs of a storage account.\n\nExample: dfx taskhub info --task-hub MyHub",
    no_args_is_help=True,
)

COUNT_CAP = 10_000
"""Instances counted by ``info`` at most: a larger hub shows "10,000+" instead of reading its whole table."""


@app.command("list")
def list_command(
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """List the task hubs in the storage account; the one this app uses is marked.

    Example: dfx taskhub list --connection UseDevelopmentStorage=true
    """
    from dfx.emulator.storage import list_task_hubs

    settings = settings_for(app_dir, task_hub, connection)
    names = run(list_task_hubs(settings.storage))
    current = settings.hub_name.lower()
    if json_output:
        hubs = [{"name": name, "current": name.lower() == current} for name in names]
        print_json({"account": settings.storage.describe(), "taskHubs": hubs})
        return
    if not names:
        out.print(f"No task hubs in {settings.storage.describe()}.", markup=False)
        return
    out.print(f"Task hubs in {settings.storage.describe()}:", markup=False)
    table = Table()
    table.add_column("TaskHub", no_wrap=True)
    table.add_column("", no_wrap=True)
    for name in names:
        table.add_row(name, "[green]← this app[/]" if name.lower() == current else "")
    out.print(table)


@dataclass
class HubInfo:
    """What ``dfx taskhub info`` shows: leases, queue depths, instance counts, the large-message container."""

    name: str
    account: str
    partitions: list[PartitionLease]
    queues: list[QueueDepth]
    work_item_queue: str
    statuses: Counter[str]
    instances_capped: bool
    large_messages_container: str
    large_messages_exist: bool

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "name": self.name,
            "account": self.account,
            "partitionCount": len(self.partitions),
            "partitions": [
                {
                    "partitionId": p.queue_name,
                    "owner": p.current_owner,
                    "ownedSince": p.owned_since,
                    "lastRenewal": p.last_renewal,
                    "expiresAt": p.expires_at,
                    "expired": lease_expired(p.expires_at, now),
                    "nextOwner": p.next_owner,
                    "isDraining": p.is_draining,
                }
                for p in self.partitions
            ],
            "queues": [
                {
                    "name": q.name,
                    "kind": "workItem" if q.name == self.work_item_queue else "control",
                    "approximateMessageCount": q.count,
                }
                for q in self.queues
            ],
            "instances": {
                "total": sum(self.statuses.values()),
                "countedUpTo": COUNT_CAP if self.instances_capped else None,
                "byRuntimeStatus": dict(sorted(self.statuses.items())),
            },
            "largeMessages": {"container": self.large_messages_container, "exists": self.large_messages_exist},
        }


async def _count_statuses(hub: TaskHub) -> tuple[Counter[str], bool]:
    from dfx.emulator.storage.instances_table import InstanceQuery

    records = await hub.instances.query_all(InstanceQuery(fetch_input=False, page_size=1000), limit=COUNT_CAP + 1)
    capped = len(records) > COUNT_CAP
    return Counter(r.runtime_status.name for r in records[:COUNT_CAP]), capped


async def _large_messages_exist(hub: TaskHub) -> bool:
    return await hub.blobs.container_exists()


async def _load_info(settings: Settings) -> HubInfo:
    async with open_hub(settings) as hub:
        partitions = await hub.partitions.read_all()
        queue_names = [p.queue_name for p in partitions] or hub.names.control_queues
        depths, (statuses, capped), blobs = await asyncio.gather(
            asyncio.gather(*(hub.queues.depth(q) for q in [*queue_names, hub.names.work_item_queue])),
            _count_statuses(hub),
            _large_messages_exist(hub),
        )
        return HubInfo(
            name=hub.name,
            account=settings.storage.describe(),
            partitions=partitions,
            queues=list(depths),
            work_item_queue=hub.names.work_item_queue,
            statuses=statuses,
            instances_capped=capped,
            large_messages_container=hub.names.large_messages_container,
            large_messages_exist=blobs,
        )


@app.command()
def info(
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Describe a task hub: partition owners and leases, queue depths, instances by runtime status.

    Example: dfx taskhub info --task-hub MyHub --json
    """
    from dfx.model.history import utcnow

    settings = settings_for(app_dir, task_hub, connection)
    hub = run(_load_info(settings))
    now = utcnow()
    if json_output:
        print_json(hub.to_json(now))
        return
    out.print(f"[bold]{hub.name}[/] in {escape(str(hub.account))}: {len(hub.partitions)} partitions")
    leases = Table(title="Partitions", title_justify="left")
    for column in ("Partition", "Owner", "Lease expires", "Next owner"):
        leases.add_column(column, no_wrap=True)
    for p in hub.partitions:
        if p.current_owner is None:
            expiry = "[yellow]no owner[/]"
        elif lease_expired(p.expires_at, now):
            expiry = f"[red]{format_time(p.expires_at)} (expired)[/]"
        else:
            expiry = f"[green]{format_time(p.expires_at)}[/]"
        draining = " [dim](draining)[/]" if p.is_draining else ""
        leases.add_row(p.queue_name, escape(p.current_owner or "") + draining, expiry, escape(p.next_owner or ""))
    out.print(leases)
    queues = Table(title="Queues", title_justify="left")
    queues.add_column("Queue", no_wrap=True)
    queues.add_column("Messages (approx.)", justify="right")
    for q in hub.queues:
        queues.add_row(q.name, str(q.count))
    out.print(queues)
    total = sum(hub.statuses.values())
    counted = f"{COUNT_CAP:,}+" if hub.instances_capped else f"{total:,}"
    by_status = ", ".join(f"{name} {count:,}" for name, count in sorted(hub.statuses.items()))
    out.print(f"Instances: {counted}" + (f" ({by_status})" if by_status else ""))
    present = "present" if hub.large_messages_exist else "not created yet"
    out.print(f"Large messages: container {hub.large_messages_container} {present}")


async def _describe_for_delete(settings: Settings) -> tuple[str, list[str]]:
    """The hub's name and the hosts that hold live leases on it (deleting under them breaks them)."""
    from dfx.model.history import utcnow

    async with open_hub(settings) as hub:
        return hub.name, live_owners(await hub.partitions.read_all(), utcnow())


async def _delete(settings: Settings) -> None:
    async with open_hub(settings) as hub:
        await hub.delete()


def delete_task_hub(settings: Settings, *, yes: bool, json_output: bool) -> None:
    """Delete every table, queue and container of the hub in ``settings``, after asking unless ``yes``."""
    name, owners = run(_describe_for_delete(settings))
    if owners:
        err.print(f"[yellow]A running host owns partitions of {name}: {escape(', '.join(owners))}.[/]")
    confirm_or_exit(f"Delete task hub {name} with all its instances and histories?", yes=yes)
    run(_delete(settings))
    if json_output:
        print_json({"taskHub": name, "deleted": True})
        return
    out.print(f"Deleted task hub {name}: its tables, queues and containers are gone.")


@app.command()
def delete(
    yes: YesOption = False,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Delete a task hub: every table, queue and blob container it has (asks first unless --yes).

    Example: dfx taskhub delete --task-hub OldHub --yes
    """
    delete_task_hub(settings_for(app_dir, task_hub, connection), yes=yes, json_output=json_output)
