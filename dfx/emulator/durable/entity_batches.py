"""Entity batches: the operations that arrived for an entity, run as one batch and committed as a new execution.

An entity is an orchestration whose state is its ExecutionStarted input (storage-layout §3.2): each batch
reads it, runs the operations the sorter lets through in order, sends the responses, and continues the
entity as new with the new state (§3.9).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from datetime import datetime, timedelta

from dfx.emulator import failpoints
from dfx.emulator.config import Settings
from dfx.emulator.durable.checkpoints import Checkpoint, Checkpointer
from dfx.emulator.durable.delivery import Delivery
from dfx.emulator.durable.dispatch import Dispatch
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
    request_body,
    scheduled_time,
)
from dfx.emulator.durable.orchestration import Outbound, execution_started
from dfx.emulator.durable.partitions import PartitionPoller
from dfx.emulator.durable.sorter import Labelled
from dfx.emulator.logs import HostConsole
from dfx.emulator.storage.instances_table import checkpoint_columns
from dfx.emulator.storage.messages import MessageData
from dfx.emulator.storage.taskhub import TaskHub
from dfx.emulator.worker.converters import call_durable_trigger
from dfx.emulator.worker.functions import ENTITY_TRIGGER, FunctionIndex
from dfx.emulator.worker.invoker import Invoker
from dfx.model.history import (
    EventRaisedEvent,
    ExecutionStartedEvent,
    HistoryEvent,
    OrchestrationInstance,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    utcnow,
)

log = logging.getLogger(__name__)
MAX_SIGNAL_DELAY = timedelta(days=6)


class EntityBatches:
    """Runs entity batches and commits each through the checkpointer."""

    def __init__(
        self,
        settings: Settings,
        hub: TaskHub,
        index: FunctionIndex,
        invoker: Invoker,
        console: HostConsole,
        *,
        checkpoints: Checkpointer,
        dispatch: Dispatch,
        poller: PartitionPoller,
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.index = index
        self.invoker = invoker
        self.console = console
        self.checkpoints = checkpoints
        self.dispatch = dispatch
        self.poller = poller

    async def run(self, instance_id: str, batch: list[Delivery]) -> None:
        """Run the operations that arrived for an entity as one batch, then continue it as new.

        host-protocol §3.2 (entity batches), storage-layout §3.9 (the scheduler's rows).
        """
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
        await self.dispatch.send_all(instance_id, execution.execution_id, outbound, 1)
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
        await self.poller.send_delayed(fresh, max(0.0, delay))
