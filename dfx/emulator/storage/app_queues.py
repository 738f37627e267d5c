"""An app's own queues, as queue triggers use them: receive, delete, give back, renew, and move to poison."""

from __future__ import annotations

import contextlib

from azure.core.exceptions import ResourceExistsError

from dfx.emulator.storage.clients import StorageClients, storage_call
from dfx.emulator.storage.rest import QueueMessage, ServiceError

POISON_SUFFIX = "-poison"


class AppQueues:
    """Queue operations of one account for queue-triggered functions (dfx's REST client; the SDK creates)."""

    service = "queue"

    def __init__(self, clients: StorageClients) -> None:
        self.account = clients.account
        self._clients = clients

    @storage_call
    async def receive(self, queue: str, count: int, visibility: int) -> list[QueueMessage] | None:
        """Up to ``count`` messages hidden for ``visibility`` seconds; None when the queue does not exist."""
        try:
            return await self._clients.rest.get_messages(queue, count, visibility)
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise

    @storage_call
    async def delete(self, queue: str, message: QueueMessage) -> None:
        """Delete a handled message (one already gone, or taken again after its visibility ended, is left)."""
        with contextlib.suppress(ServiceError):
            await self._clients.rest.delete_message(queue, message.message_id, message.pop_receipt)

    @storage_call
    async def release(self, queue: str, message: QueueMessage, visibility: int) -> None:
        """Make a message that failed visible again after ``visibility`` seconds."""
        with contextlib.suppress(ServiceError):
            await self._clients.rest.update_message(queue, message.message_id, message.pop_receipt, visibility)

    @storage_call
    async def renew(self, queue: str, message: QueueMessage, visibility: int) -> str | None:
        """Keep a running message hidden ``visibility`` seconds more; its new pop receipt, None when it was lost."""
        try:
            return await self._clients.rest.update_message(queue, message.message_id, message.pop_receipt, visibility)
        except ServiceError as exc:
            if exc.status in (400, 404):
                return None
            raise

    @storage_call
    async def poison(self, queue: str, text: str) -> str:
        """Put ``text`` (the message as stored) on ``{queue}-poison``, creating that queue if missing."""
        target = f"{queue}{POISON_SUFFIX}"
        try:
            await self._clients.rest.put_message(target, text)
        except ServiceError as exc:
            if exc.status != 404:
                raise
            with contextlib.suppress(ResourceExistsError):
                await self._clients.queues.create_queue(target)
            await self._clients.rest.put_message(target, text)
        return target
