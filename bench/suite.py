"""The storage-layer suite: each dfx operation timed in alternation with its raw Azurite counterpart."""

from __future__ import annotations

from collections.abc import Callable

from bench.figures import Figure
from bench.orchestration import EVENTS_PER_CHECKPOINT
from bench.raw import RawAzurite
from bench.storage import READ_EVENTS, DfxStorage
from bench.timing import Plan, compare
from dfx.emulator.storage import StorageAccount


async def run_suite(account: StorageAccount, plan: Plan, progress: Callable[[str], None]) -> list[Figure]:
    """Measure the four raw operations and the four dfx ones; return the raw rows, then the dfx rows."""
    async with RawAzurite(account) as raw, DfxStorage(account) as dfx:
        progress("table upsert vs checkpoint")
        upsert, checkpoint = await compare(raw.upsert, dfx.checkpoint, plan)
        progress("table point read vs history read")
        point_read, history_read = await compare(raw.point_read, dfx.history_read, plan)
        progress("queue send vs put")
        send, put = await compare(raw.send, dfx.queue_put, plan)
        progress("queue receive+delete vs get+delete")
        # Each queue holds warm-up + timed sends; receive no more than the emptier one got.
        receive, get = await compare(
            raw.receive_delete, dfx.queue_get_delete, plan, count=min(send.operations, put.operations)
        )

    raw_upsert = Figure("raw table upsert", upsert, "`TableClient.upsert_entity` of one history-like entity")
    raw_point = Figure("raw table point read", point_read, "`TableClient.get_entity` by PartitionKey and RowKey")
    raw_send = Figure("raw queue send", send, "`QueueClient.send_message` of a prepared dfx envelope body")
    raw_receive = Figure(
        "raw queue receive+delete", receive, "`QueueClient.receive_message` of one message, then `delete_message`"
    )
    return [
        raw_upsert,
        raw_point,
        raw_send,
        raw_receive,
        Figure(
            f"dfx checkpoint ({EVENTS_PER_CHECKPOINT} events)",
            checkpoint,
            f"`hub.history.append` of one episode's {EVENTS_PER_CHECKPOINT} events to a history growing to "
            f"{READ_EVENTS} events, guarded by the previous ETag: one entity-group transaction with the sentinel",
            events=EVENTS_PER_CHECKPOINT,
            baseline=raw_upsert,
        ),
        Figure(
            f"dfx history read ({READ_EVENTS} events)",
            history_read,
            f"`hub.history.read` of an instance with {READ_EVENTS} events: one partition query, decoded to events",
            events=READ_EVENTS,
            baseline=raw_point,
        ),
        Figure(
            "dfx queue put",
            put,
            "`hub.queues.send` of a new `MessageData` (TaskCompleted) to a control queue",
            baseline=raw_send,
        ),
        Figure(
            "dfx queue get+delete",
            get,
            "`hub.queues.receive(max_messages=1)`, decoded, then `hub.queues.delete`",
            baseline=raw_receive,
        ),
    ]
