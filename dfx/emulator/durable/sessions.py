"""Sessions: the messages delivered to each instance this process runs, filtered, admitted and run as episodes.

One session per instance runs one episode at a time. Each batch of delivered messages is checked against
the instance's history: client starts against the Instances row (the duplicate-start rule, storage-layout §7),
answers against the tasks they answer (``dfx.model.history.COMPLETIONS``), messages against the current
execution. What is kept runs as one episode of ``orchestration.run_episode`` (or one entity batch), whose
messages are sent and whose checkpoint is committed by the checkpointer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dfx.emulator import failpoints
from dfx.emulator.config import Settings
from dfx.emulator.durable.background import Background
from dfx.emulator.durable.checkpoints import Checkpoint, Checkpointer
from dfx.emulator.durable.dedupe import StartVerdict, start_verdict
from dfx.emulator.durable.delivery import Delivery, give_back_all, settle_all
from dfx.emulator.durable.dispatch import Dispatch
from dfx.emulator.durable.entities import is_entity, sent_request
from dfx.emulator.durable.entity_batches import EntityBatches
from dfx.emulator.durable.orchestration import (
    EpisodeResult,
    current_status,
    derived_id,
    describe,
    execution_started,
    run_episode,
)
from dfx.emulator.loops import Report
from dfx.emulator.storage.errors import CheckpointConflictError
from dfx.emulator.storage.instances_table import InstanceRecord, checkpoint_columns
from dfx.emulator.storage.queues import abandon_delay
from dfx.emulator.storage.taskhub import TaskHub
from dfx.emulator.worker.converters import call_durable_trigger
from dfx.emulator.worker.functions import ORCHESTRATION_TRIGGER, FunctionIndex
from dfx.emulator.worker.invoker import Invoker
from dfx.model.history import (
    EventRaisedEvent,
    EventSentEvent,
    EventType,
    ExecutionStartedEvent,
    ExecutionTerminatedEvent,
    HistoryEvent,
    OrchestrationStatus,
    answered_task,
    scheduled_task,
    utcnow,
)

log = logging.getLogger(__name__)
OUT_OF_ORDER_GRACE = 5
#: The longest a message waiting for something on its way (a start, a request) is put back for, in seconds.
MAX_WAIT_DELAY = 60


@dataclass
class _Session:
    """Messages waiting for one instance, and whether an episode of it is running."""

    messages: dict[str, Delivery] = field(default_factory=dict)
    running: bool = False


def _current_execution(past: list[HistoryEvent]) -> str | None:
    """The execution id of the history ``past`` (None when it has not started)."""
    started = execution_started(past)
    return started.orchestration_instance.execution_id if started else None


def split_batch(
    batch: list[Delivery], past: list[HistoryEvent], execution_id: str | None
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


class Sessions:
    """The instances this process runs: their delivered messages, and their episodes one at a time."""

    def __init__(
        self,
        settings: Settings,
        hub: TaskHub,
        index: FunctionIndex,
        invoker: Invoker,
        *,
        checkpoints: Checkpointer,
        dispatch: Dispatch,
        entities: EntityBatches,
        background: Background,
        stopping: asyncio.Event,
        report: Report,
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.index = index
        self.invoker = invoker
        self.checkpoints = checkpoints
        self.dispatch = dispatch
        self.entities = entities
        self.background = background
        self.stopping = stopping
        self.report = report
        self.sessions: dict[str, _Session] = defaultdict(_Session)
        self.orchestrator_slots = asyncio.Semaphore(settings.durable.max_concurrent_orchestrator_functions)

    def deliver(self, delivery: Delivery) -> None:
        """Hand a message to its instance's session, starting the session when none runs."""
        instance_id = delivery.data.target.instance_id
        session = self.sessions[instance_id]
        session.messages[delivery.id] = delivery
        if not session.running:
            session.running = True
            self.background.spawn(self._run_session(instance_id), f"dfx-instance-{instance_id}")

    async def give_back_waiting(self) -> None:
        """The host stops: messages taken but not processed would stay hidden for the visibility timeout
        (minutes); a host restarted by --watch, or another one, gets them at once instead."""
        waiting = [m for session in self.sessions.values() for m in session.messages.values()]
        await give_back_all(waiting, self.report, delay=0)

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
                        await give_back_all(batch, self.report)
                    except Exception as exc:
                        self.checkpoints.uncache(instance_id)
                        self.report(exc, f"Orchestration {instance_id!r}")
                        await give_back_all(batch, self.report)
        finally:
            session.running = False
            if not session.messages:
                self.sessions.pop(instance_id, None)

    # -- which messages run -------------------------------------------------------------------------

    async def _process(self, instance_id: str, batch: list[Delivery]) -> None:
        if is_entity(instance_id):
            await self.entities.run(instance_id, batch)
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
        kept, stale, early = split_batch(batch, past, execution_id)
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
        await asyncio.gather(*(give_back_all(group, self.report, delay) for delay, group in groups.items()))

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

    # -- episodes -----------------------------------------------------------------------------------

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
        await self.dispatch.send_all(instance_id, execution, outbound, episode)
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
