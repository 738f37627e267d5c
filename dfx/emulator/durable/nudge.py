"""Control messages sent from outside a host (the CLI), with a nudge to a local host that owns their queue.

A host polls an idle control queue with a back-off of up to ``maxQueuePollingInterval`` (30 s), so a message
another process puts there can wait that long. The message always goes through storage first; then, when the
queue's live lease names a dfx host on this machine (owner ``machine:port``), that host is asked to poll now.
A nudge that fails changes nothing: the host finds the message on its next poll.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import socket
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime

from dfx.emulator.durable.client import StorageSender
from dfx.emulator.durable.client_binding import WAKE_PATH
from dfx.emulator.durable.leases import lease_expired, worker_address
from dfx.emulator.storage.messages import MessageData, ReceivedMessage
from dfx.emulator.storage.partitions import PartitionLease
from dfx.emulator.storage.taskhub import TaskHub
from dfx.model.history import utcnow

log = logging.getLogger(__name__)
NUDGE_TIMEOUT = 1.0


def local_host_port(lease: PartitionLease, now: datetime, machine: str | None = None) -> int | None:
    """The port of the dfx host on this machine that holds ``lease`` now, or None."""
    if not lease.current_owner or lease_expired(lease.expires_at, now):
        return None
    name, port = worker_address(lease.current_owner)
    return port if name == (machine or socket.gethostname()) else None


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""No proxy: urllib would send even 127.0.0.1 through http_proxy."""


def _post(url: str) -> None:
    with _DIRECT.open(urllib.request.Request(url, method="POST", data=b""), timeout=NUDGE_TIMEOUT):
        pass


@dataclass
class NudgingSender(StorageSender):
    """A client ``Dispatcher`` for processes without an engine: send through storage, then nudge the owner."""

    leases: dict[str, PartitionLease] = field(default_factory=dict)

    @classmethod
    async def for_hub(cls, hub: TaskHub) -> NudgingSender:
        return cls(hub, {lease.queue_name: lease for lease in await hub.partitions.read_all()})

    async def send_control(self, message: MessageData) -> str:
        queue = await super().send_control(message)
        await self._nudge(queue)
        return queue

    async def start_decided(self, sent: ReceivedMessage, *, won: bool | None, new_instance: bool) -> None:
        await super().start_decided(sent, won=won, new_instance=new_instance)
        if won:
            await self._nudge(sent.queue_name)

    async def _nudge(self, queue: str) -> None:
        lease = self.leases.get(queue)
        port = local_host_port(lease, utcnow()) if lease is not None else None
        if port is not None:
            try:
                await asyncio.to_thread(_post, f"http://127.0.0.1:{port}/{WAKE_PATH}?queue={queue}")
            except (OSError, http.client.HTTPException) as exc:  # the host will poll anyway
                log.debug("nudging the host on port %s failed: %s", port, exc)
