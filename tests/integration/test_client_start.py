"""Client starts against Azurite: the Instances row write decides between starts of one id."""

from __future__ import annotations

import asyncio

import pytest

from dfx.emulator.durable.client import ClientError, DurableClient
from dfx.emulator.storage import StorageUnavailableError, TaskHub

pytestmark = pytest.mark.azurite


async def queued_starts(hub: TaskHub, instance_id: str) -> list[str]:
    queue = hub.names.control_queue_for(instance_id)
    return [data.target.execution_id for _, data in await hub.queues.peek(queue) if data is not None]


async def test_of_two_concurrent_starts_of_one_id_one_wins_and_the_other_leaves_no_message(hub: TaskHub):
    client = DurableClient(hub)
    outcomes = await asyncio.gather(*(client.start("hello", "twin", None) for _ in range(2)), return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["ClientError", "str"]
    refused = next(o for o in outcomes if isinstance(o, ClientError))
    assert refused.status == 500 and str(refused) == "An Orchestration instance with the status Pending already exists."
    row = await hub.instances.get("twin")
    assert row is not None and await queued_starts(hub, "twin") == [row.execution_id]


async def test_a_start_whose_row_write_failed_unseen_keeps_its_message_for_the_engines_check(
    hub: TaskHub, monkeypatch: pytest.MonkeyPatch
):
    real_write = hub.instances.write_pending

    async def written_but_answer_lost(**kwargs):
        await real_write(**kwargs)
        raise StorageUnavailableError("the answer was lost")

    monkeypatch.setattr(hub.instances, "write_pending", written_but_answer_lost)
    with pytest.raises(StorageUnavailableError):
        await DurableClient(hub).start("hello", "unseen", None)
    row = await hub.instances.get("unseen")
    assert row is not None and await queued_starts(hub, "unseen") == [row.execution_id]
