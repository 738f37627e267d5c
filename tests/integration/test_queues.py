"""Control and work-item queues against Azurite (storage-layout §5)."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from azure.storage.queue.aio import QueueClient

from dfx.emulator.storage import PayloadLimitError, TaskHub
from dfx.emulator.storage.messages import MessageData, TaskMessage
from dfx.model.history import (
    EventRaisedEvent,
    ExecutionStartedEvent,
    OrchestrationInstance,
    TaskScheduledEvent,
)
from tests.factories import sample_events

pytestmark = pytest.mark.azurite


def message_for(event, instance_id="abc", execution_id="e1") -> MessageData:
    return MessageData(
        TaskMessage(event=event, orchestration_instance=OrchestrationInstance(instance_id, execution_id))
    )


def raw_queue(hub: TaskHub, name: str) -> QueueClient:
    return QueueClient.from_connection_string(hub.account.connection_string(), name)


async def test_every_event_type_round_trips_through_a_control_queue(hub: TaskHub):
    sent = [message_for(e) for e in sample_events()]
    for m in sent:
        await hub.queues.send_to_instance(m)
    queue = hub.names.control_queue_for("abc")
    received = await hub.queues.receive(queue)
    assert [r.data for r in received] == sent
    for r in received:
        await hub.queues.delete(r)
    assert await hub.queues.receive(queue) == []


async def test_bodies_are_raw_utf8_json_with_type_names_and_never_expire(hub: TaskHub):
    await hub.queues.send_work_item(message_for(TaskScheduledEvent(event_id=0, name="hello", input='"é"')))
    async with raw_queue(hub, hub.names.work_item_queue) as q:
        [peeked] = await q.peek_messages()
    body = json.loads(peeked.content)
    assert peeked.content.startswith("{")
    assert body["$type"] == "DurableTask.AzureStorage.MessageData"
    assert body["TaskMessage"]["Event"]["$type"] == "DurableTask.Core.History.TaskScheduledEvent"
    assert body["TaskMessage"]["Event"]["Input"] == '"é"'
    assert body["SequenceNumber"] > 0
    assert peeked.expires_on.year >= 9999


async def test_v1_base64_bodies_are_read_too(hub: TaskHub):
    message = message_for(EventRaisedEvent(name="approve", input='"true"'))
    queue = hub.names.control_queue_for("abc")
    async with raw_queue(hub, queue) as q:
        await q.send_message(base64.b64encode(message.encode().encode()).decode())
    [received] = await hub.queues.receive(queue)
    assert received.data == message


async def test_receive_takes_at_most_32_messages(hub: TaskHub):
    queue = hub.names.control_queue(0)
    for i in range(40):
        await hub.queues.send(queue, message_for(EventRaisedEvent(name=f"e{i}")))
    first = await hub.queues.receive(queue)
    second = await hub.queues.receive(queue)
    assert (len(first), len(second)) == (32, 8)


async def test_delayed_messages_stay_invisible_until_due(hub: TaskHub):
    queue = hub.names.control_queue(1)
    await hub.queues.send(queue, message_for(EventRaisedEvent(name="later")), delay=30)
    assert await hub.queues.receive(queue) == []
    assert (await hub.queues.depth(queue)).count == 1


async def test_a_delay_beyond_seven_days_is_a_clear_error_and_sends_nothing(hub: TaskHub):
    queue = hub.names.control_queue(1)
    with pytest.raises(PayloadLimitError, match="at most 7 days"):
        await hub.queues.send(queue, message_for(EventRaisedEvent(name="x")), delay=8 * 24 * 3600)
    assert (await hub.queues.depth(queue)).count == 0


async def test_abandon_hides_the_message_with_back_off_and_counts_dequeues(hub: TaskHub):
    queue = hub.names.control_queue(2)
    await hub.queues.send(queue, message_for(EventRaisedEvent(name="again")))
    [first] = await hub.queues.receive(queue)
    assert first.dequeue_count == 1
    await hub.queues.abandon(first, delay=0)
    [second] = await hub.queues.receive(queue)
    assert second.dequeue_count == 2 and second.message_id == first.message_id
    await hub.queues.abandon(second)  # 2^2 = 4 s
    assert await hub.queues.receive(queue) == []


async def test_deleting_twice_is_harmless(hub: TaskHub):
    queue = hub.names.control_queue(3)
    await hub.queues.send(queue, message_for(EventRaisedEvent(name="once")))
    [m] = await hub.queues.receive(queue)
    await hub.queues.delete(m)
    await hub.queues.delete(m)


async def test_a_one_megabyte_message_goes_through_a_blob(hub: TaskHub):
    payload = json.dumps("y" * (1024 * 1024))
    event = ExecutionStartedEvent(orchestration_instance=OrchestrationInstance("big", "e1"), name="Big", input=payload)
    message = message_for(event, "big")
    queue = await hub.queues.send_to_instance(message)
    async with raw_queue(hub, queue) as q:
        [peeked] = await q.peek_messages()
    wrapper = json.loads(peeked.content)
    blob = wrapper["CompressedBlobName"]
    assert wrapper["TaskMessage"] is None
    assert blob == f"big/message-{message.activity_id.replace('-', '')}-ExecutionStarted.json.gz"
    stored = json.loads(gzip.decompress(await (await hub.blobs._client.download_blob(blob)).readall()))
    assert stored["CompressedBlobName"] is None
    [received] = await hub.queues.receive(queue)
    assert received.data == message


async def test_an_unreadable_message_is_abandoned_not_returned(hub: TaskHub):
    queue = hub.names.control_queue(0)
    async with raw_queue(hub, queue) as q:
        await q.send_message("this is not a message")
    assert await hub.queues.receive(queue) == []
    assert (await hub.queues.depth(queue)).count == 1


async def test_peek_changes_neither_visibility_nor_dequeue_count(hub: TaskHub):
    queue = hub.names.control_queue(0)
    await hub.queues.send(queue, message_for(EventRaisedEvent(name="look")))
    [(raw, data)] = await hub.queues.peek(queue)
    assert data is not None and data.event.name == "look"
    assert raw.dequeue_count == 0
    [m] = await hub.queues.receive(queue)
    assert m.dequeue_count == 1
