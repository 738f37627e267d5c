"""The timeline's pure parts: spans from history rows, the time axis, and bars laid out on columns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dfx.cli.inspect.gantt import Bar, axis_label, draw_bar, layout_bars
from dfx.cli.inspect.spans import axis_of, spans_of

T0 = datetime(2026, 1, 31, 12, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def row(event_type: str, seconds: float, **columns) -> dict:
    return {"EventType": event_type, "_Timestamp": at(seconds), **columns}


ROWS = [
    row("OrchestratorStarted", 0),
    row("ExecutionStarted", 0, Name="orch"),
    row("TaskScheduled", 0.5, EventId=0, Name="a"),
    row("SubOrchestrationInstanceCreated", 0.5, EventId=1, Name="child", InstanceId="kid"),
    row("TaskCompleted", 2, TaskScheduledId=0),
    row("TimerCreated", 2, EventId=2, FireAt=at(5)),
    row("SubOrchestrationInstanceFailed", 3, TaskScheduledId=1, Reason="no"),
    row("EventRaised", 4, Name="approve"),
    row("TimerFired", 5, TimerId=2, FireAt=at(5)),
    row("TaskScheduled", 5, EventId=3, Name="b"),
]


def test_spans_pair_each_opening_row_with_its_answer_by_event_id():
    spans = spans_of(ROWS)
    assert [(s.kind, s.name, s.status, s.start, s.end) for s in spans] == [
        ("activity", "a", "Completed", at(0.5), at(2)),
        ("sub-orchestration", "child", "Failed", at(0.5), at(3)),
        ("timer", "timer", "Fired", at(2), at(5)),
        ("event", "approve", "Raised", at(4), at(4)),
        ("activity", "b", "Running", at(5), None),
    ]
    assert spans[1].instance_id == "kid" and spans[2].fire_at == at(5) and spans[4].is_open


def test_a_fired_timer_ends_when_the_orchestration_got_it_not_at_its_messages_creation():
    rows = [
        row("TimerCreated", 1, EventId=0, FireAt=at(4)),
        row("OrchestratorStarted", 6.5),
        row("TimerFired", 1, TimerId=0, FireAt=at(4)),
    ]
    [timer] = spans_of(rows)
    assert (timer.start, timer.end, timer.status) == (at(1), at(6.5), "Fired"), "delivered 2.5 s late"
    [without_episode] = spans_of([rows[0], rows[2]])
    assert without_episode.end == at(4), "its FireAt when no episode start is known"


def test_an_unfired_timer_is_waiting_and_open():
    [timer] = spans_of([row("TimerCreated", 1, EventId=0, FireAt=at(60))])
    assert (timer.status, timer.end) == ("Waiting", None)


def test_a_running_execution_has_its_axis_end_at_now():
    axis = axis_of(ROWS, now=at(9))
    assert (axis.start, axis.end, axis.running, axis.seconds) == (T0, at(9), True, 9)


def test_a_finished_execution_has_its_axis_end_at_its_last_row():
    finished = [*ROWS, row("TaskCompleted", 6, TaskScheduledId=3), row("ExecutionCompleted", 6.5)]
    axis = axis_of(finished, now=at(100))
    assert (axis.end, axis.running) == (at(6.5), False)
    assert axis_of([], now=T0) is None


def test_bars_are_placed_on_the_scale_of_the_axis():
    bars = layout_bars([(0.0, 10.0), (2.5, 5.0), (9.0, None)], total=10.0, width=40)
    assert bars == [Bar(0, 40), Bar(10, 10), Bar(36, 4, open=True)]


def test_every_span_covers_at_least_one_column_even_an_instant():
    assert layout_bars([(5.0, 5.0), (10.0, 10.0)], total=10.0, width=20) == [Bar(10, 1), Bar(19, 1)]


def test_times_outside_the_axis_are_clipped_to_it():
    assert layout_bars([(-1.0, 3.0), (8.0, 15.0)], total=10.0, width=10) == [Bar(0, 3), Bar(8, 2)]


def test_an_axis_of_no_length_puts_everything_in_the_first_column():
    assert layout_bars([(0.0, 0.0), (0.0, None)], total=0.0, width=10) == [Bar(0, 1), Bar(0, 1, open=True)]


def test_a_timeline_needs_a_column():
    with pytest.raises(ValueError):
        layout_bars([(0.0, 1.0)], total=1.0, width=0)


def test_bars_are_drawn_as_blanks_then_blocks_open_ones_light_ending_in_an_arrow():
    assert draw_bar(Bar(2, 3), 8) == "  ███   "
    assert draw_bar(Bar(1, 4, open=True), 6) == " ░░░▶ "
    assert draw_bar(Bar(3, 1), 5, instant=True) == "   ◆ "


def test_the_axis_label_spans_the_bar_column():
    assert axis_label("6.0 s", 12) == "0s·····6.0 s"
    assert len(axis_label("12.3 s (now)", 40)) == 40
    assert axis_label("a very long total", 5) == "a ver"
