"""The entity request sorter: in send order per sender, each request once, labels that survive a re-run."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from dfx.emulator.durable.entities import SchedulerState, request_json
from dfx.emulator.durable.sorter import LABEL_BASE, TICK, Labelled, MessageSorter, request_label

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
WINDOW = timedelta(minutes=30)


def sent(op: str, seq: int, predecessor: datetime | None = None, *, execution: str = "e1", sent_at: datetime = T0):
    """A request as an orchestration labels it (execution start T0, sequence number ``seq``)."""
    stamp = request_label(seq)
    text = request_json(op, input_text='"1"', signal=True, parent="orch", parent_execution=execution,
                        timestamp=stamp, predecessor=predecessor, request_id=f"id-{seq}",
                        predecessor_sent=sent_at if predecessor else None)  # fmt: skip
    return Labelled.of(json.loads(text)), stamp


def ops(sorter: MessageSorter, *requests: Labelled, now: datetime = T0) -> list[str]:
    return [r.body["op"] for request in requests for r in sorter.receive(request, WINDOW, now)]


def test_labels_grow_with_the_sequence_number_alone():
    assert request_label(3) == LABEL_BASE + 4 * TICK
    assert request_label(0) < request_label(1) < request_label(7)


def test_requests_in_order_are_delivered_at_once():
    a, ta = sent("a", 1)
    b, _ = sent("b", 2, ta)
    assert ops(MessageSorter(), a, b) == ["a", "b"]


def test_a_request_whose_predecessor_is_late_waits_for_it():
    a, ta = sent("a", 1)
    b, tb = sent("b", 2, ta)
    c, _ = sent("c", 3, tb)
    sorter = MessageSorter()
    assert ops(sorter, c, b) == []
    assert sorter.buffered_count == 2
    assert ops(sorter, a) == ["a", "b", "c"]
    assert sorter.buffered_count == 0


def test_a_request_delivered_before_is_dropped():
    a, ta = sent("a", 1)
    b, _ = sent("b", 2, ta)
    sorter = MessageSorter()
    assert ops(sorter, a, b) == ["a", "b"]
    assert ops(sorter, a, b) == []


def test_each_execution_of_a_sender_is_ordered_on_its_own():
    old_a, ta = sent("old-a", 1)
    new_a, _ = sent("new-a", 1, execution="e2")
    old_b, _ = sent("old-b", 2, ta)
    sorter = MessageSorter()
    assert ops(sorter, new_a, old_b, old_a) == ["new-a", "old-a", "old-b"]
    assert ops(sorter, old_a, new_a, old_b) == []  # a re-run of either execution applies nothing again


def test_a_predecessor_given_up_on_is_still_delivered_once_when_it_comes():
    a, ta = sent("a", 1)
    b, _ = sent("b", 2, ta)
    sorter = MessageSorter()
    assert ops(sorter, b) == []
    assert [r.body["op"] for r in sorter.expire(T0 + WINDOW, WINDOW)] == ["b"]
    assert ops(sorter, a, a, now=T0 + WINDOW) == ["a"]


def test_client_signals_are_not_sorted():
    client = Labelled.of(json.loads(request_json("add", input_text=None, signal=True)))
    assert ops(MessageSorter(), client, client) == ["add", "add"]


def test_held_back_requests_survive_the_scheduler_state_round_trip():
    a, ta = sent("a", 1)
    b, _ = sent("b", 2, ta)
    state = SchedulerState()
    assert ops(state.sorter, b) == []
    restored = SchedulerState.from_json(state.to_json())
    assert restored.sorter.buffered_count == 1
    assert ops(restored.sorter, a) == ["a", "b"]
    assert ops(restored.sorter, a) == []


def test_a_request_held_back_longer_than_the_window_goes_with_the_next_batch():
    _, ta = sent("a", 1)
    b, _ = sent("b", 2, ta)
    sorter = MessageSorter()
    assert ops(sorter, b) == []
    assert [r.body["op"] for r in sorter.expire(T0 + WINDOW / 2, WINDOW)] == []
    assert [r.body["op"] for r in sorter.expire(T0 + WINDOW, WINDOW)] == ["b"]


def test_a_sender_silent_for_the_window_is_forgotten_and_its_next_request_goes_at_once():
    a, ta = sent("a", 1)
    sorter = MessageSorter()
    assert ops(sorter, a) == ["a"]
    later = T0 + 2 * WINDOW
    assert list(sorter.expire(later, WINDOW)) == [] and not sorter.received
    b, _ = sent("b", 2, ta, sent_at=T0)  # its predecessor was sent long ago: delivered, not waited for
    assert ops(sorter, b, now=later) == ["b"]
