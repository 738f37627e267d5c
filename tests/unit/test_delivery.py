"""The three ways a message reaches a session, behind one interface: settle() and give_back()."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from dfx.emulator.durable.delivery import (
    LOCAL_PREFIX,
    ClaimedAtPut,
    Delivery,
    LocalReply,
    Queued,
    give_back_all,
    settle_all,
)
from dfx.emulator.storage.messages import MessageData, ReceivedMessage, TaskMessage
from dfx.emulator.storage.queues import HubQueues
from dfx.model.history import OrchestrationInstance, TaskCompletedEvent, TaskFailedEvent, TaskScheduledEvent


class FakeQueues:
    """What a delivery asks of the hub's queues, written down instead of done."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail = fail

    async def delete(self, message: ReceivedMessage) -> None:
        self.calls.append(("delete", message.message_id, message.pop_receipt))
        if self.fail:
            raise OSError("storage said no")

    async def abandon(self, message: ReceivedMessage, delay: int | None = None) -> None:
        self.calls.append(("abandon", message.message_id, delay))
        if self.fail:
            raise OSError("storage said no")

    async def send(self, queue_name: str, message: MessageData, delay: float | None = None) -> None:
        self.calls.append(("send", queue_name, message.event.event_type.name))


def received(message_id: str, data: MessageData, queue: str = "hub-control-00", dequeue_count: int = 1):
    return ReceivedMessage(data=data, queue_name=queue, message_id=message_id, pop_receipt=f"receipt-{message_id}",
                           dequeue_count=dequeue_count, inserted_on=None, next_visible_on=None)  # fmt: skip


TARGET = OrchestrationInstance("i1", "e1")
REPLY = MessageData(TaskMessage(TaskCompletedEvent(task_scheduled_id=0, result='"ok"'), TARGET))
WORK = MessageData(TaskMessage(TaskScheduledEvent(event_id=0, name="hello"), TARGET))


def hub_queues(fake: FakeQueues) -> HubQueues:
    return cast(HubQueues, fake)


def test_a_queued_message_is_deleted_when_settled_and_abandoned_when_given_back():
    queues = FakeQueues()
    delivery: Delivery = Queued(received("m1", REPLY, dequeue_count=3), hub_queues(queues))
    assert (delivery.id, delivery.dequeue_count, delivery.event, delivery.start_admitted) == (
        "m1", 3, REPLY.event, False,
    )  # fmt: skip
    asyncio.run(delivery.give_back(7))
    asyncio.run(delivery.give_back())
    asyncio.run(delivery.settle())
    assert queues.calls == [("abandon", "m1", 7), ("abandon", "m1", None), ("delete", "m1", "receipt-m1")]


def test_a_message_claimed_at_put_is_settled_with_the_puts_receipt_and_may_be_an_admitted_start():
    queues = FakeQueues()
    admitted: Delivery = ClaimedAtPut(received("m2", REPLY), hub_queues(queues), start_admitted=True)
    plain: Delivery = ClaimedAtPut(received("m3", REPLY), hub_queues(queues))
    assert admitted.start_admitted and not plain.start_admitted
    asyncio.run(settle_all([admitted]))
    asyncio.run(give_back_all([plain], report=lambda exc, doing: None, delay=0))
    assert queues.calls == [("delete", "m2", "receipt-m2"), ("abandon", "m3", 0)]


def test_a_local_reply_settled_deletes_the_work_item_it_answers_once():
    queues, outstanding = FakeQueues(), set[LocalReply]()
    work_item = received("w1", WORK, queue="hub-workitems")
    reply = LocalReply(work_item, "hub-control-00", REPLY, hub_queues(queues), outstanding)
    other = LocalReply(work_item, "hub-control-00", REPLY, hub_queues(queues), outstanding)
    assert reply.id.startswith(LOCAL_PREFIX) and reply.id != other.id
    assert (reply.dequeue_count, reply.event, reply.start_admitted) == (1, REPLY.event, False)
    assert outstanding == {reply, other}
    asyncio.run(reply.settle())
    asyncio.run(reply.settle())
    asyncio.run(reply.give_back())
    assert queues.calls == [("delete", "w1", "receipt-w1")]
    assert outstanding == {other}


def test_a_local_reply_given_back_goes_to_its_queue_before_its_work_item_goes():
    queues, outstanding = FakeQueues(), set[LocalReply]()
    reply = LocalReply(received("w1", WORK, queue="hub-workitems"), "hub-control-02", REPLY, hub_queues(queues),
                       outstanding)  # fmt: skip
    asyncio.run(reply.give_back(5))
    asyncio.run(reply.settle())
    assert queues.calls == [("send", "hub-control-02", "TaskCompleted"), ("delete", "w1", "receipt-w1")]
    assert not outstanding


def test_failures_to_give_back_are_reported_and_failures_to_settle_are_left_to_the_visibility_timeout():
    queues = FakeQueues(fail=True)
    reported: list[str] = []
    batch: list[Delivery] = [Queued(received("m1", REPLY), hub_queues(queues)),
                             ClaimedAtPut(received("m2", REPLY), hub_queues(queues))]  # fmt: skip
    asyncio.run(give_back_all(batch, report=lambda exc, doing: reported.append(f"{doing}: {exc}")))
    asyncio.run(settle_all(batch))
    assert reported == ["Giving back message m1: storage said no", "Giving back message m2: storage said no"]
    assert [c[0] for c in queues.calls] == ["abandon", "abandon", "delete", "delete"]


def test_a_session_sorts_deliveries_of_every_kind_alike_by_the_tasks_they_answer():
    from dfx.emulator.durable.sessions import OUT_OF_ORDER_GRACE, split_batch
    from dfx.model.history import ExecutionStartedEvent, OrchestratorStartedEvent, TimerFiredEvent

    queues, outstanding = FakeQueues(), set[LocalReply]()
    past = [
        OrchestratorStartedEvent(),
        ExecutionStartedEvent(orchestration_instance=TARGET, name="o"),
        TaskScheduledEvent(event_id=0, name="hello"),
        TaskScheduledEvent(event_id=1, name="hello"),
        TaskCompletedEvent(task_scheduled_id=1),
    ]

    def answer(event, target=TARGET) -> MessageData:
        return MessageData(TaskMessage(event, target))

    local = LocalReply(received("w0", WORK, queue="hub-workitems"), "hub-control-00", REPLY, hub_queues(queues),
                       outstanding)  # fmt: skip
    twin = Queued(received("m0", REPLY), hub_queues(queues))  # the same reply, also put on the queue
    again = ClaimedAtPut(received("m1", answer(TaskCompletedEvent(task_scheduled_id=1))), hub_queues(queues))
    unknown = Queued(received("m2", answer(TaskCompletedEvent(task_scheduled_id=5))), hub_queues(queues))
    late = OUT_OF_ORDER_GRACE + 1
    given_up = Queued(
        received("m3", answer(TaskFailedEvent(task_scheduled_id=6)), dequeue_count=late), hub_queues(queues)
    )
    timer = Queued(received("m4", answer(TimerFiredEvent(timer_id=9))), hub_queues(queues))
    earlier_execution = OrchestrationInstance("i1", "e0")
    other = Queued(
        received("m5", answer(TaskCompletedEvent(task_scheduled_id=0), earlier_execution)), hub_queues(queues)
    )
    kept, stale, early = split_batch([local, twin, again, unknown, given_up, timer, other], past, "e1")
    assert kept == [local, timer]
    assert stale == [twin, again, given_up, other]
    assert early == [unknown]
