"""The ``{Hub}History`` table: checkpoints guarded by the sentinel row's ETag, and reading an execution."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError

from dfx.emulator.storage import odata
from dfx.emulator.storage.blobs import LargeMessageStore, history_blob_name, needs_table_offload
from dfx.emulator.storage.clients import StorageClients, storage_call
from dfx.emulator.storage.errors import CheckpointConflictError
from dfx.emulator.storage.keys import SENTINEL_ROW_KEY, escape_partition_key, history_row_key
from dfx.emulator.storage.rest import EntityPage, ServiceError, TableOperation
from dfx.model.encoding import from_table_entity, to_table_entity
from dfx.model.history import EventType, HistoryEvent, utcnow

log = logging.getLogger(__name__)

# String columns that are moved to blobs when too large (storage-layout §3.6).
LARGE_COLUMNS = (
    "Name",
    "Input",
    "Result",
    "Output",
    "Reason",
    "Details",
    "Correlation",
    "FailureDetails",
    "Tags",
)
MAX_EVENTS_PER_BATCH = 99  # plus the sentinel: an entity-group transaction holds at most 100 operations
MAX_BATCH_BYTES = 3 * 1024 * 1024
_ROW_OVERHEAD = 1024
_DELETE_BATCH = 100
_DELETE_PARALLELISM = 10


@dataclass
class HistoryRows:
    """The rows of one execution as stored (inflated), in RowKey order, and the sentinel."""

    instance_id: str
    execution_id: str | None
    rows: list[dict[str, Any]]
    sentinel: dict[str, Any] | None

    @property
    def etag(self) -> str | None:
        return self.sentinel.metadata["etag"] if self.sentinel is not None else None  # type: ignore[attr-defined]


@dataclass
class ExecutionHistory:
    """The events of an instance's current (or requested) execution, and the sentinel's ETag."""

    instance_id: str
    execution_id: str | None
    events: list[HistoryEvent]
    etag: str | None

    @property
    def episode(self) -> int:
        """The number of episodes so far: the count of OrchestratorStarted events."""
        return sum(1 for e in self.events if e.event_type is EventType.OrchestratorStarted)


@dataclass
class AppendResult:
    """What a checkpoint wrote: the sentinel's new ETag and the blobs large columns went to."""

    etag: str
    # (index into the appended events, column) -> blob name
    offloaded: dict[tuple[int, str], str] = field(default_factory=dict)


def _estimate_size(row: dict[str, Any]) -> int:
    size = _ROW_OVERHEAD
    for column in LARGE_COLUMNS:
        value = row.get(column)
        if isinstance(value, str):
            size += len(value) * 2
    return size


class HistoryTable:
    """Read and append the history of instances in one task hub."""

    service = "table"
    """The storage service it talks to, named in failure messages."""

    def __init__(self, clients: StorageClients, table_name: str, blobs: LargeMessageStore) -> None:
        self.account = clients.account
        self.name = table_name
        self.blobs = blobs
        self._table = clients.tables.get_table_client(table_name)
        self._rest = clients.rest

    @storage_call
    async def create(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self._table.create_table()

    @storage_call
    async def delete(self) -> None:
        await self._table.delete_table()

    # -- writing ------------------------------------------------------------------------------------

    async def _offload(
        self, instance_key: str, index: int, row: dict[str, Any], offloaded: dict[tuple[int, str], str]
    ) -> None:
        for column in LARGE_COLUMNS:
            value = row.get(column)
            if isinstance(value, str) and needs_table_offload(value):
                blob = history_blob_name(instance_key, row["RowKey"], row["EventType"], column)
                await self.blobs.upload(blob, value)
                row[column] = ""
                row[f"{column}BlobName"] = blob
                offloaded[(index, column)] = blob

    @storage_call
    async def append(
        self,
        instance_id: str,
        execution_id: str,
        events: Sequence[HistoryEvent],
        *,
        start_index: int,
        etag: str | None,
    ) -> AppendResult:
        """Append ``events`` at sequence ``start_index`` and move the sentinel, in the provider's batches.

        ``etag`` is the sentinel ETag seen when the history was read (None if there was no sentinel).
        Raises CheckpointConflictError when another writer moved the sentinel; that batch wrote nothing.
        """
        key = escape_partition_key(instance_id)
        rows = [
            to_table_entity(e, instance_key=key, row_key=history_row_key(start_index + i), execution_id=execution_id)
            for i, e in enumerate(events)
        ]
        offloaded: dict[tuple[int, str], str] = {}
        await asyncio.gather(*(self._offload(key, i, row, offloaded) for i, row in enumerate(rows)))

        batches: list[list[dict[str, Any]]] = [[]]
        size = 0
        for row in rows:
            row_size = _estimate_size(row)
            if batches[-1] and (len(batches[-1]) >= MAX_EVENTS_PER_BATCH or size + row_size > MAX_BATCH_BYTES):
                batches.append([])
                size = 0
            batches[-1].append(row)
            size += row_size

        current = etag
        for number, batch in enumerate(batches, start=1):
            final = number == len(batches)
            sentinel: dict[str, Any] = {
                "PartitionKey": key,
                "RowKey": SENTINEL_ROW_KEY,
                "ExecutionId": execution_id,
                "IsCheckpointComplete": final,
            }
            if final:
                sentinel["CheckpointCompletedTimestamp"] = utcnow()
            operations = [TableOperation("upsert", row) for row in batch]
            if current is None:
                operations.append(TableOperation("insert", sentinel))
            else:
                operations.append(TableOperation("merge", sentinel, etag=current))
            try:
                etags = await self._rest.transaction(self.name, operations)
            except ServiceError as exc:
                # 409: a sentinel was inserted meanwhile; 412: it moved; 404: it was deleted (a purge) since
                # the read. Each means the history seen is not the stored one, and the batch wrote nothing.
                if exc.status in (409, 412) or (exc.status == 404 and current is not None):
                    raise CheckpointConflictError(
                        f"History of instance {instance_id!r} was changed by another writer "
                        f"(HTTP {exc.status}); this checkpoint was not written."
                    ) from exc
                raise
            current = etags[-1]
        assert current is not None
        return AppendResult(etag=current, offloaded=offloaded)

    # -- reading ------------------------------------------------------------------------------------

    async def _inflate(self, row: dict[str, Any]) -> None:
        for column in LARGE_COLUMNS:
            blob = row.pop(f"{column}BlobName", None)
            if blob:
                row[column] = await self.blobs.download(blob)

    @storage_call
    async def read_rows(self, instance_id: str, execution_id: str | None = None) -> HistoryRows:
        """The rows of the current execution (or of ``execution_id``), per storage-layout §3.7."""
        key = escape_partition_key(instance_id)
        query = odata.eq("PartitionKey", key)
        if execution_id is not None:
            query += f" and (RowKey eq 'sentinel' or {odata.eq('ExecutionId', execution_id)})"
        try:
            entities = [e async for e in self._table.query_entities(query)]
        except ResourceNotFoundError:
            entities = []
        entities.sort(key=lambda e: e["RowKey"])
        sentinel = next((e for e in reversed(entities) if e["RowKey"] == SENTINEL_ROW_KEY), None)
        events = [e for e in entities if e["RowKey"] != SENTINEL_ROW_KEY]
        current = sentinel.get("ExecutionId") if sentinel is not None else None
        if execution_id is not None and current != execution_id:
            return HistoryRows(instance_id, execution_id, [], sentinel)
        if current is None and events:
            current = events[0].get("ExecutionId")
        kept: list[dict[str, Any]] = []
        for row in events:
            if row.get("ExecutionId") != current:
                break
            kept.append(dict(row))
        offloaded = [row for row in kept if any(f"{c}BlobName" in row for c in LARGE_COLUMNS)]
        if offloaded:
            await asyncio.gather(*(self._inflate(row) for row in offloaded))
        return HistoryRows(instance_id, current, kept, sentinel)

    async def read(self, instance_id: str, execution_id: str | None = None) -> ExecutionHistory:
        """The typed events of the current execution (or of ``execution_id``) and the sentinel ETag."""
        stored = await self.read_rows(instance_id, execution_id)
        return ExecutionHistory(
            instance_id=instance_id,
            execution_id=stored.execution_id,
            events=[from_table_entity(row) for row in stored.rows],
            etag=stored.etag,
        )

    @storage_call
    async def read_sentinel(self, instance_id: str) -> dict[str, Any] | None:
        """The sentinel row of an instance's history (one point read), or None when there is none."""
        try:
            return dict(await self._table.get_entity(escape_partition_key(instance_id), SENTINEL_ROW_KEY))
        except ResourceNotFoundError:
            return None

    @storage_call
    async def _rows_page(self, query: str, continuation: tuple[str, str | None] | None) -> EntityPage:
        try:
            return await self._rest.query_page(self.name, query, continuation=continuation)
        except ServiceError as exc:
            if exc.status != 404:
                raise
            return EntityPage([], None)

    async def iter_row_pages(
        self, instance_id: str, execution_id: str | None = None, *, after_row_key: str | None = None
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The rows of one execution in RowKey order, a page (<= 1,000 rows, inflated) at a time as they arrive.

        For readers that show a long history while it loads, or follow a live one; the engine uses ``read``.
        ``execution_id`` None means the execution of the first row (pass the sentinel's ``ExecutionId`` to
        read as §3.7 does). Reading stops at the first row of another execution, as ``read_rows`` does; the
        sentinel is never yielded, and ``after_row_key`` leaves out the rows up to and including that key.
        The next page is fetched while the caller handles the current one.
        """
        key = escape_partition_key(instance_id)
        query = f"{odata.eq('PartitionKey', key)} and RowKey lt {odata.string(SENTINEL_ROW_KEY)}"
        if after_row_key is not None:
            query += f" and RowKey gt {odata.string(after_row_key)}"
        pending: asyncio.Future[EntityPage] | None = asyncio.ensure_future(self._rows_page(query, None))
        current = execution_id
        try:
            while pending is not None:
                page = await pending
                pending = None
                if page.continuation is not None:
                    pending = asyncio.ensure_future(self._rows_page(query, page.continuation))
                rows: list[dict[str, Any]] = []
                ended = False
                for row in page.entities:
                    if current is None:
                        current = row.get("ExecutionId")
                    if row.get("ExecutionId") != current:
                        ended = True
                        break
                    rows.append(row)
                offloaded = [row for row in rows if any(f"{c}BlobName" in row for c in LARGE_COLUMNS)]
                if offloaded:
                    await asyncio.gather(*(self._inflate(row) for row in offloaded))
                if rows:
                    yield rows
                if ended:
                    return
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending

    @storage_call
    async def rewrite_as_generic(
        self, instance_id: str, row_keys: Sequence[tuple[str, str]], *, etag: str | None
    ) -> None:
        """Turn rows into GenericEvent rows in place, ``Reason = "Rewound: <old type>"``.

        The legacy rewind of storage-layout §9.

        Each batch also touches the sentinel with If-Match on ``etag`` (the ETag seen when the history was
        read), as every history writer does: a purge or another writer since then makes the rewind fail with
        CheckpointConflictError and that batch write nothing.
        """
        key = escape_partition_key(instance_id)
        current = etag
        for start in range(0, len(row_keys), MAX_EVENTS_PER_BATCH):
            operations = [
                TableOperation("merge", {"PartitionKey": key, "RowKey": row_key,
                                         "EventType": EventType.GenericEvent.name, "Reason": f"Rewound: {old_type}"})
                for row_key, old_type in row_keys[start : start + MAX_EVENTS_PER_BATCH]
            ]  # fmt: skip
            if current is not None:
                operations.append(TableOperation("merge", {"PartitionKey": key, "RowKey": SENTINEL_ROW_KEY}, current))
            try:
                etags = await self._rest.transaction(self.name, operations)
            except ServiceError as exc:
                if exc.status in (404, 409, 412):
                    raise CheckpointConflictError(
                        f"History of instance {instance_id!r} was changed by another writer (HTTP {exc.status}) "
                        "since it was read; it was not rewound."
                    ) from exc
                raise
            current = etags[-1] if current is not None else None

    @storage_call
    async def has_rows(self, instance_id: str) -> bool:
        key = escape_partition_key(instance_id)
        async for _ in self._table.query_entities(odata.eq("PartitionKey", key), select=["RowKey"]):
            return True
        return False

    # -- deleting -----------------------------------------------------------------------------------

    @storage_call
    async def row_versions(self, instance_id: str) -> list[tuple[str, str | None]]:
        """(RowKey, ETag) of every history row of an instance: all executions and the sentinel."""
        key = escape_partition_key(instance_id)
        try:
            return [
                (e["RowKey"], e.metadata["etag"])
                async for e in self._table.query_entities(
                    odata.eq("PartitionKey", key), select=["PartitionKey", "RowKey"]
                )
            ]
        except ResourceNotFoundError:
            return []

    @storage_call
    async def delete_instance(self, instance_id: str) -> int:
        """Delete every history row of an instance (all executions and the sentinel); return the count."""
        keys = [row_key for row_key, _ in await self.row_versions(instance_id)]
        await self.delete_rows(instance_id, [(row_key, None) for row_key in keys])
        return len(keys)

    @storage_call
    async def delete_rows(self, instance_id: str, rows: Sequence[tuple[str, str | None]]) -> bool:
        """Delete rows by (RowKey, ETag): with an ETag only if the row is unchanged since, with None in any case.

        Returns False when a row had changed since its ETag was read; that row is kept. A row that is gone
        already is not an error.
        """
        key = escape_partition_key(instance_id)
        chunks = [rows[i : i + _DELETE_BATCH] for i in range(0, len(rows), _DELETE_BATCH)]
        limit = asyncio.Semaphore(_DELETE_PARALLELISM)
        kept = False

        def operation(row_key: str, etag: str | None) -> tuple[str, dict[str, str], dict[str, Any]]:
            condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
            return "delete", {"PartitionKey": key, "RowKey": row_key}, condition

        async def delete_chunk(chunk: Sequence[tuple[str, str | None]]) -> None:
            nonlocal kept
            async with limit:
                try:
                    await self._table.submit_transaction([operation(*row) for row in chunk])
                except TableTransactionError:
                    for row_key, etag in chunk:  # one at a time: a row may be gone already, or changed
                        *_, condition = operation(row_key, etag)
                        try:
                            await self._table.delete_entity(key, row_key, **condition)
                        except ResourceNotFoundError:
                            pass
                        except ResourceModifiedError:
                            kept = True

        await asyncio.gather(*(delete_chunk(c) for c in chunks))
        return not kept
