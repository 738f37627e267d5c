"""A task hub in one storage account: its tables, queues and containers, created, deleted and purged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TypeVar

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from dfx.emulator.storage.blobs import LargeMessageStore
from dfx.emulator.storage.clients import StorageClients, storage_call
from dfx.emulator.storage.connection import StorageAccount
from dfx.emulator.storage.errors import TaskHubNotFoundError
from dfx.emulator.storage.history_table import HistoryTable
from dfx.emulator.storage.instances_table import InstanceQuery, InstanceRecord, InstancesTable
from dfx.emulator.storage.keys import SENTINEL_ROW_KEY, escape_partition_key
from dfx.emulator.storage.names import DEFAULT_PARTITION_COUNT, TaskHubNames
from dfx.emulator.storage.partitions import PartitionsTable
from dfx.emulator.storage.queues import HubQueues
from dfx.model.history import TERMINAL_STATUSES, OrchestrationStatus

log = logging.getLogger(__name__)

PURGE_PARALLELISM = 8
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class PurgeResult:
    """How many instances a purge removed, and which it left because they were started again meanwhile."""

    instances_deleted: int
    skipped: tuple[str, ...] = ()


class PurgeOutcome(Enum):
    """What a purge of one finished instance did."""

    PURGED = "purged"
    NOT_FOUND = "not found"
    SKIPPED = "skipped"
    """It changed after it was read (started again, rewound): nothing of its new run was deleted."""


class TaskHub:
    """Everything dfx stores for one task hub, in the Azure Storage provider's layout.

    Use as ``async with TaskHub(account, "MyHub") as hub:``; nothing touches storage until a method is
    awaited, and the hub name and partition count are validated before anything is written.
    """

    def __init__(
        self,
        account: StorageAccount,
        hub_name: str,
        partition_count: int = DEFAULT_PARTITION_COUNT,
        *,
        clients: StorageClients | None = None,
    ) -> None:
        self.names = TaskHubNames(hub_name, partition_count)
        self.account = account
        self._owns_clients = clients is None
        self.clients = clients or StorageClients(account)
        self.blobs = LargeMessageStore(self.clients, self.names.large_messages_container)
        self.history = HistoryTable(self.clients, self.names.history_table, self.blobs)
        self.instances = InstancesTable(self.clients, self.names.instances_table, self.names.hub, self.blobs)
        self.partitions = PartitionsTable(self.clients, self.names.partitions_table)
        self.queues = HubQueues(self.clients, self.names, self.blobs)

    @classmethod
    async def open_existing(
        cls, account: StorageAccount, hub_name: str, partition_count: int = DEFAULT_PARTITION_COUNT
    ) -> TaskHub:
        """An existing hub with the partition count it was created with, whatever ``partition_count`` says now.

        Its Partitions rows tell the count (``partition_count`` when it has none): a message for an instance
        must land on the control queue that the hub's hosts read. Raises TaskHubNotFoundError when the hub does
        not exist. The caller closes the hub (``async with``).
        """
        hub = cls(account, hub_name, partition_count)
        try:
            await hub.require()
            leases = await hub.partitions.read_all()
        except BaseException:
            await hub.close()
            raise
        if leases and len(leases) != partition_count:
            await hub.close()
            hub = cls(account, hub_name, len(leases))
        return hub

    @property
    def name(self) -> str:
        return self.names.hub

    async def close(self) -> None:
        await self.queues.close()
        if self._owns_clients:
            await self.clients.close()

    async def __aenter__(self) -> TaskHub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- lifecycle ----------------------------------------------------------------------------------

    @storage_call
    async def _create_app_lease(self) -> None:
        container = self.clients.blobs.get_container_client(self.names.app_lease_container)
        with contextlib.suppress(ResourceExistsError):
            await container.create_container()
        with contextlib.suppress(ResourceExistsError):
            await container.upload_blob(self.names.app_lease_info_blob, b"{}", overwrite=False)

    async def create(self) -> None:
        """Create every resource if missing, in the provider's order (storage-layout §1); idempotent."""
        await self._create_app_lease()
        await self.partitions.create([])
        await asyncio.gather(
            self.history.create(),
            self.instances.create(),
            self.queues.create(self.names.work_item_queue),
            *(self.queues.create(q) for q in self.names.control_queues),
            self.partitions.create(self.names.control_queues),
        )

    @storage_call
    async def exists(self) -> bool:
        """True when the hub's History and Instances tables exist."""
        wanted = {self.names.history_table.lower(), self.names.instances_table.lower()}
        found = {t.name.lower() async for t in self.clients.tables.list_tables()}
        return wanted <= found

    async def require(self) -> None:
        """Raise TaskHubNotFoundError unless the hub exists."""
        if not await self.exists():
            raise TaskHubNotFoundError(
                f"Task hub {self.name!r} does not exist in storage account {self.account.describe()}."
            )

    @storage_call
    async def _delete_container(self, name: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            await self.clients.blobs.get_container_client(name).delete_container()

    @storage_call
    async def _control_queues_in_account(self) -> list[str]:
        """The hub's control queues as listed, whatever partition count it was created with."""
        pattern = re.compile(re.escape(self.names.lower) + r"-control-\d{2}")
        prefix = f"{self.names.lower}-control-"
        return [
            q.name async for q in self.clients.queues.list_queues(name_starts_with=prefix) if pattern.fullmatch(q.name)
        ]

    async def delete(self) -> None:
        """Delete every table, queue and container of the hub (storage-layout §1, "Delete hub").

        Control queues are found by listing, and the ``{hub}-leases`` container of a hub made by the provider's
        blob partition managers goes too: such a hub has no Partitions rows that tell its partition count.
        """

        async def drop(table: HistoryTable | InstancesTable | PartitionsTable) -> None:
            with contextlib.suppress(ResourceNotFoundError):
                await table.delete()

        queues = {*self.queues.all_queue_names, *await self._control_queues_in_account()}
        await asyncio.gather(
            *(self.queues.delete_queue(q) for q in sorted(queues)),
            drop(self.history),
            drop(self.instances),
            drop(self.partitions),
            self._delete_container(self.names.app_lease_container),
            self._delete_container(self.names.large_messages_container),
            self._delete_container(leases_container(self.names)),
        )

    # -- purge --------------------------------------------------------------------------------------

    async def purge_instance(self, instance_id: str) -> bool:
        """Delete an instance's history rows, blobs and Instances row, whatever its status; False if it does not exist.

        Blobs are deleted by the ``{id}/`` prefix (raw and escaped id), not the bare id the provider
        uses, which would also delete blobs of other instances whose ids merely start the same way.
        Queue messages are left alone, as the provider does.
        """
        record = await self.instances.get(instance_id, fetch_large=False)
        if record is None:
            return False
        await self.history.delete_instance(instance_id)
        await self._delete_blobs(instance_id)
        await self.instances.delete_row(instance_id)
        return True

    async def _delete_blobs(self, instance_id: str, created_until: datetime | None = None) -> None:
        for prefix in {f"{instance_id}/", f"{escape_partition_key(instance_id)}/"}:
            await self.blobs.delete_prefix(prefix, created_until=created_until)

    async def purge_finished_instance(self, shown: InstanceRecord) -> PurgeOutcome:
        """Purge an instance only if it is still as ``shown`` (same Instances ETag, so still finished) throughout.

        The purge first claims the instance by deleting its sentinel with If-Match on the ETag it listed: every
        writer of a history (a host's checkpoint, a new execution, a rewind) moves or needs that sentinel, so
        a write since the listing makes the claim fail with nothing deleted (SKIPPED), and a write after it
        fails or starts afresh. Then the rows go, each only if unchanged since listed (a new execution's rows
        are kept), then the blobs the shown run wrote (created no later than its Instances row was last
        written, on the account's clock: a new start's blobs are newer and stay), and last the Instances row
        with If-Match. A purge that stops midway leaves a finished instance that is still listed and can be
        purged again.
        """
        instance_id = shown.instance_id
        if shown.etag is None or not shown.runtime_status.is_terminal:
            return PurgeOutcome.SKIPPED
        current = await self.instances.get(instance_id, fetch_large=False)
        if current is None:
            return PurgeOutcome.NOT_FOUND
        if current.etag != shown.etag:
            return PurgeOutcome.SKIPPED
        listed = await self.history.row_versions(instance_id)
        rows = [row for row in listed if row[0] != SENTINEL_ROW_KEY]
        sentinels = [row for row in listed if row[0] == SENTINEL_ROW_KEY]
        sentinel = await self.history.read_sentinel(instance_id)
        if sentinel is not None and shown.execution_id and sentinel.get("ExecutionId") != shown.execution_id:
            return PurgeOutcome.SKIPPED
        if not await self.history.delete_rows(instance_id, sentinels):
            return PurgeOutcome.SKIPPED  # written since the listing: nothing was deleted
        if not await self.history.delete_rows(instance_id, rows):
            return PurgeOutcome.SKIPPED  # a new execution is under way: its rows are kept
        await self._delete_blobs(instance_id, created_until=current.stored_at)
        if not await self.instances.delete_row(instance_id, etag=shown.etag):
            return PurgeOutcome.SKIPPED
        return PurgeOutcome.PURGED

    async def purge_finished_instances(
        self, shown: Sequence[InstanceRecord], progress: Callable[[int, int], None] | None = None
    ) -> PurgeResult:
        """Purge exactly the instances ``shown`` (as purge_finished_instance does each); the rest are left."""
        outcomes = await _each(shown, self.purge_finished_instance, progress)
        return PurgeResult(
            instances_deleted=sum(1 for o in outcomes if o is PurgeOutcome.PURGED),
            skipped=tuple(r.instance_id for r, o in zip(shown, outcomes, strict=True) if o is PurgeOutcome.SKIPPED),
        )

    async def purge_candidates(
        self,
        *,
        created_from: datetime,
        created_to: datetime | None = None,
        statuses: Iterable[OrchestrationStatus] | None = None,
    ) -> list[InstanceRecord]:
        """The instances a purge by filter removes: created in the range, in ``statuses`` (None: any status).

        As in the provider only Completed/Failed/Terminated/Canceled are honoured; unlike the provider, a
        status list with none of them matches nothing instead of falling back to "every status".
        """
        wanted: frozenset[OrchestrationStatus] = frozenset()
        if statuses is not None:
            requested = set(statuses)
            wanted = frozenset(requested & TERMINAL_STATUSES)
            if requested and not wanted:
                return []
        query = InstanceQuery(
            statuses=wanted,
            created_from=created_from,
            created_to=created_to,
            fetch_input=False,
            page_size=1000,
        )
        return await self.instances.query_all(query)

    async def purge_instances(
        self,
        *,
        created_from: datetime,
        created_to: datetime | None = None,
        statuses: Iterable[OrchestrationStatus] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> PurgeResult:
        """Purge every instance created in a time range, optionally only those in terminal ``statuses``.

        With terminal statuses an instance started again meanwhile is skipped (purge_finished_instance);
        without, every status is purged, as the provider does.
        """
        wanted = None if statuses is None else frozenset(statuses)
        records = await self.purge_candidates(created_from=created_from, created_to=created_to, statuses=wanted)
        if wanted:
            return await self.purge_finished_instances(records, progress)
        removed = await _each([r.instance_id for r in records], self.purge_instance, progress)
        return PurgeResult(sum(1 for r in removed if r))


async def _each(items: Sequence[T], action: Callable[[T], Awaitable[R]],
                progress: Callable[[int, int], None] | None) -> list[R]:  # fmt: skip
    """``action`` on every item, PURGE_PARALLELISM at a time, reporting (done, total) after each."""
    limit = asyncio.Semaphore(PURGE_PARALLELISM)
    done = 0

    async def one(item: T) -> R:
        nonlocal done
        async with limit:
            result = await action(item)
        done += 1
        if progress is not None:
            progress(done, len(items))
        return result

    return await asyncio.gather(*(one(item) for item in items))


def leases_container(names: TaskHubNames) -> str:
    """``{hub}-leases``: the lease blobs and taskhub.json of a hub made by the provider's blob partition managers."""
    return f"{names.lower}-leases"


async def list_task_hubs(account: StorageAccount) -> list[str]:
    """Hub names in an account: tables named ``*History`` that have a matching ``*Instances`` table."""
    async with StorageClients(account) as clients:
        return await _list_hubs(clients)


@storage_call
async def _list_hubs(clients: StorageClients) -> list[str]:
    names = [t.name async for t in clients.tables.list_tables()]
    lowered = {n.lower() for n in names}
    hubs = [
        name[: -len("History")]
        for name in names
        if name.endswith("History") and f"{name[: -len('History')]}Instances".lower() in lowered
    ]
    return sorted(hubs, key=str.lower)
