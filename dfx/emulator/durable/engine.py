"""The durable engine's I/O loop: partition leases, control-queue and work-item polling, episodes, commits.

Everything decided here is decided by the pure functions of ``orchestration``; this module moves messages
and rows in the provider's order (storage-layout §8): enqueue outbound messages, append history with the
sentinel ETag, merge the Instances row, delete the consumed messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dfx.emulator import failpoints
from dfx.emulator.config import Settings
from dfx.emulator.durable.activities import run_activity
from dfx.emulator.durable.background import Background
from dfx.emulator.durable.checkpoints import Checkpoint, Checkpointer
from dfx.emulator.durable.client import discard_lost_start
from dfx.emulator.durable.dedupe import StartVerdict, start_verdict
from dfx.emulator.durable.delivery import ClaimedAtPut, Delivery, LocalReply, Queued, give_back_all, settle_all
from dfx.emulator.durable.entities import (
    DELETE_OPERATION,
    OPERATION_EVENT,
    EntityId,
    Request,
    Response,
    SchedulerState,
    apply_batch_result,
    batch_json,
    failed_batch,
    is_entity,
    request_body,
    scheduled_time,
    sent_request,
)
from dfx.emulator.durable.leases import claim_or_renew, released, worker_id
from dfx.emulator.durable.orchestration import (
    EpisodeResult,
    Outbound,
    current_status,
    derived_id,
    describe,
    execution_started,
    run_episode,
)
from dfx.emulator.durable.sorter import Labelled
from dfx.emulator.health import StorageHealth, is_storage_failure
from dfx.emulator.logs import HostConsole
from dfx.emulator.loops import keep_running
from dfx.emulator.storage.errors import CheckpointConflictError, StorageError
from dfx.emulator.storage.instances_table import InstanceRecord, checkpoint_columns
from dfx.emulator.storage.messages import MessageData, ReceivedMessage, TaskMessage
from dfx.emulator.storage.queues import abandon_delay, delay_seconds
from dfx.emulator.storage.taskhub import TaskHub
from dfx.emulator.worker import sdk_speedups
from dfx.emulator.worker.converters import call_durable_trigger
from dfx.emulator.worker.functions import ENTITY_TRIGGER, ORCHESTRATION_TRIGGER, FunctionIndex
from dfx.emulator.worker.invoker import Invoker
from dfx.model.history import (
    EventRaisedEvent,
    EventSentEvent,
    EventType,
    ExecutionStartedEvent,
    ExecutionTerminatedEvent,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    TaskScheduledEvent,
    answered_task,
    scheduled_task,
    utcnow,
)

log = logging.getLogger(__name__)
MIN_POLL = 0.05
OUT_OF_ORDER_GRACE = 5
MAX_SIGNAL_DELAY = timedelta(days=6)
#: The longest a message waiting for something on its way (a start, a request) is put back for, in seconds.
MAX_WAIT_DELAY = 60


@dataclass
class _Session:
    """Messages waiting for one instance, and whether an episode of it is running."""

    messages: dict[str, Delivery] = field(default_factory=dict)
    running: bool = False


async def _claimed(message: ReceivedMessage | asyncio.Task[ReceivedMessage]) -> ReceivedMessage:
    """The work item as put, waiting for the put when it is still in flight."""
    return message if isinstance(message, ReceivedMessage) else await asyncio.shield(message)


def _current_execution(past: list[HistoryEvent]) -> str | None:
    """The execution id of the history ``past`` (None when it has not started)."""
    started = execution_started(past)
    return started.orchestration_instance.execution_id if started else None


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
        self.owned: dict[str, asyncio.Task[None]] = {}
        self.wakeups: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.sessions: dict[str, _Session] = defaultdict(_Session)
        self.background = Background()
        self.stopping = asyncio.Event()
        self.orchestrator_slots = asyncio.Semaphore(settings.durable.max_concurrent_orchestrator_functions)
        self._loops: list[asyncio.Task[None]] = []
        self.control_visibility = max(1, round(settings.durable.control_queue_visibility_timeout))
        self.work_item_visibility = max(1, round(settings.durable.work_item_queue_visibility_timeout))
        self.lease_interval = timedelta(seconds=settings.durable.lease_interval)
        self.checkpoints = Checkpointer(settings, hub, self.background, self.stopping, self._failed)
        self._local_replies: set[LocalReply] = set()
        """Activity replies handed to sessions in memory and not committed or given back yet."""
        self._claimed_starts: set[str] = set()
        """Start messages put hidden for this process whose start is not decided yet."""
        self.activities_running = 0
        self._activity_freed = asyncio.Event()
        self.health = StorageHealth()

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        sdk_speedups.install()
        try:
            await self._lease_round()
        except Exception as exc:  # the lease loop tries again
            self._failed(exc, "The partition lease round")
        self._loops.append(self._keep_running(self._lease_loop, "The partition lease loop"))
        self._loops.append(self._keep_running(self._activity_loop, "The work-item poller"))

    def _keep_running(self, body: Callable[[], Awaitable[None]], name: str) -> asyncio.Task[None]:
        """A task running ``body`` that is restarted whenever it ends on its own (``dfx.emulator.loops``)."""
        return asyncio.create_task(keep_running(body, name, self.stopping, self._failed), name=f"dfx-{name}")

    async def stop(self) -> None:
        self.stopping.set()
        for event in self.wakeups.values():
            event.set()
        for task in [*self._loops, *self.owned.values()]:
            task.cancel()
        await asyncio.gather(*self._loops, *self.owned.values(), return_exceptions=True)
        await self.background.wait(timeout=5)
        await self.checkpoints.wait(timeout=5)
        leftovers = list(self._local_replies)
        await asyncio.gather(*(local.give_back() for local in leftovers), return_exceptions=True)
        # Messages taken but not processed would stay hidden for the visibility timeout (minutes): a host
        # restarted by --watch, or another one, gets them at once instead.
        waiting = [m for session in self.sessions.values() for m in session.messages.values()]
        await give_back_all(waiting, self._failed, delay=0)
        with contextlib.suppress(StorageError, OSError):
            for lease in await self.hub.partitions.read_all():
                if lease.current_owner == self.me:
                    await self.hub.partitions.replace(released(lease))

    async def put_start(self, message: MessageData) -> ReceivedMessage:
        """Put a client's start message; when this process owns its queue, hidden and claimed for it.

        Nothing runs it before ``start_decided``: the start may still lose to another start of the same id.
        """
        queue = self.hub.names.control_queue_for(message.target.instance_id)
        claimed = queue in self.owned
        sent = await self.hub.queues.send(queue, message, self.control_visibility if claimed else None)
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
            self.wake(queue)
            return
        if won is None or queue not in self.owned:  # the poller (here or at the new owner) sees it at once
            with contextlib.suppress(StorageError, OSError):
                await self.hub.queues.abandon(sent, delay=0)
            return
        if new_instance:
            self.checkpoints.note_new_instance(sent.data.target.instance_id)
        self._deliver(ClaimedAtPut(sent, self.hub.queues, start_admitted=True))

    async def send_control(self, message: MessageData, delay: float | None = None) -> str:
        """Put a message on its target's control queue; when this process owns that queue, also hand it to the
        session at once. The queued copy is put hidden and deleted by the session with the put's pop receipt,
        so nobody polls for it; if this process dies first, it reappears after the visibility timeout."""
        queue = self.hub.names.control_queue_for(message.target.instance_id)
        if queue in self.owned and not delay:
            claimed = await self.hub.queues.send(queue, message, self.control_visibility)
            self._deliver(ClaimedAtPut(claimed, self.hub.queues))
            return queue
        await self.hub.queues.send(queue, message, delay)
        self.wake(queue)
        return queue

    def wake(self, queue_name: str) -> None:
        """A message was put on ``queue_name``: poll it now if this process owns it."""
        self.wakeups[queue_name].set()

    def _failed(self, exc: BaseException, doing: str) -> None:
        """Report a failure of background work: storage trouble to ``health``, anything else as the bug it is."""
        if is_storage_failure(exc):
            self.health.failed(exc, doing)
            return
        self.console.error(f"{doing}: {type(exc).__name__}: {exc}")
        log.error("%s failed", doing, exc_info=exc)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.background.spawn(coro, name)

    # -- partitions ---------------------------------------------------------------------------------

    async def _lease_round(self) -> None:
        now = utcnow()
        for lease in await self.hub.partitions.read_all():
            updated = claim_or_renew(lease, self.me, now, self.lease_interval)
            if updated is None or not await self.hub.partitions.replace(updated):
                if lease.queue_name in self.owned:
                    self.owned.pop(lease.queue_name).cancel()
                    self.checkpoints.forget_partition(lease.queue_name)
                continue
            if lease.queue_name not in self.owned:
                self.checkpoints.forget_partition(lease.queue_name)  # what was cached before may have changed since
                queue_name = lease.queue_name
                self.owned[queue_name] = self._keep_running(
                    functools.partial(self._control_loop, queue_name), f"The poller of {queue_name}"
                )

    async def _lease_loop(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(self.settings.durable.lease_renew_interval)
            try:
                await self._lease_round()
            except Exception as exc:  # the loop goes on whatever happens; the next round tries again
                self._failed(exc, "The partition lease round")
            else:
                self.health.answered("table")

    # -- polling ------------------------------------------------------------------------------------

    async def _wait(self, queue_name: str, delay: float) -> bool:
        """Wait out a back-off unless woken first; True when woken."""
        event = self.wakeups[queue_name]
        woken = False
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=delay)
            woken = True
        event.clear()
        return woken

    async def _receive(
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
            self._failed(exc, f"Receiving from {queue_name}")
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
            messages, delay = await self._receive(queue_name, batch, self.control_visibility, delay)
            if not messages:
                continue
            messages.sort(key=lambda m: (m.inserted_on or utcnow(), m.data.sequence_number))
            for message in messages:
                self._deliver(Queued(message, self.hub.queues))

    def _deliver(self, delivery: Delivery) -> None:
        """Hand a message to its instance's session, starting the session when none runs."""
        instance_id = delivery.data.target.instance_id
        session = self.sessions[instance_id]
        session.messages[delivery.id] = delivery
        if not session.running:
            session.running = True
            self._spawn(self._run_session(instance_id), f"dfx-instance-{instance_id}")

    def schedule_wakeup(self, queue_name: str, at: datetime) -> None:
        """Wake ``queue_name``'s poller when a timer message becomes visible (no polling gap for timers)."""
        delay = max(0.0, (at - utcnow()).total_seconds()) + 0.05
        asyncio.get_running_loop().call_later(delay, self.wake, queue_name)

    async def _send_delayed(self, message: MessageData, delay: float) -> None:
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
                due, lambda: self._spawn(self._fire(sent), f"dfx-timer-{sent.message_id}")
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
            self._failed(exc, f"Taking the due message {message.message_id}")
            taken = False
        if taken:
            self._deliver(ClaimedAtPut(message, self.hub.queues))
        else:  # the poller received it first (or will): make it look now
            self.wake(message.queue_name)

    # -- orchestration episodes ---------------------------------------------------------------------

    async def _run_session(self, instance_id: str) -> None:
        session = self.sessions[instance_id]
        try:
            while session.messages and not self.stopping.is_set():
                await self.checkpoints.room(instance_id)
                batch = list(session.messages.values())
                session.messages.clear()
                async with self.orchestrator_slots:
                    try:
                        await self._process(instance_id, batch)
                    except CheckpointConflictError as exc:
                        self.checkpoints.uncache(instance_id)
                        log.warning("%s; abandoning %d message(s)", exc, len(batch))
                        await give_back_all(batch, self._failed)
                    except Exception as exc:
                        self.checkpoints.uncache(instance_id)
                        self._failed(exc, f"Orchestration {instance_id!r}")
                        await give_back_all(batch, self._failed)
        finally:
            session.running = False
            if not session.messages:
                self.sessions.pop(instance_id, None)

    async def _process(self, instance_id: str, batch: list[Delivery]) -> None:
        if is_entity(instance_id):
            await self._entity_batch(instance_id, batch)
            return
        cached = self.checkpoints.is_cached(instance_id)
        past = await self.checkpoints.history(instance_id)
        batch, undecided = await self._admit_starts(instance_id, batch)
        if undecided:  # a start of this id is not decided yet: what came with it must not run before it
            await self._put_back(batch)
            return
        starts = [m for m in batch if isinstance(m.event, ExecutionStartedEvent)]
        if cached and self._would_drop(past, starts, batch):
            # About to drop messages: never on the word of the cache alone (storage-layout §7 decides on
            # what storage holds, and another host may have written since this one cached the history).
            past = await self.checkpoints.history(instance_id, fresh=True)
        start_index = len(past)
        if starts:
            start = starts[-1]
            event = start.event
            assert isinstance(event, ExecutionStartedEvent)
            duplicate = any(
                isinstance(e, ExecutionStartedEvent)
                and e.orchestration_instance.execution_id == event.orchestration_instance.execution_id
                for e in past
            )
            if duplicate:
                await settle_all(starts)
                batch = [m for m in batch if m not in starts]
                starts = []
            else:
                past, start_index = [], 0  # a new execution overwrites from RowKey 0 (storage-layout §3.8)
                batch = [m for m in batch if m is start or not isinstance(m.event, ExecutionStartedEvent)]
                await settle_all([m for m in starts if m is not start])
        if not past and not starts:
            await self._no_such_instance(instance_id, batch)
            return
        status = current_status(past) if past else OrchestrationStatus.Running
        if status.is_terminal and not starts:
            if await self._restart_pending(instance_id, past):
                await self._put_back(batch)  # they belong to the new execution, whose start comes next
            else:
                await settle_all(batch)  # messages to terminal instances are discarded (§7)
            return
        started = execution_started(past) if past else None
        source = started.orchestration_instance if started is not None else starts[0].data.target
        execution_id = source.execution_id
        kept, stale, early = self._filter(batch, past, execution_id)
        await settle_all(stale)
        await self._put_back(early)
        if not kept:
            return
        await self._episode(instance_id, past, start_index, kept)

    @staticmethod
    def _would_drop(past: list[HistoryEvent], starts: list[Delivery], batch: list[Delivery]) -> bool:
        """Whether ``past`` would have messages of ``batch`` dropped: no such instance, a terminal one, or
        messages to another execution than its current one."""
        if starts:
            return False
        if not past or current_status(past).is_terminal:
            return True
        current = _current_execution(past)
        return any(m.data.target.execution_id not in (None, current) for m in batch)

    async def _restart_pending(self, instance_id: str, past: list[HistoryEvent]) -> bool:
        """Whether the Instances row names a Pending execution other than the one ``past`` holds: a start
        that has won but not run yet (its message may still be hidden or waiting for its check)."""
        row = await self.hub.instances.get(instance_id, fetch_large=False)
        current = _current_execution(past)
        return bool(
            row is not None and row.runtime_status == OrchestrationStatus.Pending and row.execution_id
            and row.execution_id != current
        )  # fmt: skip

    async def _put_back(self, messages: list[Delivery]) -> None:
        """Give back messages that must wait for something on its way: soon at first, then backing off."""
        groups: dict[int, list[Delivery]] = {}
        for message in messages:
            n = message.dequeue_count
            groups.setdefault(1 if n <= 3 else min(abandon_delay(n), MAX_WAIT_DELAY), []).append(message)
        await asyncio.gather(*(give_back_all(group, self._failed, delay) for delay, group in groups.items()))

    async def _admit_starts(self, instance_id: str, batch: list[Delivery]) -> tuple[list[Delivery], bool]:
        """The batch without the client starts that lost to another start of the id (dropped) or whose
        Instances row is not written yet (put back, and True: the rest of the batch must wait too)."""
        kept: list[Delivery] = []
        undecided = False
        row: InstanceRecord | None = None
        read = False
        for message in batch:
            event = message.event
            if not isinstance(event, ExecutionStartedEvent) or event.parent_instance is not None:
                kept.append(message)
                continue
            if message.start_admitted:
                kept.append(message)
                continue
            if not read:
                row, read = await self.hub.instances.get(instance_id, fetch_large=False), True
            verdict = start_verdict(
                event.orchestration_instance.execution_id,
                event.generation or 0,
                message.dequeue_count,
                row.execution_id if row is not None else None,
                row.generation if row is not None else None,
                created=event.timestamp,
                row_created=row.created_time if row is not None else None,
            )
            if verdict is StartVerdict.RUN:
                kept.append(message)
            elif verdict is StartVerdict.DROP:
                log.info(
                    "%s: dropping the start of execution %s: the Instances row names execution %s (another start "
                    "of this id won, or its client stopped before writing the row)",
                    instance_id, event.orchestration_instance.execution_id, row.execution_id if row else None,
                )  # fmt: skip
                await settle_all([message])
            else:
                await self._put_back([message])
                undecided = True
        return kept, undecided

    def _filter(
        self, batch: list[Delivery], past: list[HistoryEvent], execution_id: str | None
    ) -> tuple[list[Delivery], list[Delivery], list[Delivery]]:
        """Split a batch into messages to process, stale ones (other executions) and out-of-order ones."""
        scheduled = {task for e in past if (task := scheduled_task(e)) is not None}
        done = {task for e in past if (task := answered_task(e)) is not None}
        requests: set[Any] | None = None
        kept: list[Delivery] = []
        stale: list[Delivery] = []
        early: list[Delivery] = []
        for message in batch:
            target = message.data.target.execution_id
            event = message.event
            if target is not None and execution_id is not None and target != execution_id:
                stale.append(message)
                continue
            sender = message.data.sender
            answer = isinstance(event, EventRaisedEvent) and sender is not None and is_entity(sender.instance_id or "")
            if answer and requests is None:
                requests = {sent_request(e).get("id") for e in past if isinstance(e, EventSentEvent)}
            if answer and getattr(event, "name", None) not in (requests or ()):
                # an answer to a request not in history yet: its episode will run again and send the request
                # again, which the entity drops as a duplicate, so this answer must never be given up on
                early.append(message)
                continue
            task = answered_task(event)
            if task is not None:
                if task in done:
                    stale.append(message)  # a duplicate reply; replay already has it
                    continue
                # an answer to a task not in history yet waits; a TimerFired never does (only the answers of
                # activities and sub-orchestrations are held back as early)
                if task not in scheduled and task[0] is not EventType.TimerCreated:
                    (early if message.dequeue_count <= OUT_OF_ORDER_GRACE else stale).append(message)
                    continue
                done.add(task)  # the queued twin of a local reply, in the same batch, is a duplicate
            kept.append(message)
        return kept, stale, early

    async def _no_such_instance(self, instance_id: str, batch: list[Delivery]) -> None:
        """Messages for an instance without history: a terminate of a Pending one is recorded; the rest wait
        while the Instances row says the instance is Pending (its start is on its way, perhaps hidden by a
        host that died), and are dropped with a warning when there is no such instance."""
        record = await self.hub.instances.get(instance_id, fetch_large=False)
        pending = record is not None and record.runtime_status == OrchestrationStatus.Pending
        if pending and any(isinstance(m.event, ExecutionTerminatedEvent) for m in batch):
            reason = next(m.event for m in batch if isinstance(m.event, ExecutionTerminatedEvent))
            now = utcnow()
            columns = {"RuntimeStatus": "Terminated", "Output": getattr(reason, "input", None)}
            await self.hub.instances.merge(instance_id, {**columns, "LastUpdatedTime": now, "CompletedTime": now})
            pending = False
        early = [
            m
            for m in batch
            if (pending or m.dequeue_count <= OUT_OF_ORDER_GRACE) and not isinstance(m.event, ExecutionTerminatedEvent)
        ]
        await self._put_back(early)
        dropped = [m for m in batch if m not in early]
        lost = [m for m in dropped if not isinstance(m.event, ExecutionTerminatedEvent)]
        if lost:
            log.warning(
                "%s: dropping %d message(s) for an instance that has no history after %d attempts: %s",
                instance_id, len(lost), OUT_OF_ORDER_GRACE, ", ".join(describe(m.event) for m in lost),
            )  # fmt: skip
        await settle_all(dropped)

    async def _entity_batch(self, instance_id: str, batch: list[Delivery]) -> None:
        """Run the operations that arrived for an entity as one batch, then continue it as new (§3.2, §3.9)."""
        entity = EntityId.parse(instance_id)
        started = execution_started(await self.checkpoints.history(instance_id))
        state = SchedulerState.from_json(started.input if started else None)
        window = timedelta(seconds=self.settings.durable.entity_message_reorder_window)
        now = utcnow()
        requests = [Request.from_dict(r.body) for r in state.sorter.expire(now, window)]
        for message in batch:
            event = message.event
            if not isinstance(event, EventRaisedEvent) or not (event.name or "").startswith(OPERATION_EVENT):
                continue
            due = scheduled_time(event.name or "")
            if due is not None and due > utcnow():
                await self._postpone_signal(message.data, due)  # a scheduled signal that is not due yet
                continue
            for ready in state.sorter.receive(Labelled.of(request_body(event.input)), window, now):
                requests.append(Request.from_dict(ready.body))
        if state.sorter.buffered_count:
            log.debug("%s holds %d request(s) back for their predecessors", instance_id, state.sorter.buffered_count)
        function = self.index.durable(ENTITY_TRIGGER, entity.name)
        responses: list[Response] = []
        chunk: list[Request] = []

        async def flush() -> None:
            nonlocal state
            if not chunk:
                return
            if function is None:
                responses.extend(failed_batch(chunk, self.index.missing_message(ENTITY_TRIGGER, entity.name)))
            else:
                payload = batch_json(entity, state, chunk)
                try:
                    output = await asyncio.get_running_loop().run_in_executor(
                        self.invoker.pool, call_durable_trigger, function, payload
                    )
                    state, results = apply_batch_result(state, chunk, output)
                    responses.extend(results)
                except Exception as exc:
                    responses.extend(failed_batch(chunk, f"{type(exc).__name__}: {exc}"))
            chunk.clear()

        limit = self.settings.durable.max_entity_operation_batch_size
        for request in requests:
            if request.operation.lower() == DELETE_OPERATION:
                await flush()
                state = dataclasses.replace(state, exists=False, state=None)
                responses.append(Response(request, "null", False))
                continue
            chunk.append(request)
            if len(chunk) >= limit:
                await flush()
        await flush()
        for response in responses:
            if response.is_error:
                self.console.error(f"Error in operation '{response.request.operation}' of entity {instance_id}: "
                                   f"{response.result}")  # fmt: skip
        now = utcnow()
        execution = OrchestrationInstance(instance_id, uuid.uuid4().hex)
        appended: list[HistoryEvent] = [
            OrchestratorStartedEvent(timestamp=now),
            ExecutionStartedEvent(
                orchestration_instance=execution, name=instance_id, input=state.to_json(), generation=0,
                timestamp=now, is_played=True,
            ),
            OrchestratorCompletedEvent(timestamp=now),
        ]  # fmt: skip
        outbound = [
            Outbound(
                OrchestrationInstance(r.request.parent, r.request.parent_execution),
                EventRaisedEvent(name=r.request.id, input=r.event_input()),
            )
            for r in responses
            if not r.request.signal and r.request.parent
        ]
        await self._send_all(instance_id, execution.execution_id, outbound, 1)
        failpoints.hit("entity.after-send")
        self.checkpoints.remember(instance_id, appended)
        columns = checkpoint_columns(
            appended, execution_id=execution.execution_id or "", custom_status=state.custom_status(),
            task_hub=self.hub.name,
        )  # fmt: skip
        self.checkpoints.commit(Checkpoint(instance_id, execution.execution_id or "", appended, 0, columns, batch))

    async def _postpone_signal(self, message: MessageData, due: datetime) -> None:
        """Put a scheduled signal back until it is due, at most 6 days at a time (storage-layout §5.5)."""
        delay = min((due - utcnow()).total_seconds(), MAX_SIGNAL_DELAY.total_seconds())
        fresh = MessageData(message.task_message, sender=message.sender, episode=message.episode)
        await self._send_delayed(fresh, max(0.0, delay))

    def _invoke_for(self, name: str) -> Callable[[str], str]:
        """The orchestrator called ``name`` as a function of its trigger payload (failing when it is unknown)."""
        function = self.index.durable(ORCHESTRATION_TRIGGER, name)
        if function is None:
            message = self.index.missing_message(ORCHESTRATION_TRIGGER, name)

            def missing(payload: str) -> str:
                raise LookupError(message)

            return missing
        return functools.partial(call_durable_trigger, function)

    async def _episode(
        self,
        instance_id: str,
        past: list[HistoryEvent],
        start_index: int,
        batch: list[Delivery],
    ) -> None:
        events = [m.event for m in batch]
        started = execution_started(past) or next(e for e in events if isinstance(e, ExecutionStartedEvent))
        invoke = self._invoke_for(started.name or "")
        loop = asyncio.get_running_loop()
        began = time.perf_counter()

        def run(history: list[HistoryEvent], new: list[HistoryEvent]) -> EpisodeResult:
            return run_episode(
                history,
                new,
                instance_id=instance_id,
                invoke=invoke,
                now=utcnow(),
                new_id=derived_id,
                default_version=self.settings.durable.default_version,
            )

        t_sdk = time.perf_counter()
        result = await loop.run_in_executor(self.invoker.pool, run, past, events)
        t_sdk = time.perf_counter() - t_sdk
        outbound = list(result.outbound)
        appended = result.appended
        execution = started.orchestration_instance.execution_id
        while result.new_execution is not None:  # continue-as-new runs the next execution in this work item
            new_start = result.new_execution
            fresh: list[HistoryEvent] = [new_start, *result.carried_events]
            result = await loop.run_in_executor(self.invoker.pool, run, [], fresh)
            outbound += result.outbound
            appended, start_index, past = result.appended, 0, []
            execution = new_start.orchestration_instance.execution_id
        episode = sum(1 for e in [*past, *appended] if e.event_type.name == "OrchestratorStarted")
        await self._send_all(instance_id, execution, outbound, episode)
        failpoints.hit("episode.after-send")
        if result.status.is_terminal:
            self.checkpoints.uncache(instance_id)
        else:
            self.checkpoints.remember(instance_id, [*past, *appended])
        columns = checkpoint_columns(
            appended, execution_id=execution or "", custom_status=result.custom_status, task_hub=self.hub.name
        )
        self.checkpoints.commit(Checkpoint(instance_id, execution or "", appended, start_index, columns, batch))
        log.debug(
            "episode %d of %s: %s -> %s in %.0f ms (sdk %.0f ms)",
            episode,
            instance_id,
            ", ".join(describe(e) for e in events),
            result.status.name,
            (time.perf_counter() - began) * 1000,
            t_sdk * 1000,
        )

    async def _send_all(
        self, instance_id: str, execution_id: str | None, outbound: list[Outbound], episode: int
    ) -> None:
        sender = OrchestrationInstance(instance_id, execution_id)

        async def send(item: Outbound) -> None:
            message = MessageData(TaskMessage(item.event, item.target), episode=episode, sender=sender)
            if item.work_item:
                if self.activities_running < self.settings.durable.max_concurrent_activity_functions:
                    # Claimed at put time (hidden, pop receipt kept) and run here at once, while the put is in
                    # flight: the put only has to land before this episode's history append (awaited below)
                    # and before the work item is deleted. If this process dies, the work item reappears after
                    # the visibility timeout.
                    put = asyncio.create_task(
                        self.hub.queues.send_work_item(message, hidden_for=self.work_item_visibility)
                    )
                    self.activities_running += 1
                    self._spawn(self._run_activity(put, message), f"dfx-activity-{id(put)}")
                    await put
                else:
                    await self.hub.queues.send_work_item(message)
                    self.wake(self.hub.names.work_item_queue)
                return
            if item.visible_at is None:
                await self.send_control(message)
                return
            await self._send_delayed(message, max(0.0, (item.visible_at - utcnow()).total_seconds()))

        # Messages to one target keep their order (an entity must see signal, signal, call as sent); different
        # targets are sent in parallel.
        by_target: dict[object, list[Outbound]] = {}
        for item in outbound:
            by_target.setdefault(id(item) if item.work_item else item.target.instance_id, []).append(item)

        async def send_in_order(items: list[Outbound]) -> None:
            for item in items:
                await send(item)

        await asyncio.gather(*(send_in_order(items) for items in by_target.values()))

    # -- activities ---------------------------------------------------------------------------------

    async def _activity_loop(self) -> None:
        queue_name = self.hub.names.work_item_queue
        limit = self.settings.durable.max_concurrent_activity_functions
        delay = MIN_POLL
        while not self.stopping.is_set():
            free = limit - self.activities_running
            if free <= 0:
                self._activity_freed.clear()
                await self._activity_freed.wait()
                continue
            messages, delay = await self._receive(queue_name, min(free, 32), self.work_item_visibility, delay)
            for message in messages:
                self.activities_running += 1
                self._spawn(self._run_activity(message, message.data), f"dfx-activity-{message.message_id}")

    async def _run_activity(self, message: ReceivedMessage | asyncio.Task[ReceivedMessage], data: MessageData) -> None:
        """Run one work item; ``message`` may still be the put that claims it (its receipt comes later)."""
        try:
            await self._execute_activity(message, data)
        except Exception as exc:  # the work item reappears after its visibility timeout
            self._failed(exc, f"The activity work item for {data.target.instance_id!r}")
        finally:
            self.activities_running -= 1
            self._activity_freed.set()

    async def _execute_activity(
        self, message: ReceivedMessage | asyncio.Task[ReceivedMessage], data: MessageData
    ) -> None:
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
        if queue in self.owned:
            # This process runs that instance: the reply goes to its session in memory, and the work item stays
            # (invisible) until the episode that consumes the reply is committed. A crash before that replays
            # the activity, which is the at-least-once guarantee activities have anyway.
            self._deliver(LocalReply(work_item, queue, answer, self.hub.queues, self._local_replies))
            return
        await self.hub.queues.send(queue, answer)
        self.wake(queue)
        self._spawn(self._delete_work_item(work_item), f"dfx-delete-{work_item.message_id}")

    async def _delete_work_item(self, work_item: ReceivedMessage) -> None:
        """Delete a work item whose reply is on its queue; if that fails, it reappears and runs again."""
        await asyncio.gather(self.hub.queues.delete(work_item), return_exceptions=True)

    async def _keep_visible(self, message: ReceivedMessage | asyncio.Task[ReceivedMessage]) -> None:
        with contextlib.suppress(asyncio.CancelledError, StorageError, OSError):
            message = await _claimed(message)
            while True:
                await asyncio.sleep(self.work_item_visibility / 2)
                await self.hub.queues.renew(message, self.work_item_visibility)
