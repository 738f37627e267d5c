"""The durable engine of one host: its parts composed, started and stopped.

Everything decided here is decided by the pure functions of ``orchestration``; the parts move messages and
rows in the provider's order (storage-layout §8): enqueue outbound messages, append history with the
sentinel ETag, merge the Instances row, delete the consumed messages.

- ``partitions.PartitionPoller``: partition leases, the control-queue pollers, wake-ups, due delayed messages
- ``sessions.Sessions``: the messages delivered to each instance, filtered and admitted, run as episodes
- ``checkpoints.Checkpointer``: the commit chain, ETags, cached histories and pending Instances rows
- ``work_items.ActivityRunner``: activity work items, polled or claimed at put
- ``entity_batches.EntityBatches``: entity operations run as batches
- ``dispatch.Dispatch``: messages put on their queues and handed to the parts that run them here
- ``delivery``: the three ways a message reaches a session, behind one ``Delivery`` interface
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from dfx.emulator.config import Settings
from dfx.emulator.durable.background import Background
from dfx.emulator.durable.checkpoints import Checkpointer
from dfx.emulator.durable.delivery import Delivery
from dfx.emulator.durable.dispatch import Dispatch
from dfx.emulator.durable.entity_batches import EntityBatches
from dfx.emulator.durable.leases import worker_id
from dfx.emulator.durable.partitions import PartitionPoller
from dfx.emulator.durable.sessions import Sessions
from dfx.emulator.durable.work_items import ActivityRunner
from dfx.emulator.health import StorageHealth, is_storage_failure
from dfx.emulator.logs import HostConsole
from dfx.emulator.loops import keep_running
from dfx.emulator.storage.messages import MessageData, ReceivedMessage
from dfx.emulator.storage.taskhub import TaskHub
from dfx.emulator.worker import sdk_speedups
from dfx.emulator.worker.functions import FunctionIndex
from dfx.emulator.worker.invoker import Invoker

log = logging.getLogger(__name__)


class Engine:
    """Runs orchestrations and activities of one task hub in this process."""

    def __init__(
        self, settings: Settings, hub: TaskHub, index: FunctionIndex, invoker: Invoker, console: HostConsole
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.index = index
        self.invoker = invoker
        self.console = console
        self.me = worker_id(settings.port)
        self.stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self.health = StorageHealth()
        self.background = Background(self._failed)
        self.checkpoints = Checkpointer(settings, hub, self.background, self.stopping, self._failed)
        self.poller = PartitionPoller(
            settings,
            hub,
            self.me,
            health=self.health,
            background=self.background,
            stopping=self.stopping,
            report=self._failed,
            keep_running=self._keep_running,
            deliver=self._deliver,
            forget_partition=self.checkpoints.forget_partition,
        )
        self.activities = ActivityRunner(
            settings,
            hub,
            index,
            invoker,
            console,
            poller=self.poller,
            background=self.background,
            stopping=self.stopping,
            report=self._failed,
            deliver=self._deliver,
        )
        self.dispatch = Dispatch(
            hub, poller=self.poller, activities=self.activities, checkpoints=self.checkpoints, deliver=self._deliver
        )
        self.entities = EntityBatches(
            settings, hub, index, invoker, console, checkpoints=self.checkpoints, dispatch=self.dispatch,
            poller=self.poller,
        )  # fmt: skip
        self.sessions = Sessions(
            settings,
            hub,
            index,
            invoker,
            checkpoints=self.checkpoints,
            dispatch=self.dispatch,
            entities=self.entities,
            background=self.background,
            stopping=self.stopping,
            report=self._failed,
        )

    @property
    def owned(self) -> dict[str, asyncio.Task[None]]:
        """The control queues whose partitions this process holds, with their pollers."""
        return self.poller.owned

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        sdk_speedups.install()
        try:
            await self.poller.lease_round()
        except Exception as exc:  # the lease loop tries again
            self._failed(exc, "The partition lease round")
        self._loops.append(self._keep_running(self.poller.lease_loop, "The partition lease loop"))
        self._loops.append(self._keep_running(self.activities.loop, "The work-item poller"))

    def _keep_running(self, body: Callable[[], Awaitable[None]], name: str) -> asyncio.Task[None]:
        """A task running ``body`` that is restarted whenever it ends on its own (``dfx.emulator.loops``)."""
        return asyncio.create_task(keep_running(body, name, self.stopping, self._failed), name=f"dfx-{name}")

    async def stop(self) -> None:
        self.stopping.set()
        self.poller.wake_all()
        loops = [*self._loops, *self.poller.owned.values()]
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await self.background.wait(timeout=5)
        await self.checkpoints.wait(timeout=5)
        await self.activities.make_replies_durable()
        await self.sessions.give_back_waiting()
        await self.poller.release()

    # -- the client's Dispatcher --------------------------------------------------------------------

    async def put_start(self, message: MessageData) -> ReceivedMessage:
        """Put a client's start message; when this process owns its queue, hidden and claimed for it."""
        return await self.dispatch.put_start(message)

    async def start_decided(self, sent: ReceivedMessage, *, won: bool | None, new_instance: bool) -> None:
        """Run a start that won, delete the message of one that lost (``Dispatch.start_decided``)."""
        await self.dispatch.start_decided(sent, won=won, new_instance=new_instance)

    async def send_control(self, message: MessageData, delay: float | None = None) -> str:
        """Put a message on its target's control queue, handed to its session at once when it runs here."""
        return await self.dispatch.send_control(message, delay)

    def wake(self, queue_name: str) -> None:
        """A message was put on ``queue_name``: poll it now if this process owns it."""
        self.poller.wake(queue_name)

    def _deliver(self, delivery: Delivery) -> None:
        self.sessions.deliver(delivery)

    def _failed(self, exc: BaseException, doing: str) -> None:
        """Report a failure of background work: storage trouble to ``health``, anything else as the bug it is."""
        if is_storage_failure(exc):
            self.health.failed(exc, doing)
            return
        self.console.error(f"{doing}: {type(exc).__name__}: {exc}")
        log.error("%s failed", doing, exc_info=exc)
