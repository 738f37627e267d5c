"""Ordering and de-duplication of entity requests (the extension's message sorter), as pure functions.

An orchestration labels every request it sends to an entity with a ``Timestamp`` and, from its second
request to the same entity on, a ``Predecessor``: the label of the previous one. The entity delivers a
request only after its predecessor, holds it back in its scheduler state until then, and drops a request
whose label it has delivered before. So a signal hidden by a host that died is never overtaken by the
operations sent after it, and an episode that runs again after a lost commit cannot apply anything twice.

The extension labels with the orchestration's current time, which a re-run episode does not share. Here
the label is the start time of the last *committed* episode (or of the execution) plus the request's
sequence number in microseconds, raised past the predecessor when clocks disagree: the same for every
run of an episode, monotonic per execution and destination, and close to real time so that the
extension's reorder window keeps its meaning. Messages from clients, and requests older than the window,
pass through unsorted, as in the extension.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dfx.emulator.durable.encoding import parse_datetime, to_utc

TICK = timedelta(microseconds=1)
#: How often the receive horizon may move (the extension's minimum interval between collections).
HORIZON_STEP = timedelta(seconds=10)
#: How Newtonsoft writes ``DateTime.MinValue``, the "nothing delivered yet" mark of a receive buffer.
MIN_VALUE_TEXT = "0001-01-01T00:00:00"


def format_label(value: datetime) -> str:
    """A label as .NET writes a DateTime round-trip (seven fraction digits), so labels sort as text too."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def request_label(base: datetime, sequence_number: int, predecessor: datetime | None) -> datetime:
    """The ``Timestamp`` of the request an orchestration sends with ``sequence_number`` (see the module text)."""
    stamp = base + sequence_number * TICK
    if predecessor is not None and stamp <= predecessor:
        stamp = predecessor + TICK
    return stamp


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
    body: dict[str, Any]

    @classmethod
    def of(cls, body: dict[str, Any]) -> Labelled:
        return cls(
            parent=body.get("parent"),
            parent_execution=body.get("parentExecution"),
            timestamp=_parse_optional(body.get("Timestamp")),
            predecessor=_parse_optional(body.get("Predecessor")),
            body=body,
        )


@dataclass
class ReceiveBuffer:
    """What an entity remembers of one sending orchestration: its execution, the last label delivered,
    and the requests waiting for a predecessor (by label)."""

    last: datetime | None = None
    execution_id: str | None = None
    buffered: dict[datetime, Labelled] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"Last": format_label(self.last) if self.last else MIN_VALUE_TEXT}
        if self.execution_id is not None:
            data["ExecutionId"] = self.execution_id
        if self.buffered:
            data["Buffered"] = {format_label(k): v.body for k, v in sorted(self.buffered.items())}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReceiveBuffer:
        buffered = {}
        for body in (data.get("Buffered") or {}).values():
            request = Labelled.of(body)
            if request.timestamp is not None:
                buffered[request.timestamp] = request
        return cls(_parse_optional(data.get("Last")), data.get("ExecutionId"), buffered)


@dataclass
class MessageSorter:
    """The receiving side of an entity's sorter, stored as ``sorter`` in its scheduler state."""

    received: dict[str, ReceiveBuffer] = field(default_factory=dict)
    receive_horizon: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.received:
            data["ReceivedFromInstance"] = {k: v.to_json() for k, v in self.received.items()}
        if self.receive_horizon is not None:
            data["ReceiveHorizon"] = format_label(self.receive_horizon)
        return data

    @classmethod
    def from_json(cls, data: Any) -> MessageSorter:
        if not isinstance(data, dict):
            return cls()
        received = {str(k): ReceiveBuffer.from_json(v) for k, v in (data.get("ReceivedFromInstance") or {}).items()}
        return cls(received, _parse_optional(data.get("ReceiveHorizon")))

    @property
    def buffered_count(self) -> int:
        return sum(len(b.buffered) for b in self.received.values())

    def _after_horizon(self, stamp: datetime | None) -> bool:
        return stamp is not None and (self.receive_horizon is None or stamp >= self.receive_horizon)

    def receive(self, request: Labelled, window: timedelta) -> Iterator[Labelled]:
        """The requests ``request`` makes deliverable, in order: none (a duplicate, or held back), itself,
        or itself followed by requests it was holding up."""
        if not window or request.parent is None or request.timestamp is None:
            yield request
            return
        if self.receive_horizon is None or self.receive_horizon + window + HORIZON_STEP < request.timestamp:
            yield from self._advance_horizon(request.timestamp - window)
        if not self._after_horizon(request.timestamp):
            yield request  # older than the window: not sorted
            return
        buffer = self.received.setdefault(request.parent, ReceiveBuffer(execution_id=request.parent_execution))
        if buffer.execution_id != request.parent_execution:
            # a new execution of the sender: what the old one left waiting goes now, and counting starts over
            yield from (buffer.buffered[k] for k in sorted(buffer.buffered))
            buffer.buffered.clear()
            buffer.last = None
            buffer.execution_id = request.parent_execution
        if buffer.last is not None and request.timestamp <= buffer.last:
            return  # delivered before: a duplicate
        predecessor = request.predecessor
        if (
            predecessor is not None
            and (buffer.last is None or predecessor > buffer.last)
            and (self._after_horizon(predecessor))
        ):
            buffer.buffered[request.timestamp] = request  # its predecessor has not been delivered yet
            return
        yield request
        buffer.last = request.timestamp
        yield from self._drain(buffer)

    def _drain(self, buffer: ReceiveBuffer) -> Iterator[Labelled]:
        while buffer.buffered:
            first = min(buffer.buffered)
            waiting = buffer.buffered[first]
            predecessor = waiting.predecessor
            ready = predecessor is None or (buffer.last is not None and predecessor <= buffer.last)
            if not ready and self._after_horizon(predecessor):
                return
            del buffer.buffered[first]
            buffer.last = first
            yield waiting

    def _advance_horizon(self, horizon: datetime) -> Iterator[Labelled]:
        """Move the horizon: requests held back longer than the window go now, and senders not heard from
        within it are forgotten."""
        self.receive_horizon = horizon
        for parent in list(self.received):
            buffer = self.received[parent]
            if buffer.last is not None and buffer.last < horizon:
                buffer.last = None
            yield from self._drain(buffer)
            if buffer.last is None and not buffer.buffered:
                del self.received[parent]
