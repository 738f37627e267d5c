"""Reading a history a page at a time (HistoryTable.iter_row_pages, read_sentinel) against Azurite."""

from __future__ import annotations

import json

import pytest

from dfx.emulator.storage import TaskHub
from dfx.model.history import (
    ExecutionStartedEvent,
    OrchestrationInstance,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    TaskScheduledEvent,
    utcnow,
)
from tests.factories import sample_events

pytestmark = pytest.mark.azurite

EID = "e1"


async def rows_of(hub: TaskHub, instance_id: str, execution_id: str | None = None, **kwargs) -> list[dict]:
    return [row async for page in hub.history.iter_row_pages(instance_id, execution_id, **kwargs) for row in page]


async def test_pages_hold_the_rows_read_rows_returns_typed_the_same_way(hub: TaskHub):
    await hub.history.append("every", EID, sample_events(), start_index=0, etag=None)
    stored = await hub.history.read_rows("every")
    assert await rows_of(hub, "every") == [dict(row) for row in stored.rows]


async def test_a_long_history_comes_in_pages_of_at_most_1000_rows_in_row_key_order(hub: TaskHub):
    t0 = utcnow()
    events = [TaskScheduledEvent(event_id=i, name="noop", timestamp=t0) for i in range(2100)]
    await hub.history.append("long", EID, events, start_index=0, etag=None)
    pages = [page async for page in hub.history.iter_row_pages("long", EID)]
    assert [len(p) for p in pages] == [1000, 1000, 100]
    keys = [row["RowKey"] for page in pages for row in page]
    assert keys == sorted(keys) and len(set(keys)) == 2100 and "sentinel" not in keys


async def test_after_row_key_reads_only_the_newer_rows(hub: TaskHub):
    t0 = utcnow()
    events = [TaskScheduledEvent(event_id=i, name="noop", timestamp=t0) for i in range(5)]
    await hub.history.append("tail", EID, events, start_index=0, etag=None)
    rows = await rows_of(hub, "tail", EID, after_row_key="0000000000000002")
    assert [r["EventId"] for r in rows] == [3, 4]
    assert await rows_of(hub, "tail", EID, after_row_key="0000000000000004") == []


async def test_reading_stops_at_the_rows_an_older_execution_left_behind(hub: TaskHub):
    t0 = utcnow()
    old = [TaskScheduledEvent(event_id=i, name="old", timestamp=t0) for i in range(6)]
    first = await hub.history.append("can", "old", old, start_index=0, etag=None)
    new = [
        OrchestratorStartedEvent(timestamp=t0),
        ExecutionStartedEvent(orchestration_instance=OrchestrationInstance("can", "new"), name="Hello", timestamp=t0),
        OrchestratorCompletedEvent(timestamp=t0),
    ]
    await hub.history.append("can", "new", new, start_index=0, etag=first.etag)
    sentinel = await hub.history.read_sentinel("can")
    assert sentinel is not None and sentinel["ExecutionId"] == "new"
    rows = await rows_of(hub, "can", sentinel["ExecutionId"])
    assert [r["EventType"] for r in rows] == ["OrchestratorStarted", "ExecutionStarted", "OrchestratorCompleted"]
    assert await rows_of(hub, "can", "old") == [], "the older execution's first rows were overwritten"


async def test_large_columns_are_read_back_from_their_blobs(hub: TaskHub):
    payload = json.dumps("x" * 100_000)
    started = ExecutionStartedEvent(
        orchestration_instance=OrchestrationInstance("big", EID), name="Big", input=payload, timestamp=utcnow()
    )
    await hub.history.append("big", EID, [OrchestratorStartedEvent(), started], start_index=0, etag=None)
    rows = await rows_of(hub, "big")
    assert rows[1]["Input"] == payload and "InputBlobName" not in rows[1]


async def test_an_instance_without_history_has_no_sentinel_and_no_pages(hub: TaskHub):
    assert await hub.history.read_sentinel("nobody") is None
    assert await rows_of(hub, "nobody") == []
