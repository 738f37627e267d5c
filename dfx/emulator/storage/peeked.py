"""A message seen at the head of a queue by a peek: what the queue says about it and what its envelope carries.

Pure: ``dfx inspect queues`` and ``dfx doctor`` build these from ``HubQueues.peek``'s answers. The envelope
decoding loads only when a message is built, so that the CLI can import the constants and the type cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dfx.emulator.storage.messages import MessageData

PEEK_LIMIT = 32
"""Azure Queue's limit for one peek: a peek that returns fewer saw every visible message."""
POISON_DEQUEUES = 5
"""A message dequeued this often keeps failing: a host takes it and fails before finishing (a poison message)."""


@dataclass(frozen=True)
class PeekedMessage:
    """A peeked queue message: its queue, id, insertion time and dequeue count, and the event it carries."""

    queue_name: str
    message_id: str
    inserted_on: datetime | None
    dequeue_count: int
    event_type: str | None
    """None when the body is not a task hub message."""
    instance_id: str | None = None
    name: str | None = None
    """The activity, orchestration or event name the message carries."""
    event_id: int = -1
    answers_id: int | None = None
    """TaskScheduledId / TimerId of a completion or timer message."""
    execution_id: str | None = None
    sequence_number: int | None = None
    fire_at: datetime | None = None
    """When a timer message fires."""
    in_blob: bool = False
    """The body is in the large-message container; the queue holds only the blob's name."""

    def age_seconds(self, now: datetime) -> float | None:
        """Seconds since the message was put (None when the queue did not say)."""
        return max((now - self.inserted_on).total_seconds(), 0.0) if self.inserted_on else None


def peeked_message(queue_name: str, raw: Any, data: MessageData | None) -> PeekedMessage:
    """A peeked message from the queue SDK's message and its decoded envelope (None when unreadable)."""
    from dfx.emulator.storage.messages import MessageFormatError, decode_body
    from dfx.model.encoding import to_utc

    inserted = to_utc(raw.inserted_on) if raw.inserted_on else None
    try:
        in_blob = bool(decode_body(str(raw.content)).get("CompressedBlobName"))
    except MessageFormatError:
        in_blob = False
    seen = (queue_name, str(raw.id), inserted, int(raw.dequeue_count or 0))
    if data is None:
        return PeekedMessage(*seen, event_type=None, in_blob=in_blob)
    event = data.event
    fire_at = getattr(event, "fire_at", None)
    return PeekedMessage(
        *seen,
        event_type=event.event_type.name,
        instance_id=data.target.instance_id,
        name=getattr(event, "name", None),
        event_id=event.event_id,
        answers_id=getattr(event, "task_scheduled_id", getattr(event, "timer_id", None)),
        execution_id=data.target.execution_id,
        sequence_number=data.sequence_number,
        fire_at=fire_at if isinstance(fire_at, datetime) else None,
        in_blob=in_blob,
    )
