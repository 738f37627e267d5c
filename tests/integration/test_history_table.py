"""The History table against Azurite: the exact rows of storage-layout §3, checkpoints and conflicts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from azure.data.tables.aio import TableClient

from dfx.emulator.storage import CheckpointConflictError, TaskHub
from dfx.emulator.storage.keys import escape_partition_key
from dfx.model.history import (
    ExecutionCompletedEvent,
    ExecutionStartedEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    TaskCompletedEvent,
    TaskScheduledEvent,
    utcnow,
)
from tests.factories import sample_events

pytestmark = pytest.mark.azurite

EID = "4a1b9c0e2f7d4e3c8b5a6d7e8f9a0b1c"


async def raw_rows(hub: TaskHub, instance_id: str) -> list[dict]:
    """The partition exactly as stored, read with a plain SDK client (no dfx decoding)."""
    async with TableClient.from_connection_string(hub.account.connection_string(), hub.names.history_table) as table:
        key = escape_partition_key(instance_id)
        rows = [e async for e in table.query_entities("PartitionKey eq @pk", parameters={"pk": key})]
    return sorted(rows, key=lambda r: r["RowKey"])


def first_episode(instance_id: str, t0: datetime) -> list:
    return [
        OrchestratorStartedEvent(timestamp=t0),
        ExecutionStartedEvent(
            orchestration_instance=OrchestrationInstance(instance_id, EID),
            name="Hello",
            input='"Tokyo"',
            generation=0,
            is_played=True,
            timestamp=t0 - timedelta(milliseconds=20),
        ),
        TaskScheduledEvent(event_id=0, name="SayHello", timestamp=t0),
        OrchestratorCompletedEvent(timestamp=t0),
    ]


def second_episode(t1: datetime) -> list:
    return [
        OrchestratorStartedEvent(timestamp=t1),
        TaskCompletedEvent(task_scheduled_id=0, result='"Hello Tokyo!"', is_played=True, timestamp=t1),
        ExecutionCompletedEvent(
            event_id=1,
            orchestration_status=OrchestrationStatus.Completed,
            result='"Hello Tokyo!"',
            timestamp=t1,
        ),
        OrchestratorCompletedEvent(timestamp=t1),
    ]


# Edm types as the Python SDK hands them back: str -> Edm.String, bool -> Edm.Boolean,
# int -> Edm.Int32 (an Int64 would come back as an EntityProperty), datetime -> Edm.DateTime.
S, B, INT, D = str, bool, int, datetime
COMMON = {
    "PartitionKey": S,
    "RowKey": S,
    "ExecutionId": S,
    "EventType": S,
    "EventId": INT,
    "IsPlayed": B,
    "_Timestamp": D,
}
EXPECTED = [
    ("0000000000000000", "OrchestratorStarted", -1, False, {}),
    (
        "0000000000000001",
        "ExecutionStarted",
        -1,
        True,
        {
            "OrchestrationInstance": (S, None),
            "ParentInstance": (S, "null"),
            "Name": (S, "Hello"),
            "Version": (S, ""),
            "Input": (S, '"Tokyo"'),
            "Tags": (S, "null"),
            "ParentTraceContext": (S, "null"),
            "Generation": (INT, 0),
            "GenerateNewTrace": (B, False),
        },
    ),
    (
        "0000000000000002",
        "TaskScheduled",
        0,
        False,
        {"Name": (S, "SayHello"), "Version": (S, ""), "Tags": (S, "null"), "ParentTraceContext": (S, "null")},
    ),
    ("0000000000000003", "OrchestratorCompleted", -1, False, {}),
    ("0000000000000004", "OrchestratorStarted", -1, False, {}),
    (
        "0000000000000005",
        "TaskCompleted",
        -1,
        True,
        {"TaskScheduledId": (INT, 0), "Result": (S, '"Hello Tokyo!"')},
    ),
    (
        "0000000000000006",
        "ExecutionCompleted",
        1,
        False,
        {
            "OrchestrationStatus": (S, "Completed"),
            "Result": (S, '"Hello Tokyo!"'),
            "FailureDetails": (S, "null"),
        },
    ),
    ("0000000000000007", "OrchestratorCompleted", -1, False, {}),
]


async def test_the_one_activity_example_is_stored_exactly_as_the_provider_stores_it(hub: TaskHub):
    instance_id = "hello-3.11"
    t0 = utcnow()
    first = await hub.history.append(instance_id, EID, first_episode(instance_id, t0), start_index=0, etag=None)
    second = await hub.history.append(
        instance_id, EID, second_episode(t0 + timedelta(seconds=1)), start_index=4, etag=first.etag
    )
    assert second.etag != first.etag

    rows = await raw_rows(hub, instance_id)
    assert [r["RowKey"] for r in rows] == [e[0] for e in EXPECTED] + ["sentinel"]
    for row, (row_key, event_type, event_id, is_played, extra) in zip(rows, EXPECTED, strict=False):
        columns = set(row) - {"Timestamp"}
        assert columns == set(COMMON) | set(extra), f"{row_key}: columns {sorted(columns)}"
        for column, kind in COMMON.items():
            assert isinstance(row[column], kind), f"{row_key}.{column} is {type(row[column])}"
        assert row["PartitionKey"] == instance_id
        assert (row["EventType"], row["EventId"], row["IsPlayed"], row["ExecutionId"]) == (
            event_type, event_id, is_played, EID
        )  # fmt: skip
        for column, (kind, value) in extra.items():
            assert type(row[column]) is kind, f"{row_key}.{column} is {type(row[column])}"
            if value is not None:
                assert row[column] == value, f"{row_key}.{column}"
    started = rows[1]
    assert json.loads(started["OrchestrationInstance"]) == {"InstanceId": instance_id, "ExecutionId": EID}
    assert "Input" not in rows[2], "activity inputs are not stored in TaskScheduled rows"
    assert rows[1]["_Timestamp"] < rows[0]["_Timestamp"], "_Timestamp is the event's own time"

    sentinel = rows[-1]
    assert set(sentinel) - {"Timestamp"} == {
        "PartitionKey", "RowKey", "ExecutionId", "IsCheckpointComplete", "CheckpointCompletedTimestamp"
    }  # fmt: skip
    assert sentinel["ExecutionId"] == EID
    assert sentinel["IsCheckpointComplete"] is True
    assert isinstance(sentinel["CheckpointCompletedTimestamp"], datetime)
    assert sentinel.metadata["etag"] == second.etag


async def test_reading_back_gives_the_events_and_the_sentinel_etag(hub: TaskHub):
    t0 = utcnow()
    events = first_episode("i1", t0) + second_episode(t0)
    result = await hub.history.append("i1", EID, events, start_index=0, etag=None)
    history = await hub.history.read("i1")
    assert history.events == events
    assert history.execution_id == EID
    assert history.etag == result.etag
    assert history.episode == 2


async def test_every_event_type_round_trips_through_the_table(hub: TaskHub):
    events = sample_events()
    await hub.history.append("all-types", EID, events, start_index=0, etag=None)
    assert (await hub.history.read("all-types")).events == events


async def test_a_stale_etag_raises_the_conflict_error_and_writes_nothing(hub: TaskHub):
    t0 = utcnow()
    first = await hub.history.append("c1", EID, first_episode("c1", t0), start_index=0, etag=None)
    await hub.history.append("c1", EID, second_episode(t0), start_index=4, etag=first.etag)
    before = await raw_rows(hub, "c1")
    with pytest.raises(CheckpointConflictError, match="another writer"):
        await hub.history.append("c1", EID, second_episode(t0)[:1] * 3, start_index=8, etag=first.etag)
    after = await raw_rows(hub, "c1")
    assert [(r["RowKey"], r.metadata["etag"]) for r in after] == [(r["RowKey"], r.metadata["etag"]) for r in before]


async def test_a_second_first_checkpoint_conflicts_on_the_sentinel_insert(hub: TaskHub):
    t0 = utcnow()
    await hub.history.append("c2", EID, first_episode("c2", t0), start_index=0, etag=None)
    with pytest.raises(CheckpointConflictError):
        await hub.history.append("c2", "other", first_episode("c2", t0), start_index=0, etag=None)
    assert (await hub.history.read("c2")).execution_id == EID


async def test_a_checkpoint_after_a_purge_conflicts_and_writes_nothing(hub: TaskHub):
    t0 = utcnow()
    first = await hub.history.append("c3", EID, first_episode("c3", t0), start_index=0, etag=None)
    await hub.history.delete_instance("c3")  # what a purge does to the History rows
    with pytest.raises(CheckpointConflictError):
        await hub.history.append("c3", EID, second_episode(t0), start_index=4, etag=first.etag)
    assert await raw_rows(hub, "c3") == []


async def test_large_checkpoints_are_split_into_batches_of_99_events_plus_sentinel(hub: TaskHub):
    t0 = utcnow()
    events = first_episode("big", t0)[:2] + [
        TaskScheduledEvent(event_id=i, name="noop", timestamp=t0) for i in range(248)
    ]
    await hub.history.append("big", EID, events, start_index=0, etag=None)
    history = await hub.history.read("big")
    assert len(history.events) == 250
    rows = await raw_rows(hub, "big")
    assert rows[-1]["IsCheckpointComplete"] is True
    assert rows[-2]["RowKey"] == "00000000000000F9"


async def test_reading_stops_at_the_first_row_of_an_older_execution(hub: TaskHub):
    t0 = utcnow()
    old = first_episode("can", t0) + second_episode(t0)
    first = await hub.history.append("can", "old", old, start_index=0, etag=None)
    new = [
        OrchestratorStartedEvent(timestamp=t0),
        ExecutionStartedEvent(orchestration_instance=OrchestrationInstance("can", "new"), name="Hello", timestamp=t0),
        OrchestratorCompletedEvent(timestamp=t0),
    ]
    await hub.history.append("can", "new", new, start_index=0, etag=first.etag)
    history = await hub.history.read("can")
    assert history.execution_id == "new"
    assert history.events == new
    assert len(await raw_rows(hub, "can")) == 9, "rows of the old execution stay behind"
    old_view = await hub.history.read("can", execution_id="old")
    assert old_view.events == [] and old_view.etag == history.etag


async def test_a_one_megabyte_column_goes_to_a_blob_and_comes_back(hub: TaskHub):
    payload = json.dumps("x" * (1024 * 1024))
    t0 = utcnow()
    events = [
        OrchestratorStartedEvent(timestamp=t0),
        ExecutionStartedEvent(
            orchestration_instance=OrchestrationInstance("large/one", EID),
            name="Big",
            input=payload,
            timestamp=t0,
        ),
    ]
    result = await hub.history.append("large/one", EID, events, start_index=0, etag=None)
    rows = await raw_rows(hub, "large/one")
    started = rows[1]
    assert started["Input"] == ""
    blob = started["InputBlobName"]
    assert blob.startswith("large^0one/history-0000000000000001-ExecutionStarted-")
    assert blob.endswith("-Input.json.gz") and len(blob.split("-")[-2]) == 8
    assert result.offloaded == {(1, "Input"): blob}
    assert (await hub.history.read("large/one")).events == events


async def test_special_characters_in_instance_ids_are_escaped_in_the_partition_key(hub: TaskHub):
    instance_id = "a/b\\c#d?e\x01"
    t0 = utcnow()
    await hub.history.append(instance_id, EID, first_episode(instance_id, t0), start_index=0, etag=None)
    rows = await raw_rows(hub, instance_id)
    assert rows[0]["PartitionKey"] == "a^0b^1c^2d^3e^\u00c1"
    assert len((await hub.history.read(instance_id)).events) == 4
