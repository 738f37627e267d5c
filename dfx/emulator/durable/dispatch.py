"""Where messages for the task hub's instances go: on their queues, and straight to the sessions and the
activity runner of this process when it runs their targets.

This is the engine's side of the client's ``Dispatcher`` (starts and other client messages) and the sending
of an episode's outbound messages (storage-layout §8.3 step 1).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from dfx.emulator.durable.checkpoints import Checkpointer
from dfx.emulator.durable.client import discard_lost_start
from dfx.emulator.durable.delivery import ClaimedAtPut, Delivery
from dfx.emulator.durable.orchestration import Outbound
from dfx.emulator.durable.partitions import PartitionPoller
from dfx.emulator.durable.work_items import ActivityRunner
from dfx.emulator.storage.errors import StorageError
from dfx.emulator.storage.messages import MessageData, ReceivedMessage, TaskMessage
from dfx.emulator.storage.taskhub import TaskHub
from dfx.model.history import OrchestrationInstance, utcnow


class Dispatch:
    """Puts messages on their queues, handing those this process runs to its sessions and activity runner."""

    def __init__(
        self,
        hub: TaskHub,
        *,
        poller: PartitionPoller,
        activities: ActivityRunner,
        checkpoints: Checkpointer,
        deliver: Callable[[Delivery], None],
    ) -> None:
        self.hub = hub
        self.poller = poller
        self.activities = activities
        self.checkpoints = checkpoints
        self.deliver = deliver
        self._claimed_starts: set[str] = set()
        """Start messages put hidden for this process whose start is not decided yet."""

    # -- the client's messages ----------------------------------------------------------------------

    async def put_start(self, message: MessageData) -> ReceivedMessage:
        """Put a client's start message; when this process owns its queue, hidden and claimed for it.

        Nothing runs it before ``start_decided``: the start may still lose to another start of the same id.
        """
        queue = self.hub.names.control_queue_for(message.target.instance_id)
        claimed = self.poller.owns(queue)
        sent = await self.hub.queues.send(queue, message, self.poller.control_visibility if claimed else None)
        if claimed:
            self._claimed_starts.add(sent.message_id)
        return sent

    async def start_decided(self, sent: ReceivedMessage, *, won: bool | None, new_instance: bool) -> None:
        """Run a start that won (at once, when claimed here), delete the message of one that lost, and leave
        one whose row write failed undecided to the start check of whoever polls it.

        ``new_instance``: the id had no Instances row, so it has no history and its first episode skips the
        read. Only a host that owns the partition may note that, since only it keeps its cache right.
        """
        claimed = sent.message_id in self._claimed_starts
        self._claimed_starts.discard(sent.message_id)
        if won is False:
            await discard_lost_start(self.hub, sent)
            return
        queue = sent.queue_name
        if not claimed:
            self.poller.wake(queue)
            return
        if won is None or not self.poller.owns(queue):  # the poller (here or at the new owner) sees it at once
            with contextlib.suppress(StorageError, OSError):
                await self.hub.queues.abandon(sent, delay=0)
            return
        if new_instance:
            self.checkpoints.note_new_instance(sent.data.target.instance_id)
        self.deliver(ClaimedAtPut(sent, self.hub.queues, start_admitted=True))

    async def send_control(self, message: MessageData, delay: float | None = None) -> str:
        """Put a message on its target's control queue; when this process owns that queue, also hand it to the
        session at once. The queued copy is put hidden and deleted by the session with the put's pop receipt,
        so nobody polls for it; if this process dies first, it reappears after the visibility timeout."""
        queue = self.hub.names.control_queue_for(message.target.instance_id)
        if self.poller.owns(queue) and not delay:
            claimed = await self.hub.queues.send(queue, message, self.poller.control_visibility)
            self.deliver(ClaimedAtPut(claimed, self.hub.queues))
            return queue
        await self.hub.queues.send(queue, message, delay)
        self.poller.wake(queue)
        return queue

    # -- an episode's messages ----------------------------------------------------------------------

    async def send_all(
        self, instance_id: str, execution_id: str | None, outbound: list[Outbound], episode: int
    ) -> None:
        """Send an episode's outbound messages (before its checkpoint, storage-layout §8.3)."""
        sender = OrchestrationInstance(instance_id, execution_id)

        async def send(item: Outbound) -> None:
            message = MessageData(TaskMessage(item.event, item.target), episode=episode, sender=sender)
            if item.work_item:
                await self.activities.send(message)
                return
            if item.visible_at is None:
                await self.send_control(message)
                return
            await self.poller.send_delayed(message, max(0.0, (item.visible_at - utcnow()).total_seconds()))

        # Messages to one target keep their order (an entity must see signal, signal, call as sent); different
        # targets are sent in parallel.
        by_target: dict[object, list[Outbound]] = {}
        for item in outbound:
            by_target.setdefault(id(item) if item.work_item else item.target.instance_id, []).append(item)

        async def send_in_order(items: list[Outbound]) -> None:
            for item in items:
                await send(item)

        await asyncio.gather(*(send_in_order(items) for items in by_target.values()))
