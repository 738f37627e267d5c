"""The dfx CLI against a real Azurite: inspect commands, JSON output and one-line errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from dfx.emulator.storage import StorageAccount, TaskHub
from tests.cli import assert_one_line_error, invoke, one_line_error, run_dfx, run_main
from tests.conftest import free_port
from tests.integration.test_taskhub import run_instance

pytestmark = pytest.mark.azurite


def seed(account: StorageAccount, hub_name: str, *instance_ids: str) -> None:
    """Create the hub and write one completed instance per id; the CLI runs its own event loop, so tests are sync."""

    async def write() -> None:
        async with TaskHub(account, hub_name) as hub:
            await hub.create()
            for instance_id in instance_ids:
                await run_instance(hub, instance_id)

    asyncio.run(write())


def test_inspect_history_shows_the_classic_columns(account, hub_name, conn):
    seed(account, hub_name, "cli-1")
    result = invoke("inspect", "history", "cli-1", *conn)
    assert result.exit_code == 0, result.output
    for column in ("PartitionKey", "EventType", "Timestamp", "Input", "Name", "Result", "Status", "Elapsed"):
        assert column in result.output
    assert "ExecutionCompleted" in result.output and "Completed" in result.output


def test_inspect_history_json_has_every_stored_column(account, hub_name, conn):
    seed(account, hub_name, "cli-2")
    result = invoke("inspect", "history", "cli-2", *conn, "--json")
    rows = json.loads(result.output)
    assert [r["EventType"] for r in rows] == [
        "OrchestratorStarted", "ExecutionStarted", "ExecutionCompleted", "OrchestratorCompleted"
    ]  # fmt: skip
    assert rows[1]["RowKey"] == "0000000000000001" and rows[1]["ParentInstance"] == "null"
    assert rows[2]["OrchestrationStatus"] == "Completed"


def test_inspect_instances_filters_and_pages(account, hub_name, conn):
    seed(account, hub_name, "job-0", "job-1", "job-2")
    result = invoke("inspect", "instances", *conn, "--json", "--top", "2", "--runtime-status", "completed")
    page = json.loads(result.output)
    assert len(page["instances"]) == 2 and page["continuationToken"]
    rest = invoke("inspect", "instances", *conn, "--json", "--continuation-token", page["continuationToken"])
    assert [i["instanceId"] for i in json.loads(rest.output)["instances"]] == ["job-2"]
    table = invoke("inspect", "instances", *conn, "--prefix", "job-1")
    assert "job-1" in table.output and "job-0" not in table.output


def test_unknown_instance_is_a_one_line_error(account, hub_name, conn):
    seed(account, hub_name)
    one_line_error(run_dfx("inspect", "history", "nope", *conn), "No instance with ID 'nope'")


def test_unknown_task_hub_is_a_one_line_error(account):
    result = run_dfx("inspect", "instances", "--task-hub", "NoSuchHub", "--connection", account.connection_string())
    one_line_error(result, "Task hub 'NoSuchHub' does not exist")


def test_azurite_down_is_a_one_line_error_with_a_hint():
    conn = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=eQ==;"
        f"BlobEndpoint=http://127.0.0.1:{free_port()}/a;QueueEndpoint=http://127.0.0.1:{free_port()}/a;"
        f"TableEndpoint=http://127.0.0.1:{free_port()}/a"
    )
    result = run_dfx("inspect", "instances", "--connection", conn)
    one_line_error(result, "does not answer")
    assert "dfx azurite start" in result.stderr


def test_a_storage_error_answer_is_one_line(account, hub_name, conn, monkeypatch, capsys):
    seed(account, hub_name, "job-0")
    token = "x" * 70_000  # more header than Azurite takes: it answers 431, which no typed error covers
    code, _, stderr = run_main(monkeypatch, capsys, "inspect", "instances", *conn, "--continuation-token", token)
    assert_one_line_error(code, stderr, "answered 431: Request Header Fields Too Large", hint="refused the request")


def test_piping_into_a_closed_reader_exits_quietly(account, hub_name, conn):
    seed(account, hub_name, "piped")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as a pipe usually is
    for args in (
        ["templates", "--json"],
        ["inspect", "history", "piped", *conn],
        ["inspect", "status", "piped", *conn],
    ):
        reader, writer = os.pipe()
        os.close(reader)  # the reader is gone before dfx writes a byte: `dfx ... | head` once head has exited
        try:
            result = subprocess.run([sys.executable, "-m", "dfx", *args], stdout=writer, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True, env=env, timeout=30)  # fmt: skip
        finally:
            os.close(writer)
        assert (result.returncode, result.stderr) == (1, ""), args


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["inspect", "instances", "--task-hub", "bad-hub"], "only letters and digits"),
        (["inspect", "instances", "--connection", "AccountName=x"], "AccountKey"),
    ],
)
def test_bad_input_is_a_one_line_error(args, fragment):
    one_line_error(run_dfx(*args), fragment)
