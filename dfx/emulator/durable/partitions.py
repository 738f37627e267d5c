"""The partitions this process owns, and how messages on their control queues reach its sessions.

A lease round claims or renews the partition leases (storage-layout §4); each owned control queue gets a
poller that backs off while the queue is idle and is woken when a message is put on it. A delayed message (a
timer, a scheduled signal) put on an owned queue is taken at the exact time it is due, with the put's receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from dfx.emulator.config import Settings
from dfx.emulator.durable.background import Background
from dfx.emulator.durable.delivery import ClaimedAtPut, Delivery, Queued
from dfx.emulator.durable.leases import claim_or_renew, released
from dfx.emulator.health import StorageHealth
from dfx.emulator.loops import Report
from dfx.emulator.storage.errors import StorageError
from dfx.emulator.storage.messages import MessageData, ReceivedMessage
from dfx.emulator.storage.queues import delay_seconds
from dfx.emulator.storage.taskhub import TaskHub
from dfx.model.history import utcnow

MIN_POLL = 0.05

#: Starts a loop that is restarted whenever it ends on its own (``Engine._keep_running``).
KeepRunning = Callable[[Callable[[], Awaitable[None]], str], asyncio.Task[None]]


class PartitionPoller:
    """Leases, the pollers of the owned control queues, wake-ups and due delayed messages."""

    def __init__(
        self,
        settings: Settings,
        hub: TaskHub,
        me: str,
        *,
        health: StorageHealth,
        background: Background,
        stopping: asyncio.Event,
        report: Report,
        keep_running: KeepRunning,
        deliver: Callable[[Delivery], None],
        forget_partition: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.me = me
        self.health = health
        self.background = background
        self.stopping = stopping
        self.report = report
        self.keep_running = keep_running
        self.deliver = deliver
        self.forget_partition = forget_partition
        self.owned: dict[str, asyncio.Task[None]] = {}
        self.wakeups: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.control_visibility = max(1, round(settings.durable.control_queue_visibility_timeout))
        self.lease_interval = timedelta(seconds=settings.durable.lease_interval)

    def owns(self, queue_name: str) -> bool:
        return queue_name in self.owned

    # -- leases -------------------------------------------------------------------------------------

    async def lease_round(self) -> None:
        now = utcnow()
        for lease in await self.hub.partitions.read_all():
            updated = claim_or_renew(lease, self.me, now, self.lease_interval)
            if updated is None or not await self.hub.partitions.replace(updated):
                if lease.queue_name in self.owned:
                    self.owned.pop(lease.queue_name).cancel()
                    self.forget_partition(lease.queue_name)
                continue
            if lease.queue_name not in self.owned:
                self.forget_partition(lease.queue_name)  # what was cached before may have changed since
                queue_name = lease.queue_name
                self.owned[queue_name] = self.keep_running(
                    functools.partial(self._control_loop, queue_name), f"The poller of {queue_name}"
                )

    async def lease_loop(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(self.settings.durable.lease_renew_interval)
            try:
                await self.lease_round()
            except Exception as exc:  # the loop goes on whatever happens; the next round tries again
                self.report(exc, "The partition lease round")
            else:
                self.health.answered("table")

    def wake_all(self) -> None:
        """End every back-off now (the host stops)."""
        for event in self.wakeups.values():
            event.set()

    async def release(self) -> None:
        """Give up this process's leases, so that another host takes the partitions at once."""
        with contextlib.suppress(StorageError, OSError):
            for lease in await self.hub.partitions.read_all():
                if lease.current_owner == self.me:
                    await self.hub.partitions.replace(released(lease))

    # -- polling ------------------------------------------------------------------------------------

    def wake(self, queue_name: str) -> None:
        """A message was put on ``queue_name``: poll it now if this process owns it."""
        self.wakeups[queue_name].set()

    async def _wait(self, queue_name: str, delay: float) -> bool:
        """Wait out a back-off unless woken first; True when woken."""
        event = self.wakeups[queue_name]
        woken = False
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=delay)
            woken = True
        event.clear()
        return woken

    async def receive(
        self, queue_name: str, count: int, visibility: int, delay: float
    ) -> tuple[list[ReceivedMessage], float]:
        """One poll: the messages and the next back-off (reset by a hit or a wake-up, else doubled).

        A wake-up that finds nothing (a timer message a moment before Azure Storage shows it) starts the
        back-off again from the shortest step, so the message is seen within moments instead of after the
        long wait an idle queue has built up.
        """
        try:
            messages = await self.hub.queues.receive(queue_name, count, visibility)
        except Exception as exc:  # the poller backs off and polls again
            self.report(exc, f"Receiving from {queue_name}")
            messages = []
        else:
            self.health.answered("queue")
        if messages:
            return messages, MIN_POLL
        woken = await self._wait(queue_name, delay)
        return [], MIN_POLL if woken else self._next_delay(delay)

    def _next_delay(self, delay: float) -> float:
        return min(delay * 2 * random.uniform(0.8, 1.2), self.settings.durable.max_queue_polling_interval)

    async def _control_loop(self, queue_name: str) -> None:
        delay = MIN_POLL
        batch = self.settings.durable.control_queue_batch_size
        while not self.stopping.is_set():
            messages, delay = await self.receive(queue_name, batch, self.control_visibility, delay)
            if not messages:
                continue
            messages.sort(key=lambda m: (m.inserted_on or utcnow(), m.data.sequence_number))
            for message in messages:
                self.deliver(Queued(message, self.hub.queues))

    # -- delayed messages ---------------------------------------------------------------------------

    def schedule_wakeup(self, queue_name: str, at: datetime) -> None:
        """Wake ``queue_name``'s poller when a timer message becomes visible (no polling gap for timers)."""
        delay = max(0.0, (at - utcnow()).total_seconds()) + 0.05
        asyncio.get_running_loop().call_later(delay, self.wake, queue_name)

    async def send_delayed(self, message: MessageData, delay: float) -> None:
        """Put a message that must stay hidden for ``delay`` seconds (a timer, a scheduled signal) and see it
        delivered on time.

        Queues hide messages for whole seconds, rounded up, so a 200 ms timer would wait a second for the
        queue and then for the poller's back-off. When this process owns the queue it takes a soon-due message
        itself at the exact time, with the put's pop receipt (``_fire``); a later one only wakes the poller
        when the put's visibility ends. A crash in between costs nothing: the message shows at its whole second.
        """
        sent_at = utcnow()
        queue = self.hub.names.control_queue_for(message.target.instance_id)
        sent = await self.hub.queues.send(queue, message, delay or None)
        if queue not in self.owned:
            return  # its owner polls it; a partition claimed later starts polling at the shortest step
        if delay <= self.settings.durable.max_queue_polling_interval:
            due = max(0.0, delay - (utcnow() - sent_at).total_seconds())
            asyncio.get_running_loop().call_later(
                due, lambda: self.background.spawn(self._fire(sent), f"dfx-timer-{sent.message_id}")
            )
        else:
            self.schedule_wakeup(queue, sent_at + timedelta(seconds=delay_seconds(delay)))

    async def _fire(self, message: ReceivedMessage) -> None:
        """A delayed message is due: hide it for processing with the put's receipt and hand it to its session."""
        if self.stopping.is_set() or message.queue_name not in self.owned:
            return
        try:
            taken = await self.hub.queues.renew(message, self.control_visibility)
        except Exception as exc:  # any failure leaves the message to the poller, which must then look at once
            self.report(exc, f"Taking the due message {message.message_id}")
            taken = False
        if taken:
            self.deliver(ClaimedAtPut(message, self.hub.queues))
        else:  # the poller received it first (or will): make it look now
            self.wake(message.queue_name)
