"""The ``{Hub}Instances`` table: one row per instance with its latest status (storage-layout §4)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from dfx.emulator.storage import odata
from dfx.emulator.storage.blobs import LargeMessageStore, history_blob_name, needs_table_offload
from dfx.emulator.storage.clients import StorageClients, storage_call
from dfx.emulator.storage.keys import escape_partition_key, unescape_partition_key
from dfx.emulator.storage.messages import MessageData, decode_body
from dfx.model.encoding import compact_json, to_utc
from dfx.model.history import (
    ContinueAsNewEvent,
    ExecutionCompletedEvent,
    ExecutionResumedEvent,
    ExecutionStartedEvent,
    ExecutionSuspendedEvent,
    ExecutionTerminatedEvent,
    HistoryEvent,
    OrchestrationStatus,
    utcnow,
)

ENTITY_PREFIX = "@"
DEFAULT_PAGE_SIZE = 100


@dataclass
class InstanceRecord:
    """An Instances row as dfx reads it: payload columns are JSON text (blob references resolved)."""

    instance_id: str
    name: str | None
    runtime_status: OrchestrationStatus
    execution_id: str | None = None
    version: str | None = None
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    created_time: datetime | None = None
    last_updated_time: datetime | None = None
    completed_time: datetime | None = None
    scheduled_start_time: datetime | None = None
    generation: int = 0
    tags: dict[str, str] | None = None
    etag: str | None = None
    stored_at: datetime | None = None
    """The service's Timestamp of the row: when it was last written, on the storage account's clock.

    Set by point reads (``InstancesTable.get``); query pages leave it None."""

    @property
    def is_entity(self) -> bool:
        return self.instance_id.startswith(ENTITY_PREFIX)

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> InstanceRecord:
        tags = entity.get("Tags")
        status = entity.get("RuntimeStatus") or "Pending"
        custom = entity.get("CustomStatus")
        return cls(
            instance_id=unescape_partition_key(entity["PartitionKey"]),
            name=entity.get("Name"),
            runtime_status=OrchestrationStatus[status],
            execution_id=entity.get("ExecutionId"),
            version=entity.get("Version"),
            input=entity.get("Input"),
            output=entity.get("Output"),
            custom_status=None if custom in (None, "null") else custom,
            created_time=entity.get("CreatedTime"),
            last_updated_time=entity.get("LastUpdatedTime"),
            completed_time=entity.get("CompletedTime"),
            scheduled_start_time=entity.get("ScheduledStartTime"),
            generation=int(entity.get("Generation") or 0),
            tags=json.loads(tags) if tags and tags != "null" else None,
            etag=getattr(entity, "metadata", {}).get("etag"),
            stored_at=getattr(entity, "metadata", {}).get("timestamp"),
        )


@dataclass(frozen=True)
class InstanceQuery:
    """A filtered listing of instances (storage-layout §4.4); all conditions are optional."""

    statuses: frozenset[OrchestrationStatus] = frozenset()
    created_from: datetime | None = None
    created_to: datetime | None = None
    instance_id_prefix: str | None = None
    exclude_entities: bool = False
    only_entities: bool = False
    task_hub_names: tuple[str, ...] = ()
    page_size: int = DEFAULT_PAGE_SIZE
    fetch_input: bool = True

    def filter(self) -> str:
        """The OData filter: each condition in parentheses, joined with ``and`` (storage-layout §4.4)."""
        parts = ["(RowKey eq '')"]
        if self.created_from is not None:
            parts.append(f"(CreatedTime ge {odata.date_time(self.created_from)})")
        if self.created_to is not None:
            parts.append(f"(CreatedTime le {odata.date_time(self.created_to)})")
        if self.statuses:
            names = sorted(s.name for s in self.statuses)
            parts.append("(" + " or ".join(odata.eq("RuntimeStatus", n) for n in names) + ")")
        if self.task_hub_names:
            parts.append("(" + " or ".join(odata.eq("TaskHubName", h) for h in self.task_hub_names) + ")")
        if self.instance_id_prefix:
            start = escape_partition_key(self.instance_id_prefix)
            end = start[:-1] + chr(ord(start[-1]) + 1)
            parts.append(f"(PartitionKey ge {odata.string(start)} and PartitionKey lt {odata.string(end)})")
        if self.exclude_entities:
            parts.append("(PartitionKey lt '@' or PartitionKey ge 'A')")
        if self.only_entities:
            parts.append("(PartitionKey ge '@' and PartitionKey lt 'A')")
        return " and ".join(parts)


@dataclass
class InstancePage:
    """One page of a listing and the token that continues it (None when there is no more)."""

    instances: list[InstanceRecord]
    continuation_token: str | None = None


@dataclass
class CheckpointColumns:
    """The InsertOrMerge of one checkpoint, and where large values must be offloaded."""

    columns: dict[str, Any] = field(default_factory=dict)
    # column -> (index of the event in the checkpoint, history column) whose blob holds the value
    blob_sources: dict[str, tuple[int, str]] = field(default_factory=dict)


def checkpoint_columns(
    events: Sequence[HistoryEvent],
    *,
    execution_id: str,
    custom_status: str | None,
    task_hub: str,
    now: datetime | None = None,
) -> CheckpointColumns:
    """What a checkpoint writes into the Instances row, driven by its new events (storage-layout §4.2 #2)."""
    now = now or utcnow()
    out = CheckpointColumns()
    cols = out.columns
    cols["CustomStatus"] = custom_status if custom_status is not None else "null"
    cols["ExecutionId"] = execution_id
    cols["TaskHubName"] = task_hub
    if events:
        cols["LastUpdatedTime"] = to_utc(events[-1].timestamp)
    for index, event in enumerate(events):
        if isinstance(event, ExecutionStartedEvent):
            cols.update(
                Name=event.name,
                Version=event.version,
                CreatedTime=to_utc(event.timestamp),
                RuntimeStatus=OrchestrationStatus.Running.name,
                Tags=compact_json(event.tags) if event.tags is not None else "null",
                Generation=event.generation,
                Input=event.input,
            )
            if event.scheduled_start_time is not None:
                cols["ScheduledStartTime"] = to_utc(event.scheduled_start_time)
            out.blob_sources["Input"] = (index, "Input")
        elif isinstance(event, ExecutionCompletedEvent):  # ContinueAsNew included
            cols["RuntimeStatus"] = event.orchestration_status.name
            if not isinstance(event, ContinueAsNewEvent):
                cols["CompletedTime"] = now
            if event.failure_details is not None:
                cols["Output"] = str(event.failure_details)
                out.blob_sources.pop("Output", None)
            else:
                cols["Output"] = event.result
                out.blob_sources["Output"] = (index, "Result")
        elif isinstance(event, ExecutionTerminatedEvent):
            cols.update(RuntimeStatus=OrchestrationStatus.Terminated.name, CompletedTime=now, Output=event.input)
            out.blob_sources["Output"] = (index, "Input")
        elif isinstance(event, ExecutionSuspendedEvent):
            cols.update(RuntimeStatus=OrchestrationStatus.Suspended.name, Output=event.reason)
            out.blob_sources["Output"] = (index, "Reason")
        elif isinstance(event, ExecutionResumedEvent):
            cols.update(RuntimeStatus=OrchestrationStatus.Running.name, Output=event.reason)
            out.blob_sources["Output"] = (index, "Reason")
    return out


def _continuation_to_text(token: Any) -> str | None:
    """The provider's string form of a Tables continuation: ``"<NextPartitionKey> <NextRowKey>"``."""
    if not token or not token.get("PartitionKey"):
        return None
    row = token.get("RowKey")
    return f"{token['PartitionKey']} {row}" if row else str(token["PartitionKey"])


def _continuation_from_text(text: str | None) -> dict[str, str | None] | None:
    if not text:
        return None
    partition, _, row = text.strip().partition(" ")  # service tokens hold no spaces
    return {"PartitionKey": partition, "RowKey": row or None}


class InstancesTable:
    """Reads and writes the Instances rows of one task hub."""

    service = "table"
    """The storage service it talks to, named in failure messages."""

    def __init__(self, clients: StorageClients, table_name: str, task_hub: str, blobs: LargeMessageStore) -> None:
        self.account = clients.account
        self.name = table_name
        self.task_hub = task_hub
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

    # -- large values -------------------------------------------------------------------------------

    async def resolve(self, value: str | None) -> str | None:
        """Download a value stored as a blob URL (``…ExecutionStarted.json.gz`` holds a whole message)."""
        if not value or not value.startswith(("http://", "https://")):
            return value
        blob = self.blobs.name_from_url(value)
        if blob is None:
            return value
        text = await self.blobs.download(blob)
        if blob.endswith("-ExecutionStarted.json.gz") and "/message-" in blob:
            return MessageData.from_json(decode_body(text)).event.input  # type: ignore[attr-defined]
        return text

    async def _inflate(self, record: InstanceRecord, entity: dict[str, Any]) -> None:
        for column, attr in (("Input", "input"), ("Output", "output")):
            blob = entity.get(f"{column}BlobName")
            if blob and not getattr(record, attr):
                setattr(record, attr, await self.blobs.download(blob))
            else:
                setattr(record, attr, await self.resolve(getattr(record, attr)))

    # -- reading ------------------------------------------------------------------------------------

    @storage_call
    async def get(self, instance_id: str, *, fetch_large: bool = True) -> InstanceRecord | None:
        """The row of ``instance_id``, or None."""
        try:
            entity = await self._table.get_entity(escape_partition_key(instance_id), "")
        except ResourceNotFoundError:
            return None
        record = InstanceRecord.from_entity(entity)
        if fetch_large:
            await self._inflate(record, entity)
        return record

    @storage_call
    async def query(self, query: InstanceQuery, continuation_token: str | None = None) -> InstancePage:
        """One page of instances matching ``query``; pass the returned token to continue."""
        select = None
        if not query.fetch_input:
            select = [
                "PartitionKey", "RowKey", "ExecutionId", "Name", "Version", "Output", "CustomStatus",
                "CreatedTime", "LastUpdatedTime", "CompletedTime", "RuntimeStatus", "ScheduledStartTime",
                "Generation", "Tags",
            ]  # fmt: skip
        token: Any = _continuation_from_text(continuation_token)  # the SDK's dict form, typed as str
        entities_query = self._table.query_entities(query.filter(), results_per_page=query.page_size, select=select)
        pages = entities_query.by_page(continuation_token=token)
        try:
            page = await pages.__anext__()
            entities = [e async for e in page]
        except StopAsyncIteration:
            return InstancePage([])
        except ResourceNotFoundError:
            return InstancePage([])
        records = []
        for entity in entities:
            record = InstanceRecord.from_entity(entity)
            await self._inflate(record, entity)
            records.append(record)
        return InstancePage(records, _continuation_to_text(pages.continuation_token))  # type: ignore[attr-defined]

    async def query_all(self, query: InstanceQuery, limit: int | None = None) -> list[InstanceRecord]:
        """Every instance matching ``query`` (following continuation), up to ``limit``."""
        out: list[InstanceRecord] = []
        token: str | None = None
        while True:
            page = await self.query(query, token)
            out.extend(page.instances)
            token = page.continuation_token
            if not token or (limit is not None and len(out) >= limit):
                return out[:limit] if limit is not None else out

    # -- writing ------------------------------------------------------------------------------------

    async def _offload_input(self, key: str, columns: dict[str, Any]) -> None:
        value = columns.get("Input")
        if isinstance(value, str) and needs_table_offload(value):
            blob = history_blob_name(key, "", "Input", "Input")
            await self.blobs.upload(blob, value)
            columns["Input"] = ""
            columns["InputBlobName"] = blob

    @storage_call
    async def write_pending(
        self,
        *,
        instance_id: str,
        name: str,
        execution_id: str,
        input: str | None,
        created_time: datetime,
        generation: int = 0,
        version: str | None = "",
        scheduled_start_time: datetime | None = None,
        tags: dict[str, str] | None = None,
        input_url: str | None = None,
        existing_etag: str | None = None,
    ) -> bool:
        """The Pending row of a client start: Insert, or Replace the old row of a restarted id if unchanged.

        This write decides between concurrent starts of one id: False when another start wrote the row
        first (409 on the insert, 412 on the replace), and this start must not run.
        """
        key = escape_partition_key(instance_id)
        row: dict[str, Any] = {
            "PartitionKey": key,
            "RowKey": "",
            "Input": input_url if input_url is not None else input,
            "CreatedTime": to_utc(created_time),
            "Name": name,
            "Version": version,
            "RuntimeStatus": OrchestrationStatus.Pending.name,
            "LastUpdatedTime": utcnow(),
            "TaskHubName": self.task_hub,
            "ExecutionId": execution_id,
            "Generation": generation,
            "Tags": compact_json(tags) if tags is not None else "null",
        }
        if scheduled_start_time is not None:
            row["ScheduledStartTime"] = to_utc(scheduled_start_time)
        if input_url is None:
            await self._offload_input(key, row)
        try:
            if existing_etag is not None:
                try:
                    await self._table.update_entity(
                        row, mode=UpdateMode.REPLACE, etag=existing_etag, match_condition=MatchConditions.IfNotModified
                    )
                    return True
                except ResourceNotFoundError:
                    pass  # purged since it was read: the id is free, and the insert below decides
            await self._table.create_entity(row)
        except (ResourceExistsError, HttpResponseError) as exc:
            if getattr(exc, "status_code", None) not in (409, 412):
                raise
            return False
        return True

    @storage_call
    async def merge(self, instance_id: str, columns: dict[str, Any]) -> None:
        """InsertOrMerge ``columns`` (None values are left out, so they keep what was there)."""
        row = {"PartitionKey": escape_partition_key(instance_id), "RowKey": ""}
        row.update({k: v for k, v in columns.items() if v is not None})
        await self._rest.merge_entity(self.name, row)

    async def write_checkpoint(
        self,
        instance_id: str,
        update: CheckpointColumns,
        offloaded: Mapping[tuple[int, str], str] | None = None,
    ) -> None:
        """Merge a checkpoint's columns, pointing at history blobs (as URLs) where values were offloaded."""
        await self.merge(instance_id, self.row_columns(update, offloaded))

    def row_columns(
        self, update: CheckpointColumns, offloaded: Mapping[tuple[int, str], str] | None = None
    ) -> dict[str, Any]:
        """A checkpoint's Instances columns, with the URL of the history blob where a value was offloaded."""
        columns = dict(update.columns)
        for column, (index, source) in update.blob_sources.items():
            blob = (offloaded or {}).get((index, source))
            if blob is not None:
                columns[column] = self.blobs.url_of(blob)
        return columns

    @storage_call
    async def delete_row(self, instance_id: str, *, etag: str | None = None) -> bool:
        """Delete the row: unconditionally (If-Match: *), or with ``etag`` only if it is unchanged since.

        Returns False when the row had changed (it is kept); a missing row is not an error.
        """
        key = escape_partition_key(instance_id)
        if etag is None:
            await self._table.delete_entity(key, "", match_condition=MatchConditions.Unconditionally)
            return True
        try:
            await self._table.delete_entity(key, "", etag=etag, match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            return False
        return True
