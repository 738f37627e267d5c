"""The three wire forms of history events (host-protocol §2.2, storage-layout §3, §5.4)."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from dfx.model.encoding import (
    format_datetime,
    format_datetime_seconds,
    from_queue_json,
    from_sdk_json,
    from_table_entity,
    parse_datetime,
    to_queue_json,
    to_sdk_json,
    to_table_entity,
)
from dfx.model.history import (
    ExecutionStartedEvent,
    OrchestrationInstance,
    TaskScheduledEvent,
    TimerFiredEvent,
)
from tests.factories import T0, sample_events

ALL = sample_events()


def _types_everywhere(value, path="$"):
    """Yield the paths of JSON objects without a $type."""
    if isinstance(value, dict):
        if "$type" not in value:
            yield path
        for key, item in value.items():
            yield from _types_everywhere(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _types_everywhere(item, f"{path}[{i}]")


@pytest.mark.parametrize("event", ALL, ids=lambda e: e.event_type.name)
def test_every_event_round_trips_through_sdk_json(event):
    wire = json.loads(json.dumps(to_sdk_json(event)))
    assert wire["EventType"] == int(event.event_type)
    assert "$type" not in json.dumps(wire)
    assert from_sdk_json(wire) == event


@pytest.mark.parametrize("event", ALL, ids=lambda e: e.event_type.name)
def test_every_event_round_trips_through_queue_json_with_type_on_every_object(event):
    wire = json.loads(json.dumps(to_queue_json(event)))
    assert wire["$type"] == f"DurableTask.Core.History.{type(event).__name__}"
    assert list(_types_everywhere(wire)) == []
    assert from_queue_json(wire) == event


@pytest.mark.parametrize("event", ALL, ids=lambda e: e.event_type.name)
def test_every_event_round_trips_through_a_table_row(event):
    row = to_table_entity(event, instance_key="abc", row_key="0000000000000000", execution_id="e1")
    assert row["EventType"] == event.event_type.name
    assert row["_Timestamp"] == T0
    assert "Timestamp" not in row
    assert from_table_entity(row) == event


def test_queue_member_order_is_newtonsofts():
    started = to_queue_json(ExecutionStartedEvent(orchestration_instance=OrchestrationInstance("a", "b")))
    assert list(started) == [
        "$type", "OrchestrationInstance", "EventType", "ParentInstance", "Name", "Version", "Input", "Tags",
        "Correlation", "ParentTraceContext", "ScheduledStartTime", "Generation", "GenerateNewTrace",
        "EventId", "IsPlayed", "Timestamp",
    ]  # fmt: skip
    fired = to_queue_json(TimerFiredEvent(timer_id=3, fire_at=T0))
    assert list(fired) == ["$type", "EventType", "TimerId", "FireAt", "EventId", "IsPlayed", "Timestamp"]


def test_table_row_writes_null_objects_as_the_string_null_and_omits_null_strings():
    row = to_table_entity(
        TaskScheduledEvent(event_id=0, name="SayHello"), instance_key="k", row_key="2", execution_id="e"
    )
    assert row["Tags"] == "null"
    assert row["ParentTraceContext"] == "null"
    assert row["Version"] == ""
    assert "Input" not in row
    assert row["EventId"] == 0 and row["IsPlayed"] is False


def test_table_reader_accepts_absent_objects_of_v1_rows():
    row = {"EventType": "ExecutionStarted", "EventId": -1, "IsPlayed": True, "Name": "x", "Version": "",
           "OrchestrationInstance": '{"InstanceId":"a","ExecutionId":"b"}', "_Timestamp": T0}  # fmt: skip
    event = from_table_entity(row)
    assert event.parent_instance is None and event.tags is None


def test_datetimes_use_dotnet_round_trip_text():
    assert format_datetime(datetime(2024, 5, 1, 10, 0, 0, 510000, tzinfo=timezone.utc)) == "2024-05-01T10:00:00.51Z"
    assert format_datetime(datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)) == "2024-05-01T10:00:00Z"
    assert format_datetime_seconds(datetime(2024, 5, 1, 10, 0, 0, 999, tzinfo=timezone.utc)) == "2024-05-01T10:00:00Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00.1234567Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)),
        ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)),
        ("2024-05-01T12:00:00.5+02:00", datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=timezone.utc)),
    ],
)
def test_datetime_parsing_accepts_seven_digits_and_offsets(text, expected):
    assert parse_datetime(text) == expected


def test_naive_and_offset_datetimes_are_written_as_utc():
    local = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(local) == "2024-05-01T10:00:00Z"
    assert format_datetime(datetime(2024, 5, 1, 10, 0)) == "2024-05-01T10:00:00Z"


def test_unknown_event_types_are_refused():
    with pytest.raises(ValueError, match="EventType"):
        from_sdk_json({"EventType": 2, "EventId": -1, "IsPlayed": False, "Timestamp": "2024-05-01T10:00:00Z"})
    with pytest.raises(ValueError, match="Bogus"):
        from_table_entity({"EventType": "Bogus"})
