"""What the Functions host itself keeps in ``azure-webjobs-hosts``: timer schedule status and listener locks.

Paths as the WebJobs SDK writes them, so a dfx host and ``func start`` of the same app agree:
``timers/{hostId}/{function full name}/status`` (JSON ``Last``/``Next``/``LastUpdated``) and
``locks/{hostId}/{lock name}`` (a blob whose lease is the lock; created empty when missing).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobLeaseClient

from dfx.emulator.storage.clients import StorageClients, storage_call
from dfx.model.encoding import parse_datetime

HOSTS_CONTAINER = "azure-webjobs-hosts"
HOST_ID_SETTING = "AzureFunctionsWebHost__hostid"
MAX_HOST_ID = 32


def _stable_hash(text: str) -> int:
    """The host's 32-bit string hash (``Utility.GetStableHash``): 23, then ``h * 31 + c`` per UTF-16 unit."""
    value = 23
    for unit in memoryview(text.encode("utf-16-le")).cast("H"):
        value = (value * 31 + unit) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def host_id(app_dir: Path, environ: dict[str, str] | None = None) -> str:
    """The host id Core Tools uses locally: machine name (letters and digits) and a hash of the app's folder.

    ``AzureFunctionsWebHost__hostid`` overrides it, as in the host.
    """
    env = os.environ if environ is None else environ
    override = env.get(HOST_ID_SETTING)
    if override:
        return override
    machine = re.sub(r"[^0-9A-Za-z]", "", socket.gethostname())
    text = f"{machine}-{abs(_stable_hash(str(app_dir)))}"
    return text[:MAX_HOST_ID].lower().rstrip("-")


class HostBlobs:
    """The host's blobs of one account: timer status and listener locks under one host id."""

    service = "blob"

    def __init__(self, clients: StorageClients, host: str) -> None:
        self.account = clients.account
        self.host_id = host
        self._container = clients.blobs.get_container_client(HOSTS_CONTAINER)
        self._created = False

    async def _ensure_container(self) -> None:
        if not self._created:
            with contextlib.suppress(ResourceExistsError):
                await self._container.create_container()
            self._created = True

    @storage_call
    async def read_timer_status(self, timer: str) -> dict[str, datetime | None] | None:
        """The stored status of ``timer`` (``Host.Functions.{name}``), or None when there is none."""
        blob = self._container.get_blob_client(f"timers/{self.host_id}/{timer}/status")
        try:
            text = await (await blob.download_blob()).readall()
        except ResourceNotFoundError:
            return None
        try:
            raw = json.loads(text)
        except ValueError:
            return None
        return {key: _as_time(raw.get(key)) for key in ("Last", "Next", "LastUpdated")}

    @storage_call
    async def write_timer_status(self, timer: str, status: dict[str, datetime | None]) -> None:
        await self._ensure_container()
        body = json.dumps({key: value.isoformat() if value else "0001-01-01T00:00:00+00:00"
                           for key, value in status.items()})  # fmt: skip
        blob = self._container.get_blob_client(f"timers/{self.host_id}/{timer}/status")
        await blob.upload_blob(body, overwrite=True)

    @storage_call
    async def acquire_lock(self, lock: str, seconds: int) -> str | None:
        """Take the lease of ``locks/{hostId}/{lock}`` for ``seconds``; its lease id, or None if another holds it."""
        await self._ensure_container()
        blob = self._container.get_blob_client(f"locks/{self.host_id}/{lock}")
        with contextlib.suppress(ResourceExistsError):
            await blob.upload_blob(b"", overwrite=False)
        try:
            lease = await blob.acquire_lease(lease_duration=seconds)
        except HttpResponseError as exc:
            if exc.status_code == 409:
                return None
            raise
        return str(lease.id)

    @storage_call
    async def renew_lock(self, lock: str, lease_id: str) -> bool:
        """Renew a held lock; False when it was lost (expired and taken, or broken)."""
        blob = self._container.get_blob_client(f"locks/{self.host_id}/{lock}")
        try:
            await BlobLeaseClient(blob, lease_id=lease_id).renew()
        except HttpResponseError as exc:
            if exc.status_code in (409, 412):
                return False
            raise
        return True

    @storage_call
    async def release_lock(self, lock: str, lease_id: str) -> None:
        blob = self._container.get_blob_client(f"locks/{self.host_id}/{lock}")
        with contextlib.suppress(HttpResponseError):
            await BlobLeaseClient(blob, lease_id=lease_id).release()


def _as_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or value.startswith("0001-01-01"):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None
