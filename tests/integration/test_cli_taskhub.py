"""``dfx taskhub`` against a real Azurite: listing hubs, describing one (leases, queues, counts), deleting one."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from dfx.emulator.durable.client import DurableClient
from dfx.emulator.storage import StorageAccount, TaskHub
from dfx.model.history import OrchestrationStatus, utcnow
from tests.cli import assert_one_line_error, invoke, run_dfx
from tests.integration.test_cli_durable import fails, interactive, nothing_listening, on_hub, seed

pytestmark = pytest.mark.azurite
__all__ = ["fails", "interactive"]  # fixtures shared with the durable tests


def exists(account: StorageAccount, hub_name: str) -> bool:
    async def check() -> bool:
        async with TaskHub(account, hub_name) as hub:
            return await hub.exists()

    return asyncio.run(check())


def test_list_shows_every_hub_and_marks_the_current_one(account, hub_name, conn):
    seed(account, hub_name)
    other = hub_name + "x"
    seed(account, other)
    data = json.loads(invoke("taskhub", "list", *conn, "--json").stdout)
    hubs = {h["name"]: h["current"] for h in data["taskHubs"]}
    assert hubs[hub_name] is True and hubs[other] is False
    assert data["account"].startswith("devstoreaccount1 at http://127.0.0.1:")
    table = invoke("taskhub", "list", *conn).stdout
    assert "← this app" in next(line for line in table.splitlines() if f" {hub_name} " in line)
    assert "← this app" not in next(line for line in table.splitlines() if f" {other} " in line)


def test_info_shows_leases_queue_depths_and_instance_counts(account, hub_name, conn):
    seed(account, hub_name, "c1", "c2")
    seed(account, hub_name, "f1", status=OrchestrationStatus.Failed)

    async def start_and_lease(hub: TaskHub) -> str:
        await DurableClient(hub).start("Hello", "p1", None)
        queue = hub.names.control_queue_for("p1")
        lease = next(p for p in await hub.partitions.read_all() if p.queue_name == queue)
        lease.current_owner, lease.expires_at = "host-a", utcnow() + timedelta(seconds=30)
        assert await hub.partitions.replace(lease)
        return queue

    queue = on_hub(account, hub_name, start_and_lease)
    data = json.loads(invoke("taskhub", "info", *conn, "--json").stdout)
    assert data["name"] == hub_name and data["partitionCount"] == 4 and len(data["partitions"]) == 4
    owned = {p["partitionId"]: p for p in data["partitions"]}
    assert owned[queue]["owner"] == "host-a" and owned[queue]["expired"] is False
    assert all(p["owner"] is None and p["expired"] for q, p in owned.items() if q != queue)
    depths = {q["name"]: (q["kind"], q["approximateMessageCount"]) for q in data["queues"]}
    assert depths[queue] == ("control", 1) and depths[f"{hub_name.lower()}-workitems"] == ("workItem", 0)
    assert len(depths) == 5
    assert data["instances"] == {"total": 4, "countedUpTo": None,
                                 "byRuntimeStatus": {"Completed": 2, "Failed": 1, "Pending": 1}}  # fmt: skip
    assert data["largeMessages"] == {"container": f"{hub_name.lower()}-largemessages", "exists": False}

    table = invoke("taskhub", "info", *conn).stdout
    assert f"{hub_name} in devstoreaccount1" in table and "4 partitions" in table
    lease_line = next(line for line in table.splitlines() if queue in line and "host-a" in line)
    assert "(expired)" not in lease_line
    assert "no owner" in table and "Instances: 4 (Completed 2, Failed 1, Pending 1)" in table


def test_info_shows_an_expired_lease_and_the_hubs_own_partition_count(account, hub_name, conn):
    async def create_two(_: TaskHub) -> None:
        async with TaskHub(account, hub_name, partition_count=2) as two:
            await two.create()
            lease = (await two.partitions.read_all())[0]
            lease.current_owner, lease.expires_at = "gone-host", utcnow() - timedelta(minutes=5)
            assert await two.partitions.replace(lease)

    asyncio.run(create_two(None))  # type: ignore[arg-type]
    data = json.loads(invoke("taskhub", "info", *conn, "--json").stdout)
    assert data["partitionCount"] == 2 and len(data["queues"]) == 3
    assert data["partitions"][0]["owner"] == "gone-host" and data["partitions"][0]["expired"] is True
    assert "(expired)" in invoke("taskhub", "info", *conn).stdout


def test_delete_asks_and_keeps_the_hub_on_no(account, hub_name, conn, interactive):
    seed(account, hub_name, "x")
    result = invoke("taskhub", "delete", *conn, input="n\n")
    assert result.exit_code == 1 and "Aborted." in result.stderr
    assert f"Delete task hub {hub_name} with all its instances and histories? [y/N]" in result.stderr
    assert exists(account, hub_name)
    assert invoke("taskhub", "delete", *conn, input="y\n").exit_code == 0
    assert not exists(account, hub_name)


def test_delete_with_yes_removes_every_resource_and_reports_json(account, hub_name, conn):
    seed(account, hub_name, "x")
    result = invoke("taskhub", "delete", "--yes", *conn, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"taskHub": hub_name, "deleted": True}
    assert not exists(account, hub_name)
    assert hub_name not in invoke("taskhub", "list", *conn).stdout


def test_delete_warns_when_a_host_owns_the_hub(account, hub_name, conn):
    async def lease(hub: TaskHub) -> None:
        first = (await hub.partitions.read_all())[0]
        first.current_owner, first.expires_at = "host-b", utcnow() + timedelta(seconds=30)
        assert await hub.partitions.replace(first)

    on_hub(account, hub_name, lease)
    result = invoke("taskhub", "delete", "--yes", *conn)
    assert result.exit_code == 0 and f"A running host owns partitions of {hub_name}: host-b." in result.stderr


def test_delete_without_yes_and_without_a_terminal_refuses(account, hub_name, conn):
    seed(account, hub_name)
    result = run_dfx("taskhub", "delete", *conn)
    assert_one_line_error(result.returncode, result.stderr, "stdin is not a terminal", "--yes")
    assert exists(account, hub_name)


def test_an_unknown_hub_is_one_line_with_a_hint(account, fails):
    for command in (["taskhub", "info"], ["taskhub", "delete", "--yes"], ["durable", "delete-task-hub", "--yes"]):
        fails(*command, "--task-hub", "NoSuchHubHere", "--connection", account.connection_string(),
              fragment="Task hub 'NoSuchHubHere' does not exist", hint="dfx taskhub list")  # fmt: skip


def test_azurite_down_is_one_line_with_a_hint(fails):
    fails("taskhub", "list", "--connection", nothing_listening(), fragment="does not answer", hint="dfx azurite start")


def test_a_bad_hub_name_is_one_line(account, fails):
    fails("taskhub", "info", "--task-hub", "bad-hub", "--connection", account.connection_string(),
          fragment="only letters and digits")  # fmt: skip


def test_every_taskhub_command_has_help_with_an_example():
    for command in ("list", "info", "delete"):
        result = invoke("taskhub", command, "--help")
        assert result.exit_code == 0 and "Example: dfx taskhub" in result.output, command
