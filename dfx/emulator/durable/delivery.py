"""How a message reaches an instance's session, and how the session is done with it.

A message comes to a session in one of three ways: received by polling its control queue (``Queued``), put
hidden for this process with the put's pop receipt (``ClaimedAtPut``: a client's start or message, a due
timer), or handed over in memory as the reply of an activity this process ran (``LocalReply``). A session
treats them alike through ``Delivery``: ``settle()`` once the episode that consumed it is committed,
``give_back(delay)`` when it was not consumed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from dfx.emulator.loops import Report
from dfx.emulator.storage.messages import MessageData, ReceivedMessage
from dfx.emulator.storage.queues import HubQueues
from dfx.model.history import HistoryEvent

LOCAL_PREFIX = "local:"


class Delivery(Protocol):
    """A message handed to a session, and how to be done with it."""

    @property
    def id(self) -> str:
        """The message's id: one message is held once per session, however often it is handed over."""
        ...

    @property
    def data(self) -> MessageData: ...

    @property
    def event(self) -> HistoryEvent: ...

    @property
    def dequeue_count(self) -> int: ...

    @property
    def start_admitted(self) -> bool:
        """A client's start whose Instances row this process wrote: it needs no start check."""
        ...

    async def settle(self) -> None:
        """The episode that consumed it is committed: the message goes for good."""
        ...

    async def give_back(self, delay: int | None = None) -> None:
        """It was not consumed: let it come again (after the provider's back-off, or ``delay`` seconds)."""
        ...


@dataclass(eq=False)
class _OnQueue:
    """A message whose copy on its control queue this process holds with a pop receipt."""

    message: ReceivedMessage
    queues: HubQueues

    @property
    def id(self) -> str:
        return self.message.message_id

    @property
    def data(self) -> MessageData:
        return self.message.data

    @property
    def event(self) -> HistoryEvent:
        return self.message.event

    @property
    def dequeue_count(self) -> int:
        return self.message.dequeue_count

    async def settle(self) -> None:
        await self.queues.delete(self.message)

    async def give_back(self, delay: int | None = None) -> None:
        await self.queues.abandon(self.message, delay)


@dataclass(eq=False)
class Queued(_OnQueue):
    """A message received by polling its control queue: deleted when settled, visible again when given back."""

    start_admitted: ClassVar[bool] = False


@dataclass(eq=False)
class ClaimedAtPut(_OnQueue):
    """A message this process put hidden for itself and took with the put's pop receipt (or a delayed one it
    took the same way when due): nobody polls it, and if this process dies it reappears after the visibility
    timeout. Settled and given back like a received one."""

    start_admitted: bool = False


@dataclass(eq=False)
class LocalReply:
    """An activity's reply handed to its session in memory; the work item it answers is deleted once the
    reply is committed.

    It has no queue copy of its own: given back, it goes the usual way (to its control queue, then the work
    item goes). It registers itself in ``outstanding`` until it is settled or given back, so that a host that
    stops can make the rest durable; whichever of the two comes first does its work, the other nothing.
    """

    work_item: ReceivedMessage
    queue_name: str
    data: MessageData
    queues: HubQueues
    outstanding: set[LocalReply]
    id: str = field(default_factory=lambda: f"{LOCAL_PREFIX}{uuid.uuid4().hex}")

    dequeue_count: ClassVar[int] = 1
    start_admitted: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.outstanding.add(self)

    @property
    def event(self) -> HistoryEvent:
        return self.data.event

    def _take(self) -> bool:
        """Whether this call is the one that is done with the reply (the first settle or give-back)."""
        if self not in self.outstanding:
            return False
        self.outstanding.discard(self)
        return True

    async def settle(self) -> None:
        if self._take():
            await self.queues.delete(self.work_item)

    async def give_back(self, delay: int | None = None) -> None:
        if self._take():
            await self.queues.send(self.queue_name, self.data)
            await self.queues.delete(self.work_item)


async def settle_all(batch: Iterable[Delivery]) -> None:
    """Settle consumed messages; one that fails shows again when its visibility timeout ends."""
    await asyncio.gather(*(delivery.settle() for delivery in batch), return_exceptions=True)


async def give_back_all(batch: Iterable[Delivery], report: Report, delay: int | None = None) -> None:
    """Give messages back to their queues (after the provider's back-off, or ``delay`` seconds)."""

    async def give_back(delivery: Delivery) -> None:
        try:
            await delivery.give_back(delay)
        except Exception as exc:  # it shows again when its visibility timeout ends
            report(exc, f"Giving back message {delivery.id}")

    await asyncio.gather(*(give_back(delivery) for delivery in batch))
