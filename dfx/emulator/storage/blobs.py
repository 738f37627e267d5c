"""The ``{hub}-largemessages`` container: gzip-compressed payloads too large for a row or a message."""

from __future__ import annotations

import contextlib
import gzip
import random
from datetime import datetime
from urllib.parse import quote, unquote, urlsplit

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from dfx.emulator.storage.clients import StorageClients, storage_call

# A string column is offloaded when its UTF-16 size exceeds this (storage-layout §3.6).
TABLE_COLUMN_LIMIT = 60 * 1024
# A queue message is offloaded when its UTF-8 JSON exceeds this (storage-layout §5.6).
QUEUE_MESSAGE_LIMIT = 45 * 1024


def utf16_size(text: str) -> int:
    return len(text.encode("utf-16-le"))


def needs_table_offload(text: str) -> bool:
    # Every UTF-16 code unit is 2 bytes, so short strings need no encoding to decide.
    return len(text) * 2 > TABLE_COLUMN_LIMIT and utf16_size(text) > TABLE_COLUMN_LIMIT


def history_blob_name(instance_key: str, row_key: str, event_type: str, column: str) -> str:
    """``{escapedId}/history-{RowKey}-{EventType}-{RRRRRRRR}-{Column}.json.gz``."""
    suffix = f"{random.getrandbits(31):08X}"
    return f"{instance_key}/history-{row_key}-{event_type}-{suffix}-{column}.json.gz"


def message_blob_name(instance_id: str, activity_id_hex: str, event_type: str) -> str:
    """``{rawInstanceId}/message-{ActivityId:N}-{EventType}.json.gz``."""
    return f"{instance_id}/message-{activity_id_hex}-{event_type}.json.gz"


class LargeMessageStore:
    """Upload, download and delete the gzip blobs of one task hub."""

    service = "blob"
    """The storage service it talks to, named in failure messages."""

    def __init__(self, clients: StorageClients, container: str) -> None:
        self.account = clients.account
        self.container = container
        self._client = clients.blobs.get_container_client(container)
        self._created = False

    @property
    def base_url(self) -> str:
        return f"{self.account.blob_endpoint}/{self.container}"

    def url_of(self, blob_name: str) -> str:
        """The absolute URL written into Instances columns for an offloaded value."""
        return f"{self.base_url}/{quote(blob_name, safe='/')}"

    def name_from_url(self, value: str) -> str | None:
        """The blob name if ``value`` is a URL into this container, else None."""
        prefix = self.base_url + "/"
        if value.startswith(prefix):
            return unquote(value[len(prefix) :])
        parts = urlsplit(value)
        marker = f"/{self.container}/"
        if parts.scheme in ("http", "https") and marker in parts.path:
            return unquote(parts.path.split(marker, 1)[1])
        return None

    @storage_call
    async def container_exists(self) -> bool:
        """Whether the hub's large-message container exists (it is created with the first large value)."""
        return bool(await self._client.exists())

    @storage_call
    async def ensure_container(self) -> None:
        if self._created:
            return
        with contextlib.suppress(ResourceExistsError):
            await self._client.create_container()
        self._created = True

    @storage_call
    async def upload(self, blob_name: str, text: str) -> None:
        await self.ensure_container()
        await self._client.upload_blob(blob_name, gzip.compress(text.encode("utf-8")), overwrite=True)

    @storage_call
    async def download(self, blob_name: str) -> str:
        stream = await self._client.download_blob(blob_name)
        return gzip.decompress(await stream.readall()).decode("utf-8")

    @storage_call
    async def delete_prefix(self, prefix: str, *, created_until: datetime | None = None) -> int:
        """Delete every blob whose name starts with ``prefix`` (and, with ``created_until``, that was created at
        or before that time on the account's clock); return how many."""
        deleted = 0
        try:
            names = [
                b.name
                async for b in self._client.list_blobs(name_starts_with=prefix)
                if created_until is None or b.creation_time is None or b.creation_time <= created_until
            ]
        except ResourceNotFoundError:
            return 0
        for name in names:
            try:
                await self._client.delete_blob(name)
                deleted += 1
            except ResourceNotFoundError:
                pass
        return deleted

    @storage_call
    async def list_names(self, prefix: str = "") -> list[str]:
        try:
            return [b.name async for b in self._client.list_blobs(name_starts_with=prefix or None)]
        except ResourceNotFoundError:
            return []
