"""Task hub lifecycle, Instances rows, queries and purge against Azurite (storage-layout §1, §3.10, §4)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from azure.data.tables.aio import TableServiceClient

from dfx.emulator.durable.client import DurableClient
from dfx.emulator.storage import (
    CheckpointConflictError,
    StorageUnavailableError,
    TaskHub,
    TaskHubNameError,
    TaskHubNotFoundError,
    development_storage,
)
from dfx.emulator.storage.instances_table import InstanceQuery, checkpoint_columns
from dfx.emulator.storage.taskhub import PurgeOutcome, PurgeResult, list_task_hubs
from dfx.model.history import (
    ExecutionCompletedEvent,
    ExecutionStartedEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    utcnow,
)
from tests.conftest import free_port

pytestmark = pytest.mark.azurite


async def run_instance(hub: TaskHub, instance_id: str, *, status=OrchestrationStatus.Completed, output='"done"',
                       input_='"in"', created=None) -> None:  # fmt: skip
    """Write what start + one completing episode would write: Pending row, history, Instances merge."""
    created = created or utcnow()
    eid = f"e-{instance_id}"
    await hub.instances.write_pending(
        instance_id=instance_id, name="Hello", execution_id=eid, input=input_, created_time=created
    )
    events = [
        OrchestratorStartedEvent(),
        ExecutionStartedEvent(
            orchestration_instance=OrchestrationInstance(instance_id, eid),
            name="Hello",
            input=input_,
            generation=0,
            is_played=True,
            timestamp=created,
        ),
        ExecutionCompletedEvent(event_id=0, orchestration_status=status, result=output),
        OrchestratorCompletedEvent(),
    ]
    appended = await hub.history.append(instance_id, eid, events, start_index=0, etag=None)
    update = checkpoint_columns(events, execution_id=eid, custom_status=None, task_hub=hub.name)
    await hub.instances.write_checkpoint(instance_id, update, appended.offloaded)


async def test_create_makes_every_resource_and_is_idempotent(hub: TaskHub):
    await hub.create()
    assert await hub.exists()
    assert await list_task_hubs(hub.account) and hub.name in await list_task_hubs(hub.account)
    queues = {q.name async for q in hub.clients.queues.list_queues()}
    assert set(hub.queues.all_queue_names) <= queues
    leases = await hub.partitions.read_all()
    assert [p.queue_name for p in leases] == hub.names.control_queues
    assert all(p.current_owner is None and p.is_draining is False for p in leases)
    info = hub.clients.blobs.get_blob_client(hub.names.app_lease_container, hub.names.app_lease_info_blob)
    assert await (await info.download_blob()).readall() == b"{}"


async def test_delete_removes_every_resource(account, hub_name):
    async with TaskHub(account, hub_name) as hub:
        await hub.create()
        await run_instance(hub, "x", output=json.dumps("z" * 40000))
        await hub.delete()
        assert not await hub.exists()
        queues = {q.name async for q in hub.clients.queues.list_queues()}
        assert not set(hub.queues.all_queue_names) & queues
        containers = {c.name async for c in hub.clients.blobs.list_containers()}
        assert hub.names.large_messages_container not in containers
        assert hub.names.app_lease_container not in containers
        async with TableServiceClient.from_connection_string(account.connection_string()) as tables:
            names = {t.name async for t in tables.list_tables()}
        assert hub.names.partitions_table not in names


async def test_open_existing_keeps_the_partition_count_the_hub_was_created_with(account, hub_name):
    with pytest.raises(TaskHubNotFoundError):
        await TaskHub.open_existing(account, hub_name, 4)
    async with TaskHub(account, hub_name, partition_count=2) as two:
        await two.create()
    try:
        async with await TaskHub.open_existing(account, hub_name, 4) as hub:
            assert hub.names.partition_count == 2
    finally:
        async with TaskHub(account, hub_name, partition_count=2) as two:
            await two.delete()


async def test_an_invalid_hub_name_is_refused_before_anything_is_written(account):
    with pytest.raises(TaskHubNameError):
        TaskHub(account, "bad-name")


async def test_azurite_down_gives_a_clear_error_within_three_seconds():
    dead = development_storage(blob_port=free_port(), queue_port=free_port(), table_port=free_port())
    started = time.monotonic()
    async with TaskHub(dead, "DownHub") as hub:
        with pytest.raises(StorageUnavailableError) as info:
            await hub.create()
    assert time.monotonic() - started < 3
    assert "does not answer" in str(info.value) and "dfx azurite start" in (info.value.hint or "")


async def test_pending_row_then_checkpoint_columns(hub: TaskHub):
    created = utcnow()
    await hub.instances.write_pending(
        instance_id="p1", name="Hello", execution_id="e1", input='"x"', created_time=created, tags={"a": "b"}
    )
    pending = await hub.instances.get("p1")
    assert pending is not None and pending.runtime_status is OrchestrationStatus.Pending
    assert (pending.input, pending.name, pending.execution_id, pending.generation) == (
        '"x"',
        "Hello",
        "e1",
        0,
    )
    assert pending.tags == {"a": "b"} and pending.custom_status is None and pending.completed_time is None
    await run_instance(hub, "p2")
    done = await hub.instances.get("p2")
    assert done is not None and done.runtime_status is OrchestrationStatus.Completed
    assert done.output == '"done"' and done.completed_time is not None
    async with TableServiceClient.from_connection_string(hub.account.connection_string()) as tables:
        row = await tables.get_table_client(hub.names.instances_table).get_entity("p2", "")
    assert row["CustomStatus"] == "null" and row["TaskHubName"] == hub.name and row["Tags"] == "null"
    assert isinstance(row["Generation"], int) and row["RuntimeStatus"] == "Completed"


async def test_a_failure_writes_error_type_and_message_as_output():
    from dfx.model.history import FailureDetails

    events = [ExecutionCompletedEvent(orchestration_status=OrchestrationStatus.Failed,
                                      failure_details=FailureDetails("ValueError", "boom"))]  # fmt: skip
    cols = checkpoint_columns(events, execution_id="e", custom_status='{"s":1}', task_hub="H").columns
    assert cols["Output"] == "ValueError: boom" and cols["RuntimeStatus"] == "Failed"
    assert cols["CustomStatus"] == '{"s":1}'


async def test_large_inputs_and_outputs_live_in_blobs_and_are_resolved(hub: TaskHub):
    big_in = json.dumps("i" * (1024 * 1024))
    big_out = json.dumps("o" * (1024 * 1024))
    await run_instance(hub, "big1", input_=big_in, output=big_out)
    record = await hub.instances.get("big1")
    assert record is not None and record.input == big_in and record.output == big_out
    async with TableServiceClient.from_connection_string(hub.account.connection_string()) as tables:
        row = await tables.get_table_client(hub.names.instances_table).get_entity("big1", "")
    assert row["Output"].startswith(f"{hub.account.blob_endpoint}/{hub.names.large_messages_container}/big1/history-")


async def test_queries_filter_by_status_time_prefix_and_entities_with_continuation(hub: TaskHub):
    t0 = utcnow()
    for i in range(5):
        await run_instance(hub, f"order-{i}", created=t0 + timedelta(seconds=i))
    await run_instance(hub, "fail-1", status=OrchestrationStatus.Failed, created=t0)
    await run_instance(hub, "@counter@k1", created=t0)

    async def ids(**kw) -> list[str]:
        return sorted(r.instance_id for r in await hub.instances.query_all(InstanceQuery(**kw)))

    assert await ids(statuses=frozenset({OrchestrationStatus.Failed})) == ["fail-1"]
    assert await ids(instance_id_prefix="order-") == [f"order-{i}" for i in range(5)]
    assert "@counter@k1" not in await ids(exclude_entities=True)
    assert await ids(only_entities=True) == ["@counter@k1"]
    assert await ids(created_from=t0 + timedelta(seconds=3)) == ["order-3", "order-4"]
    page = await hub.instances.query(InstanceQuery(page_size=3))
    assert len(page.instances) == 3 and page.continuation_token
    rest = await hub.instances.query(InstanceQuery(page_size=10), page.continuation_token)
    assert len(rest.instances) == 4 and rest.continuation_token is None


async def test_purge_one_removes_rows_and_blobs_but_not_a_neighbours(hub: TaskHub):
    big = json.dumps("z" * 40000)
    await run_instance(hub, "abc", output=big)
    await run_instance(hub, "abcd", output=big)
    assert await hub.blobs.list_names("abc/")
    assert await hub.purge_instance("abc") is True
    assert await hub.instances.get("abc") is None
    assert not await hub.history.has_rows("abc")
    assert await hub.blobs.list_names("abc/") == []
    assert await hub.blobs.list_names("abcd/"), "an instance whose id starts the same keeps its blobs"
    assert await hub.purge_instance("abc") is False


async def test_purge_by_filter_honours_only_terminal_statuses(hub: TaskHub):
    t0 = utcnow()
    await run_instance(hub, "done", created=t0)
    await run_instance(hub, "broken", status=OrchestrationStatus.Failed, created=t0)
    await hub.instances.write_pending(
        instance_id="waiting", name="Hello", execution_id="e", input=None, created_time=t0
    )
    since = t0 - timedelta(minutes=1)
    nothing = await hub.purge_instances(created_from=since, statuses=[OrchestrationStatus.Running])
    assert nothing.instances_deleted == 0
    result = await hub.purge_instances(created_from=since, statuses=[OrchestrationStatus.Completed])
    assert result.instances_deleted == 1
    assert await hub.instances.get("done") is None and await hub.instances.get("broken") is not None
    everything = await hub.purge_instances(created_from=since)
    assert everything.instances_deleted == 2


async def shown(hub: TaskHub, instance_id: str):
    """The Instances row as a purge's listing reads it (its ETag is what the purge is conditioned on)."""
    [record] = [
        r for r in await hub.purge_candidates(created_from=utcnow() - timedelta(days=1)) if r.instance_id == instance_id
    ]
    return record


async def test_purge_finished_removes_rows_and_blobs_of_an_instance_as_it_was_shown(hub: TaskHub):
    await run_instance(hub, "old", output=json.dumps("z" * 40000))
    assert await hub.purge_finished_instance(await shown(hub, "old")) is PurgeOutcome.PURGED
    assert await hub.instances.get("old") is None and not await hub.history.has_rows("old")
    assert await hub.blobs.list_names("old/") == []


async def test_purge_skips_an_instance_restarted_after_it_was_shown(hub: TaskHub):
    await run_instance(hub, "again")
    before = await shown(hub, "again")
    await DurableClient(hub).start("Hello", "again", '"second run"')  # restart --keep-id, singleton starter...
    result = await hub.purge_finished_instances([before])
    assert result == PurgeResult(instances_deleted=0, skipped=("again",))
    record = await hub.instances.get("again")
    assert record is not None and record.runtime_status is OrchestrationStatus.Pending
    assert await hub.history.has_rows("again")
    [(_, message)] = await hub.queues.peek(hub.names.control_queue_for("again"))
    assert message.event.event_type.name == "ExecutionStarted"


async def test_purge_keeps_a_new_execution_a_host_wrote_before_the_instances_row_changed(hub: TaskHub):
    """A client sends ExecutionStarted before it rewrites the row, so a fast host can write history first."""
    await run_instance(hub, "fast")
    before = await shown(hub, "fast")
    sentinel_etag = (await hub.history.read("fast")).etag
    execution = OrchestrationInstance("fast", "e-new")
    started = ExecutionStartedEvent(orchestration_instance=execution, name="Hello", input='"x"', generation=1)
    await hub.history.append("fast", "e-new", [OrchestratorStartedEvent(), started], start_index=0,
                             etag=sentinel_etag)  # fmt: skip
    assert await hub.purge_finished_instance(before) is PurgeOutcome.SKIPPED
    rows = await hub.history.read_rows("fast")
    assert rows.execution_id == "e-new" and [r["EventType"] for r in rows.rows] == [
        "OrchestratorStarted", "ExecutionStarted"]  # fmt: skip
    assert await hub.instances.get("fast") is not None


async def test_history_delete_rows_keeps_a_row_rewritten_since_its_etag_was_read(hub: TaskHub):
    await run_instance(hub, "rows")
    versions = await hub.history.row_versions("rows")
    first, *rest = [v for v in versions if v[0] != "sentinel"]
    await hub.history.rewrite_as_generic("rows", [(first[0], "OrchestratorStarted")], etag=None)  # touches one row
    assert await hub.history.delete_rows("rows", [first, *rest]) is False
    left = [row_key for row_key, _ in await hub.history.row_versions("rows")]
    assert left == [first[0], "sentinel"]


async def test_a_purge_that_stops_midway_leaves_a_listed_finished_instance_to_purge_again(hub: TaskHub, monkeypatch):
    await run_instance(hub, "half", output=json.dumps("z" * 40000))

    async def fail(prefix: str, **_: object) -> int:
        raise StorageUnavailableError("storage went away")

    monkeypatch.setattr(hub.blobs, "delete_prefix", fail)
    with pytest.raises(StorageUnavailableError):
        await hub.purge_finished_instance(await shown(hub, "half"))
    monkeypatch.undo()
    left = await shown(hub, "half")  # still listed, as finished as before: nothing hidden half-deleted
    assert left.runtime_status is OrchestrationStatus.Completed and not await hub.history.has_rows("half")
    assert await hub.purge_finished_instance(left) is PurgeOutcome.PURGED
    assert await hub.blobs.list_names("half/") == []


async def test_purge_finished_never_deletes_an_instance_shown_as_running(hub: TaskHub):
    await hub.instances.write_pending(instance_id="live", name="Hello", execution_id="e", input=None,
                                      created_time=utcnow())  # fmt: skip
    assert await hub.purge_finished_instance(await shown(hub, "live")) is PurgeOutcome.SKIPPED
    assert await hub.instances.get("live") is not None


async def test_taskhub_delete_removes_the_leases_container_and_every_control_queue(account, hub_name):
    """A hub of the provider's blob partition managers: no Partitions rows, {hub}-leases, more queues than host.json."""
    async with TaskHub(account, hub_name, partition_count=8) as made:
        await made.create()
        await made.partitions.delete()
        leases = made.clients.blobs.get_container_client(f"{made.names.lower}-leases")
        await leases.create_container()
        await leases.upload_blob("taskhub.json", json.dumps({"TaskHubName": hub_name, "PartitionCount": 8}))
    neighbour = TaskHub(account, hub_name + "x")
    async with neighbour:
        await neighbour.create()
        async with await TaskHub.open_existing(account, hub_name, 4) as hub:
            assert hub.names.partition_count == 4  # nothing tells it the 8 it was created with
            await hub.delete()
        queues = [q.name async for q in neighbour.clients.queues.list_queues(name_starts_with=hub_name.lower())]
        containers = [c.name async for c in neighbour.clients.blobs.list_containers(name_starts_with=hub_name.lower())]
        assert all(name.startswith(neighbour.names.lower) for name in [*queues, *containers]), (queues, containers)
        assert set(neighbour.queues.all_queue_names) <= set(queues), "a hub whose name starts the same is kept"
        await neighbour.delete()


async def test_purge_skips_an_instance_rewound_after_it_was_listed_and_deletes_nothing(hub: TaskHub, monkeypatch):
    await run_instance(hub, "rw", status=OrchestrationStatus.Failed)
    before = await shown(hub, "rw")
    rows_before = [row_key for row_key, _ in await hub.history.row_versions("rw")]
    read_sentinel = hub.history.read_sentinel

    async def rewind_first(instance_id: str):  # the rewind lands between the purge's listing and its claim
        monkeypatch.setattr(hub.history, "read_sentinel", read_sentinel)
        await DurableClient(hub).rewind("rw", "fixed")
        return await read_sentinel(instance_id)

    monkeypatch.setattr(hub.history, "read_sentinel", rewind_first)
    assert await hub.purge_finished_instance(before) is PurgeOutcome.SKIPPED
    assert [row_key for row_key, _ in await hub.history.row_versions("rw")] == rows_before
    assert (await hub.instances.get("rw")).runtime_status is OrchestrationStatus.Pending


async def test_a_rewind_after_a_purge_claimed_the_history_fails_and_writes_nothing(hub: TaskHub):
    await run_instance(hub, "rw2", status=OrchestrationStatus.Failed)
    stored = await hub.history.read_rows("rw2")
    completed = next(r for r in stored.rows if r["EventType"] == "ExecutionCompleted")
    await hub.history.delete_rows("rw2", [("sentinel", stored.etag)])  # what a purge does first
    with pytest.raises(CheckpointConflictError):
        await hub.history.rewrite_as_generic("rw2", [(completed["RowKey"], "ExecutionCompleted")], etag=stored.etag)
    rows = (await hub.history.read_rows("rw2")).rows
    assert [r["EventType"] for r in rows if r["RowKey"] == completed["RowKey"]] == ["ExecutionCompleted"]


async def test_purge_keeps_blobs_written_after_the_shown_run_by_a_new_start(hub: TaskHub):
    await run_instance(hub, "bl", output=json.dumps("z" * 40000))
    record = await hub.instances.get("bl", fetch_large=False)  # the purge's own point read, with the Timestamp
    assert record is not None and record.stored_at is not None and await hub.blobs.list_names("bl/")
    time.sleep(1.1)  # blob creation times have whole seconds
    await hub.blobs.upload("bl/Input-of-the-restart.json.gz", "new")
    await hub._delete_blobs("bl", created_until=record.stored_at)
    assert await hub.blobs.list_names("bl/") == ["bl/Input-of-the-restart.json.gz"]
