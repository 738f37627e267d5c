"""The activity runner: work items taken from the work-item queue (or claimed at put) and run in this process.

At most ``maxConcurrentActivityFunctions`` run at once. A reply goes to its instance's session in memory when
this process owns that instance's partition (``LocalReply``), else to the instance's control queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

from dfx.emulator.config import Settings
from dfx.emulator.durable.activities import run_activity
from dfx.emulator.durable.background import Background
from dfx.emulator.durable.delivery import Delivery, LocalReply
from dfx.emulator.durable.partitions import MIN_POLL, PartitionPoller
from dfx.emulator.logs import HostConsole
from dfx.emulator.loops import Report
from dfx.emulator.storage.errors import StorageError
from dfx.emulator.storage.messages import MessageData, ReceivedMessage, TaskMessage
from dfx.emulator.storage.taskhub import TaskHub
from dfx.emulator.worker.functions import FunctionIndex
from dfx.emulator.worker.invoker import Invoker
from dfx.model.history import TaskScheduledEvent


async def _claimed(message: ReceivedMessage | asyncio.Task[ReceivedMessage]) -> ReceivedMessage:
    """The work item as put, waiting for the put when it is still in flight."""
    return message if isinstance(message, ReceivedMessage) else await asyncio.shield(message)


class ActivityRunner:
    """Runs activity work items, polled or claimed at put, and hands their replies on."""

    def __init__(
        self,
        settings: Settings,
        hub: TaskHub,
        index: FunctionIndex,
        invoker: Invoker,
        console: HostConsole,
        *,
        poller: PartitionPoller,
        background: Background,
        stopping: asyncio.Event,
        report: Report,
        deliver: Callable[[Delivery], None],
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.index = index
        self.invoker = invoker
        self.console = console
        self.poller = poller
        self.background = background
        self.stopping = stopping
        self.report = report
        self.deliver = deliver
        self.work_item_visibility = max(1, round(settings.durable.work_item_queue_visibility_timeout))
        self.running = 0
        self._freed = asyncio.Event()
        self.replies: set[LocalReply] = set()
        """Replies handed to sessions in memory and not committed or given back yet."""

    async def send(self, message: MessageData) -> None:
        """Put an activity work item; run it here at once when a slot is free."""
        if self.running < self.settings.durable.max_concurrent_activity_functions:
            # Claimed at put time (hidden, pop receipt kept) and run here at once, while the put is in
            # flight: the put only has to land before this episode's history append (awaited below)
            # and before the work item is deleted. If this process dies, the work item reappears after
            # the visibility timeout.
            put = asyncio.create_task(self.hub.queues.send_work_item(message, hidden_for=self.work_item_visibility))
            self.running += 1
            self.background.spawn(self._run(put, message), f"dfx-activity-{id(put)}")
            await put
        else:
            await self.hub.queues.send_work_item(message)
            self.poller.wake(self.hub.names.work_item_queue)

    async def loop(self) -> None:
        """Poll the work-item queue while a slot is free."""
        queue_name = self.hub.names.work_item_queue
        limit = self.settings.durable.max_concurrent_activity_functions
        delay = MIN_POLL
        while not self.stopping.is_set():
            free = limit - self.running
            if free <= 0:
                self._freed.clear()
                await self._freed.wait()
                continue
            messages, delay = await self.poller.receive(queue_name, min(free, 32), self.work_item_visibility, delay)
            for message in messages:
                self.running += 1
                self.background.spawn(self._run(message, message.data), f"dfx-activity-{message.message_id}")

    async def make_replies_durable(self) -> None:
        """The host stops: replies no episode committed go to their queues the usual way."""
        leftovers = list(self.replies)
        await asyncio.gather(*(reply.give_back() for reply in leftovers), return_exceptions=True)

    async def _run(self, message: ReceivedMessage | asyncio.Task[ReceivedMessage], data: MessageData) -> None:
        """Run one work item; ``message`` may still be the put that claims it (its receipt comes later)."""
        try:
            await self._execute(message, data)
        except Exception as exc:  # the work item reappears after its visibility timeout
            self.report(exc, f"The activity work item for {data.target.instance_id!r}")
        finally:
            self.running -= 1
            self._freed.set()

    async def _execute(self, message: ReceivedMessage | asyncio.Task[ReceivedMessage], data: MessageData) -> None:
        scheduled = data.event
        if not isinstance(scheduled, TaskScheduledEvent):
            await self.hub.queues.delete(await _claimed(message))
            return
        renewer = asyncio.create_task(self._keep_visible(message))
        invocation_id = str(uuid.uuid4())
        name = scheduled.name or ""
        self.console.executing(name, invocation_id, "(dfx) activity work item")
        began = time.perf_counter()
        try:
            reply = await run_activity(scheduled, self.index, self.invoker, invocation_id)
        finally:
            renewer.cancel()
        ok = reply.event_type.name == "TaskCompleted"
        self.console.executed(name, invocation_id, ok, (time.perf_counter() - began) * 1000)
        if not ok:
            self.console.error(str(getattr(reply, "reason", "")))
        target = data.target
        episode = data.episode if data.episode is not None else -1
        answer = MessageData(TaskMessage(reply, target), episode=episode, sender=target)
        queue = self.hub.names.control_queue_for(target.instance_id)
        work_item = await _claimed(message)  # the put has landed: the work item is durable and can be deleted
        if self.poller.owns(queue):
            # This process runs that instance: the reply goes to its session in memory, and the work item stays
            # (invisible) until the episode that consumes the reply is committed. A crash before that replays
            # the activity, which is the at-least-once guarantee activities have anyway.
            self.deliver(LocalReply(work_item, queue, answer, self.hub.queues, self.replies))
            return
        await self.hub.queues.send(queue, answer)
        self.poller.wake(queue)
        self.background.spawn(self._delete(work_item), f"dfx-delete-{work_item.message_id}")

    async def _delete(self, work_item: ReceivedMessage) -> None:
        """Delete a work item whose reply is on its queue; if that fails, it reappears and runs again."""
        await asyncio.gather(self.hub.queues.delete(work_item), return_exceptions=True)

    async def _keep_visible(self, message: ReceivedMessage | asyncio.Task[ReceivedMessage]) -> None:
        with contextlib.suppress(asyncio.CancelledError, StorageError, OSError):
            message = await _claimed(message)
            while True:
                await asyncio.sleep(self.work_item_visibility / 2)
                await self.hub.queues.renew(message, self.work_item_visibility)
