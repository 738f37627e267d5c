"""Azurite's own single operations, through the plain async Azure SDK clients (no dfx code on the path)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from azure.data.tables.aio import TableClient
from azure.storage.queue.aio import QueueClient

from dfx.emulator.storage import StorageAccount
from dfx.emulator.storage.messages import MessageData, TaskMessage
from dfx.model.history import OrchestrationInstance, TaskCompletedEvent

TABLE = "BenchRaw"
QUEUE = "bench-raw"
PARTITION = "bench"


def history_like_entity(index: int) -> dict[str, Any]:
    """A table entity shaped like a small history row, with a RowKey of its own."""
    return {
        "PartitionKey": PARTITION,
        "RowKey": f"{index:016X}",
        "ExecutionId": "e1",
        "EventType": "TaskScheduled",
        "EventId": index,
        "Name": "hello",
        "Input": '"x"',
        "_Timestamp": datetime.now(timezone.utc),
    }


def envelope_body() -> str:
    """The JSON body dfx puts on a queue for one TaskCompleted message (so both sides send alike)."""
    event = TaskCompletedEvent(task_scheduled_id=0, result='"ok"')
    return MessageData(TaskMessage(event=event, orchestration_instance=OrchestrationInstance("bench", "e1"))).encode()


class RawAzurite:
    """One table and one queue of their own, and the raw operations the dfx figures are compared with.

    Use as ``async with RawAzurite(account) as raw:``; the table and queue are deleted on exit.
    """

    def __init__(self, account: StorageAccount) -> None:
        conn = account.connection_string()
        self.table = TableClient.from_connection_string(conn, table_name=TABLE)
        self.queue = QueueClient.from_connection_string(conn, QUEUE)
        self.body = envelope_body()
        self.upserted = 0

    async def __aenter__(self) -> RawAzurite:
        await self.table.create_table()
        await self.queue.create_queue()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.table.delete_table()
            await self.queue.delete_queue()
        finally:
            await self.table.close()
            await self.queue.close()

    async def upsert(self, index: int) -> None:
        """``upsert_entity`` of one history-like entity under a new RowKey."""
        await self.table.upsert_entity(history_like_entity(self.upserted))
        self.upserted += 1

    async def point_read(self, index: int) -> None:
        """``get_entity`` of one entity that ``upsert`` wrote (call ``upsert`` at least once first)."""
        await self.table.get_entity(PARTITION, f"{index % self.upserted:016X}")

    async def send(self, index: int) -> None:
        """``send_message`` of a prepared dfx envelope body."""
        await self.queue.send_message(self.body)

    async def receive_delete(self, index: int) -> None:
        """``receive_message`` of one message, then ``delete_message`` (the queue must not be empty)."""
        message = await self.queue.receive_message()
        if message is None:
            raise RuntimeError(f"queue {QUEUE} ran dry: the bench receives more messages than it sent")
        await self.queue.delete_message(message)
