"""The control queues and the work-item queue of a task hub: send, receive, renew, abandon, delete, peek."""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue.aio import QueueClient

from dfx.emulator.storage.blobs import QUEUE_MESSAGE_LIMIT, LargeMessageStore, message_blob_name
from dfx.emulator.storage.clients import StorageClients, storage_call
from dfx.emulator.storage.errors import PayloadLimitError
from dfx.emulator.storage.messages import (
    MessageData,
    MessageFormatError,
    ReceivedMessage,
    blob_reference,
    decode_body,
)
from dfx.emulator.storage.names import TaskHubNames
from dfx.emulator.storage.rest import ServiceError

log = logging.getLogger(__name__)

MAX_DELAY_SECONDS = 7 * 24 * 3600  # Azure Queue's limit for a message's initial invisibility
MAX_BATCH = 32
DEFAULT_VISIBILITY = 300  # seconds: ControlQueueVisibilityTimeout / WorkItemQueueVisibilityTimeout
MAX_ABANDON_DELAY = 600


def abandon_delay(dequeue_count: int) -> int:
    """Back-off of an abandoned message: min(2^DequeueCount, 600) seconds (storage-layout §5.7)."""
    if dequeue_count > 30:
        return MAX_ABANDON_DELAY
    return min(2**dequeue_count, MAX_ABANDON_DELAY)


def delay_seconds(delay: float | timedelta | None) -> int:
    """A message's initial invisibility in whole seconds (rounded up so timers never fire early)."""
    if delay is None:
        return 0
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
    if seconds <= 0:
        return 0
    whole = math.ceil(seconds)
    if whole > MAX_DELAY_SECONDS:
        raise PayloadLimitError(
            f"A queue message cannot be delayed by {whole} s: Azure Storage allows at most 7 days "
            f"({MAX_DELAY_SECONDS} s). Split longer timers into pieces of 6 days or less."
        )
    return whole


@dataclass(frozen=True)
class QueueDepth:
    """How many messages a queue holds (approximate, as the service reports it)."""

    name: str
    count: int


class HubQueues:
    """Message traffic of one task hub; offloads large messages to blobs and inflates them on receive."""

    service = "queue"
    """The storage service it talks to, named in failure messages."""

    def __init__(self, clients: StorageClients, names: TaskHubNames, blobs: LargeMessageStore) -> None:
        self.account = clients.account
        self.names = names
        self.blobs = blobs
        self._service = clients.queues
        self._rest = clients.rest
        self._clients: dict[str, QueueClient] = {}
        self._sequence = itertools.count(1)

    def _queue(self, name: str) -> QueueClient:
        client = self._clients.get(name)
        if client is None:
            client = self._clients[name] = self._service.get_queue_client(name)
        return client

    def next_sequence_number(self) -> int:
        """The process-wide tie-breaker written into each envelope's SequenceNumber."""
        return next(self._sequence)

    @storage_call
    async def create(self, name: str) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self._queue(name).create_queue()

    @storage_call
    async def delete_queue(self, name: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            await self._queue(name).delete_queue()

    # -- sending ------------------------------------------------------------------------------------

    async def _body_for(self, message: MessageData) -> str:
        body = message.encode()
        if len(body) <= QUEUE_MESSAGE_LIMIT or len(body.encode("utf-8")) <= QUEUE_MESSAGE_LIMIT:
            return body
        blob = message_blob_name(
            message.target.instance_id, message.activity_id.replace("-", ""), message.event.event_type.name
        )
        await self.blobs.upload(blob, body)
        return blob_reference(blob)

    @storage_call
    async def send(
        self, queue_name: str, message: MessageData, delay: float | timedelta | None = None
    ) -> ReceivedMessage:
        """Put ``message`` on ``queue_name`` (TTL never, optional delay <= 7 days).

        Returns the message as if received, with the pop receipt of the put: a sender that hid the message
        (``delay``) may process and delete it itself without another worker ever seeing it.
        """
        visibility = delay_seconds(delay)
        if not message.sequence_number:
            message.sequence_number = self.next_sequence_number()
        body = await self._body_for(message)
        try:
            sent = await self._rest.put_message(queue_name, body, visibility_timeout=visibility)
        except ServiceError as exc:
            if exc.status != 404:
                raise
            await self.create(queue_name)  # created lazily, as the provider does
            sent = await self._rest.put_message(queue_name, body, visibility_timeout=visibility)
        return ReceivedMessage(
            data=message,
            queue_name=queue_name,
            message_id=sent.message_id,
            pop_receipt=sent.pop_receipt,
            dequeue_count=1,
            inserted_on=sent.inserted_on,
            next_visible_on=sent.next_visible_on,
        )

    async def send_to_instance(self, message: MessageData, delay: float | timedelta | None = None) -> str:
        """Send to the control queue of the message's target instance; return the queue's name."""
        queue_name = self.names.control_queue_for(message.target.instance_id)
        await self.send(queue_name, message, delay)
        return queue_name

    async def send_work_item(self, message: MessageData, hidden_for: int | None = None) -> ReceivedMessage:
        """Put an activity work item; ``hidden_for`` seconds claims it for the sender (see ``send``)."""
        return await self.send(self.names.work_item_queue, message, hidden_for)

    # -- receiving ----------------------------------------------------------------------------------

    async def _decode(self, text: str) -> MessageData:
        data = decode_body(text)
        blob = data.get("CompressedBlobName")
        if blob and not data.get("TaskMessage"):
            data = decode_body(await self.blobs.download(blob))
        return MessageData.from_json(data)

    @storage_call
    async def receive(
        self, queue_name: str, max_messages: int = MAX_BATCH, visibility_timeout: int = DEFAULT_VISIBILITY
    ) -> list[ReceivedMessage]:
        """Take up to ``max_messages`` (<= 32) visible messages, hiding them for ``visibility_timeout`` s.

        A message whose body cannot be read is abandoned with back-off and left out, as the provider does.
        """
        count = max(1, min(max_messages, MAX_BATCH))
        try:
            raw = await self._rest.get_messages(queue_name, count, visibility_timeout)
        except ServiceError as exc:
            if exc.status != 404:
                raise
            return []
        received: list[ReceivedMessage] = []
        for m in raw:
            try:
                data = await self._decode(m.text)
            except (MessageFormatError, KeyError, ValueError, ResourceNotFoundError) as exc:
                log.warning("abandoning unreadable message %s on %s: %s", m.message_id, queue_name, exc)
                await self._update(queue_name, m.message_id, m.pop_receipt, abandon_delay(m.dequeue_count or 1))
                continue
            received.append(
                ReceivedMessage(
                    data=data,
                    queue_name=queue_name,
                    message_id=m.message_id,
                    pop_receipt=m.pop_receipt,
                    dequeue_count=m.dequeue_count or 1,
                    inserted_on=m.inserted_on,
                    next_visible_on=m.next_visible_on,
                )
            )
        return received

    async def _update(self, queue_name: str, message_id: str, pop_receipt: str, visibility: int) -> str | None:
        try:
            return await self._rest.update_message(queue_name, message_id, pop_receipt, visibility)
        except ServiceError as exc:
            if exc.status not in (400, 404):
                raise
            log.debug("message %s on %s is gone (%s)", message_id, queue_name, exc.code)
            return None

    @storage_call
    async def renew(self, message: ReceivedMessage, visibility_timeout: int = DEFAULT_VISIBILITY) -> bool:
        """Keep a message hidden while its work runs; False when it is gone or someone else received it."""
        receipt = await self._update(message.queue_name, message.message_id, message.pop_receipt, visibility_timeout)
        if receipt:
            message.pop_receipt = receipt
        return bool(receipt)

    @storage_call
    async def abandon(self, message: ReceivedMessage, delay: int | None = None) -> None:
        """Make a message visible again after the provider's back-off (or ``delay`` seconds)."""
        seconds = abandon_delay(message.dequeue_count) if delay is None else delay
        receipt = await self._update(message.queue_name, message.message_id, message.pop_receipt, seconds)
        if receipt:
            message.pop_receipt = receipt

    @storage_call
    async def delete(self, message: ReceivedMessage) -> None:
        """Delete a processed message; one that is already gone is ignored."""
        try:
            await self._rest.delete_message(message.queue_name, message.message_id, message.pop_receipt)
        except ServiceError as exc:
            if exc.status not in (400, 404):
                raise
            log.debug("message %s on %s was already gone (%s)", message.message_id, message.queue_name, exc.code)

    # -- looking without touching -------------------------------------------------------------------

    @storage_call
    async def peek(self, queue_name: str, max_messages: int = MAX_BATCH) -> list[tuple[Any, MessageData | None]]:
        """Up to 32 messages at the head of a queue without changing visibility or dequeue counts."""
        try:
            peeked = await self._queue(queue_name).peek_messages(max_messages=min(max_messages, MAX_BATCH))
        except ResourceNotFoundError:
            return []
        out: list[tuple[Any, MessageData | None]] = []
        for m in peeked:
            try:
                out.append((m, await self._decode(m.content)))
            except (MessageFormatError, KeyError, ValueError, ResourceNotFoundError):
                out.append((m, None))
        return out

    @storage_call
    async def depth(self, queue_name: str) -> QueueDepth:
        try:
            props = await self._queue(queue_name).get_queue_properties()
        except ResourceNotFoundError:
            return QueueDepth(queue_name, 0)
        return QueueDepth(queue_name, int(props.approximate_message_count or 0))

    @property
    def all_queue_names(self) -> list[str]:
        return [*self.names.control_queues, self.names.work_item_queue]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
