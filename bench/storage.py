"""The dfx storage layer's operations through its own API: history checkpoints and reads, queue round trips."""

from __future__ import annotations

from bench.orchestration import SyntheticOrchestration
from dfx.emulator.storage import StorageAccount, TaskHub
from dfx.emulator.storage.messages import MessageData, TaskMessage
from dfx.model.history import OrchestrationInstance, TaskCompletedEvent

HUB = "BenchHub"
READ_EVENTS = 100
READ_INSTANCE = "bench-read"
EXECUTION_ID = "e1"


def completion_message() -> MessageData:
    """A fresh envelope carrying one activity result to instance "bench"."""
    event = TaskCompletedEvent(task_scheduled_id=0, result='"ok"')
    return MessageData(TaskMessage(event=event, orchestration_instance=OrchestrationInstance("bench", EXECUTION_ID)))


class DfxStorage:
    """A task hub of its own, and the dfx operations the bench times.

    Use as ``async with DfxStorage(account) as dfx:``; the hub is created with a ``READ_EVENTS``-event
    history to read on entry, and deleted on exit.
    """

    def __init__(self, account: StorageAccount) -> None:
        self.hub = TaskHub(account, HUB)
        self.queue = self.hub.names.control_queue(0)
        self._instances = 0
        self._orchestration = SyntheticOrchestration("bench-checkpoint-0", EXECUTION_ID)
        self._etag: str | None = None

    async def __aenter__(self) -> DfxStorage:
        await self.hub.create()
        await self._write_history(SyntheticOrchestration(READ_INSTANCE, EXECUTION_ID), READ_EVENTS)
        history = await self.hub.history.read(READ_INSTANCE)
        if len(history.events) != READ_EVENTS:
            raise RuntimeError(f"wrote {READ_EVENTS} events to {READ_INSTANCE} but read back {len(history.events)}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.hub.delete()
        finally:
            await self.hub.close()

    async def _append_episode(self, orchestration: SyntheticOrchestration, etag: str | None) -> str:
        """Append the orchestration's next episode where its history ends; return the sentinel's new ETag."""
        start = orchestration.events_written
        events = orchestration.next_checkpoint()
        instance_id = orchestration.instance.instance_id
        result = await self.hub.history.append(instance_id, EXECUTION_ID, events, start_index=start, etag=etag)
        return result.etag

    async def _write_history(self, orchestration: SyntheticOrchestration, events: int) -> None:
        etag: str | None = None
        while orchestration.events_written < events:
            etag = await self._append_episode(orchestration, etag)

    async def checkpoint(self, index: int) -> None:
        """``history.append`` of the next 10-event episode, guarded by the ETag the previous one returned.

        Once a history holds ``READ_EVENTS`` events the next instance starts: Azurite's entity-group
        transactions slow down as one partition grows (about 1.5x by 4,000 rows), which would otherwise
        make the figure depend on how many checkpoints were timed.
        """
        if self._orchestration.events_written >= READ_EVENTS:
            self._instances += 1
            self._orchestration = SyntheticOrchestration(f"bench-checkpoint-{self._instances}", EXECUTION_ID)
            self._etag = None
        self._etag = await self._append_episode(self._orchestration, self._etag)

    async def history_read(self, index: int) -> None:
        """``history.read`` of the ``READ_EVENTS``-event instance written on entry."""
        await self.hub.history.read(READ_INSTANCE)

    async def queue_put(self, index: int) -> None:
        """``queues.send`` of a new envelope to control queue 0."""
        await self.hub.queues.send(self.queue, completion_message())

    async def queue_get_delete(self, index: int) -> None:
        """``queues.receive`` of one message, then ``queues.delete`` (the queue must not be empty)."""
        received = await self.hub.queues.receive(self.queue, max_messages=1)
        if not received:
            raise RuntimeError(f"queue {self.queue} ran dry: the bench receives more messages than it sent")
        await self.hub.queues.delete(received[0])
