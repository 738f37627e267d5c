"""Ordering and de-duplication of entity requests (the extension's message sorter), as pure functions.

An orchestration labels every request it sends to an entity with a ``Timestamp`` and, from its second
request to the same entity on, a ``Predecessor``: the label of the previous one. The entity delivers a
request only after its predecessor, holds it back in its scheduler state until then, and drops a request
whose label it has delivered before. So a signal hidden by a host that died is never overtaken by the
operations sent after it, and an episode that runs again after a lost commit cannot apply anything twice.

The extension labels with the orchestration's current time, which an episode run again does not share.
Here a label is a fixed base plus the request's sequence number in microseconds: the same for every run of
an episode (pipelined runs, continue-as-new and child starts included), and increasing in send order within
an execution. So the sorter keeps one receive buffer per sending *execution*. Since labels are not times,
the reorder window (``entityMessageReorderWindowInMinutes``) is kept on the entity's own clock: a sending
execution not heard from for that long is forgotten; requests held back that long for a predecessor are
delivered anyway; and so is a request whose predecessor was decided longer ago than that
(``PredecessorSentAt``), since a sender forgotten meanwhile cannot be told from one never heard of.
Messages from clients are not sorted, as in the extension.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from dfx.model.encoding import parse_datetime, to_utc

TICK = timedelta(microseconds=1)
#: Where labels count from: an ordering label, not a time (written as a .NET DateTime, as the extension's are).
LABEL_BASE = datetime(2000, 1, 1, tzinfo=timezone.utc)
#: How Newtonsoft writes ``DateTime.MinValue``, the "nothing delivered yet" mark of a receive buffer.
MIN_VALUE_TEXT = "0001-01-01T00:00:00"


def format_label(value: datetime) -> str:
    """A label as .NET writes a DateTime round-trip (seven fraction digits), so labels sort as text too."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def request_label(sequence_number: int) -> datetime:
    """The ``Timestamp`` of the request an orchestration sends with ``sequence_number`` (see the module text)."""
    return LABEL_BASE + (sequence_number + 1) * TICK


def _parse_optional(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


@dataclass
class Labelled:
    """What the sorter needs of a request: who sent it, its labels, and the request itself (kept as sent)."""

    parent: str | None
    parent_execution: str | None
    timestamp: datetime | None
    predecessor: datetime | None
    predecessor_sent: datetime | None
    body: dict[str, Any]

    @classmethod
    def of(cls, body: dict[str, Any]) -> Labelled:
        return cls(
            parent=body.get("parent"),
            parent_execution=body.get("parentExecution"),
            timestamp=_parse_optional(body.get("Timestamp")),
            predecessor=_parse_optional(body.get("Predecessor")),
            predecessor_sent=_parse_optional(body.get("PredecessorSentAt")),
            body=body,
        )


@dataclass
class ReceiveBuffer:
    """What an entity remembers of one sending execution: the last label delivered, the requests waiting for a
    predecessor (by label), labels given up on (delivered if they still come), and when it last heard from
    the sender and began holding back."""

    last: datetime | None = None
    execution_id: str | None = None
    buffered: dict[datetime, Labelled] = field(default_factory=dict)
    skipped: set[datetime] = field(default_factory=set)
    heard: datetime | None = None
    holding_since: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"Last": format_label(self.last) if self.last else MIN_VALUE_TEXT}
        if self.execution_id is not None:
            data["ExecutionId"] = self.execution_id
        if self.buffered:
            data["Buffered"] = {format_label(k): v.body for k, v in sorted(self.buffered.items())}
        if self.skipped:
            data["Skipped"] = [format_label(k) for k in sorted(self.skipped)]
        if self.heard is not None:
            data["Heard"] = format_label(self.heard)
        if self.holding_since is not None:
            data["HoldingSince"] = format_label(self.holding_since)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReceiveBuffer:
        buffered = {}
        for body in (data.get("Buffered") or {}).values():
            request = Labelled.of(body)
            if request.timestamp is not None:
                buffered[request.timestamp] = request
        return cls(
            last=_parse_optional(data.get("Last")),
            execution_id=data.get("ExecutionId"),
            buffered=buffered,
            skipped={t for t in map(_parse_optional, data.get("Skipped") or []) if t is not None},
            heard=_parse_optional(data.get("Heard")),
            holding_since=_parse_optional(data.get("HoldingSince")),
        )

    def drain(self) -> Iterator[Labelled]:
        """Deliver held-back requests, in label order, as long as each one's predecessor has been delivered."""
        while self.buffered:
            first = min(self.buffered)
            predecessor = self.buffered[first].predecessor
            if predecessor is not None and (self.last is None or predecessor > self.last):
                return
            self.last = first
            yield self.buffered.pop(first)
        self.holding_since = None

    def release(self) -> Iterator[Labelled]:
        """Deliver everything held back, in label order, predecessors or not (a missing predecessor that comes
        later is still delivered once)."""
        for label in sorted(self.buffered):
            request = self.buffered.pop(label)
            if request.predecessor is not None and (self.last is None or request.predecessor > self.last):
                self.skipped.add(request.predecessor)
            self.last = label
            yield request
        self.holding_since = None


@dataclass
class MessageSorter:
    """The receiving side of an entity's sorter, stored as ``sorter`` in its scheduler state."""

    received: dict[str, ReceiveBuffer] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ReceivedFromInstance": {k: v.to_json() for k, v in self.received.items()}} if self.received else {}

    @classmethod
    def from_json(cls, data: Any) -> MessageSorter:
        if not isinstance(data, dict):
            return cls()
        return cls({str(k): ReceiveBuffer.from_json(v) for k, v in (data.get("ReceivedFromInstance") or {}).items()})

    @property
    def buffered_count(self) -> int:
        return sum(len(b.buffered) for b in self.received.values())

    def expire(self, now: datetime, window: timedelta) -> Iterator[Labelled]:
        """Requests held back longer than ``window`` go now; senders silent for that long are forgotten."""
        for parent in list(self.received):
            buffer = self.received[parent]
            if buffer.holding_since is not None and buffer.holding_since + window <= now:
                yield from buffer.release()
            if not buffer.buffered and (buffer.heard is None or buffer.heard + window <= now):
                del self.received[parent]

    def receive(self, request: Labelled, window: timedelta, now: datetime) -> Iterator[Labelled]:
        """The requests ``request`` makes deliverable, in order: none (a duplicate, or held back), itself,
        or itself followed by requests it was holding up."""
        if not window or request.parent is None or request.timestamp is None:
            yield request
            return
        key = f"{request.parent}:{request.parent_execution}"  # execution ids have no ':'
        buffer = self.received.setdefault(key, ReceiveBuffer(execution_id=request.parent_execution))
        buffer.heard = now
        if request.timestamp in buffer.skipped:
            buffer.skipped.discard(request.timestamp)
            yield request  # given up on when its successors were released, and delivered now that it came
            return
        if buffer.last is not None and request.timestamp <= buffer.last:
            return  # delivered before: a duplicate
        if request.timestamp in buffer.buffered:
            return  # held back already
        predecessor = request.predecessor
        recent = request.predecessor_sent is None or request.predecessor_sent + window > now
        if predecessor is not None and (buffer.last is None or predecessor > buffer.last) and recent:
            buffer.buffered[request.timestamp] = request  # its predecessor has not been delivered yet
            buffer.holding_since = buffer.holding_since or now
            return
        yield request
        buffer.last = request.timestamp
        yield from buffer.drain()
