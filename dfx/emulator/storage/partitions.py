"""The ``{Hub}Partitions`` table: one lease row per control queue (storage-layout §6.3)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from dfx.emulator.storage.clients import StorageClients, storage_call


@dataclass
class PartitionLease:
    """A Partitions row: who owns a control queue, until when, and who is waiting for it."""

    queue_name: str
    current_owner: str | None = None
    next_owner: str | None = None
    owned_since: datetime | None = None
    last_renewal: datetime | None = None
    expires_at: datetime | None = None
    is_draining: bool = False
    etag: str | None = None

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> PartitionLease:
        return cls(
            queue_name=entity["RowKey"],
            current_owner=entity.get("CurrentOwner"),
            next_owner=entity.get("NextOwner"),
            owned_since=entity.get("OwnedSince"),
            last_renewal=entity.get("LastRenewal"),
            expires_at=entity.get("ExpiresAt"),
            is_draining=bool(entity.get("IsDraining", False)),
            etag=getattr(entity, "metadata", {}).get("etag"),
        )


class PartitionsTable:
    """The lease rows of one task hub (the claiming and renewing logic belongs to the dispatcher)."""

    service = "table"
    """The storage service it talks to, named in failure messages."""

    def __init__(self, clients: StorageClients, table_name: str) -> None:
        self.account = clients.account
        self.name = table_name
        self._table = clients.tables.get_table_client(table_name)

    @storage_call
    async def create(self, queue_names: list[str]) -> None:
        """Create the table and a row per control queue with only its keys and IsDraining=false."""
        with contextlib.suppress(ResourceExistsError):
            await self._table.create_table()

        async def create_row(queue: str) -> None:
            # An existing row keeps the lease of a running worker.
            with contextlib.suppress(ResourceExistsError):
                await self._table.create_entity({"PartitionKey": "", "RowKey": queue, "IsDraining": False})

        await asyncio.gather(*(create_row(q) for q in queue_names))

    @storage_call
    async def delete(self) -> None:
        await self._table.delete_table()

    @storage_call
    async def read_all(self) -> list[PartitionLease]:
        try:
            rows = [e async for e in self._table.query_entities("PartitionKey eq ''")]
        except ResourceNotFoundError:
            return []
        return sorted((PartitionLease.from_entity(e) for e in rows), key=lambda p: p.queue_name)

    @storage_call
    async def replace(self, lease: PartitionLease) -> bool:
        """Write ``lease`` back with Replace + If-Match on its ETag; False when another worker changed it."""
        entity = {
            "PartitionKey": "",
            "RowKey": lease.queue_name,
            "CurrentOwner": lease.current_owner,
            "NextOwner": lease.next_owner,
            "OwnedSince": lease.owned_since,
            "LastRenewal": lease.last_renewal,
            "ExpiresAt": lease.expires_at,
            "IsDraining": lease.is_draining,
        }
        entity = {k: v for k, v in entity.items() if v is not None}
        try:
            metadata = await self._table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=lease.etag, match_condition=MatchConditions.IfNotModified
            )
        except HttpResponseError as exc:
            if exc.status_code in (409, 412):
                return False
            raise
        lease.etag = metadata.get("etag")
        return True
