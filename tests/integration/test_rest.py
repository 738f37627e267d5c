"""The lean REST client against a real Azurite: what it writes reads back through the SDKs unchanged."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import pytest

from dfx.emulator.storage import StorageAccount
from dfx.emulator.storage.clients import StorageClients
from dfx.emulator.storage.rest import ServiceError, TableOperation


@pytest.fixture
async def clients(account: StorageAccount) -> AsyncIterator[StorageClients]:
    async with StorageClients(account) as opened:
        yield opened


@pytest.fixture
async def queue(clients: StorageClients) -> str:
    name = f"rest{uuid.uuid4().hex[:12]}"
    await clients.queues.get_queue_client(name).create_queue()
    return name


@pytest.fixture
async def table(clients: StorageClients) -> str:
    name = f"rest{uuid.uuid4().hex[:12]}"
    await clients.tables.create_table(name)
    return name


async def test_a_hidden_put_is_owned_by_its_pop_receipt_until_made_visible(clients: StorageClients, queue: str) -> None:
    text = 'markup <a href="x">&amp;</a> and quotes \' "'
    put = await clients.rest.put_message(queue, text, visibility_timeout=60)
    assert await clients.rest.get_messages(queue, 32, 30) == []

    receipt = await clients.rest.update_message(queue, put.message_id, put.pop_receipt, 0)
    assert receipt and receipt != put.pop_receipt
    (got,) = await clients.rest.get_messages(queue, 32, 30)
    assert (got.message_id, got.text, got.dequeue_count) == (put.message_id, text, 1)
    assert got.next_visible_on is not None and got.inserted_on is not None

    await clients.rest.delete_message(queue, got.message_id, got.pop_receipt)
    with pytest.raises(ServiceError) as gone:
        await clients.rest.delete_message(queue, got.message_id, got.pop_receipt)
    assert (gone.value.status, gone.value.code) == (404, "MessageNotFound")


async def test_a_message_put_by_the_sdk_is_received_with_its_text(clients: StorageClients, queue: str) -> None:
    await clients.queues.get_queue_client(queue).send_message("from the sdk é")
    (got,) = await clients.rest.get_messages(queue, 1, 30)
    assert got.text == "from the sdk é"


async def test_a_missing_queue_answers_404_queue_not_found(clients: StorageClients) -> None:
    with pytest.raises(ServiceError) as missing:
        await clients.rest.put_message("nosuchqueue" + uuid.uuid4().hex[:8], "x")
    assert (missing.value.status, missing.value.code) == (404, "QueueNotFound")


async def test_a_transaction_writes_typed_columns_that_the_sdk_reads_back(clients: StorageClients, table: str) -> None:
    now = datetime(2026, 11, 23, 6, 30, 1, 123456, tzinfo=timezone.utc)
    key = "it's a key"
    row = {"PartitionKey": key, "RowKey": "0000000000000000", "Input": 'é"x', "EventId": 7, "IsPlayed": False,
           "_Timestamp": now, "Ratio": 0.5, "Skipped": None}  # fmt: skip
    etags = await clients.rest.transaction(
        table, [TableOperation("upsert", row), TableOperation("insert", {"PartitionKey": key, "RowKey": "sentinel"})]
    )
    assert len(etags) == 2 and all(e.startswith('W/"') for e in etags)

    client = clients.tables.get_table_client(table)
    stored = await client.get_entity(key, "0000000000000000")
    assert {k: stored[k] for k in ("Input", "EventId", "IsPlayed", "_Timestamp", "Ratio")} == {
        "Input": 'é"x', "EventId": 7, "IsPlayed": False, "_Timestamp": now, "Ratio": 0.5,
    }  # fmt: skip
    assert "Skipped" not in stored
    sentinel = await client.get_entity(key, "sentinel")
    assert sentinel.metadata["etag"] == etags[1]


async def test_a_stale_etag_fails_the_whole_transaction_with_412(clients: StorageClients, table: str) -> None:
    (first,) = await clients.rest.transaction(table, [TableOperation("insert", {"PartitionKey": "p", "RowKey": "s"})])
    await clients.rest.transaction(
        table, [TableOperation("upsert", {"PartitionKey": "p", "RowKey": "1"}),
                TableOperation("merge", {"PartitionKey": "p", "RowKey": "s", "N": 1}, etag=first)],
    )  # fmt: skip
    with pytest.raises(ServiceError) as stale:
        await clients.rest.transaction(
            table, [TableOperation("upsert", {"PartitionKey": "p", "RowKey": "2"}),
                    TableOperation("merge", {"PartitionKey": "p", "RowKey": "s", "N": 2}, etag=first)],
        )  # fmt: skip
    assert stale.value.status == 412
    rows = [e["RowKey"] async for e in clients.tables.get_table_client(table).list_entities()]
    assert rows == ["1", "s"]  # the failed transaction wrote nothing


async def test_inserting_an_existing_row_answers_409(clients: StorageClients, table: str) -> None:
    await clients.rest.transaction(table, [TableOperation("insert", {"PartitionKey": "p", "RowKey": "s"})])
    with pytest.raises(ServiceError) as exists:
        await clients.rest.transaction(table, [TableOperation("insert", {"PartitionKey": "p", "RowKey": "s"})])
    assert (exists.value.status, exists.value.code) == (409, "EntityAlreadyExists")


async def test_merge_entity_inserts_then_merges_columns(clients: StorageClients, table: str) -> None:
    key = {"PartitionKey": "o'neil", "RowKey": ""}
    await clients.rest.merge_entity(table, {**key, "RuntimeStatus": "Running", "Input": "in"})
    etag = await clients.rest.merge_entity(table, {**key, "RuntimeStatus": "Completed", "Output": "out"})
    stored = await clients.tables.get_table_client(table).get_entity("o'neil", "")
    assert (stored["RuntimeStatus"], stored["Input"], stored["Output"]) == ("Completed", "in", "out")
    assert stored.metadata["etag"] == etag


async def test_a_wrong_account_key_is_refused_with_403(account: StorageAccount, queue: str) -> None:
    wrong = StorageAccount(
        account_name=account.account_name, account_key="d3Jvbmcga2V5", blob_endpoint=account.blob_endpoint,
        queue_endpoint=account.queue_endpoint, table_endpoint=account.table_endpoint,
    )  # fmt: skip
    async with StorageClients(wrong) as clients:
        with pytest.raises(ServiceError) as refused:
            await clients.rest.get_messages(queue, 1, 30)
    assert refused.value.status == 403
