"""dfx init's app under dfx start on the suite's Azurite: the hello flow, its history, templates added by dfx new."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import stat
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfx.cli.main import app
from dfx.emulator.storage import StorageAccount, TaskHub
from tests.cli import assert_one_line_error, invoke, run_main, runner
from tests.e2e.conftest import HostLauncher, RunningHost, call, eventually

pytestmark = pytest.mark.azurite


def ok(*args: str) -> Any:
    """``dfx ARGS`` in process; the command must succeed."""
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


CITIES = ["Hello Tokyo", "Hello Seattle", "Hello London"]
INIT_FILES = ("function_app.py", "host.json", "local.settings.json", "requirements.txt", ".gitignore", ".funcignore")
# What dfx new adds to the second app, with the function names dfx start must then list.
NEW_FUNCTIONS = [
    (["-t", "http", "-n", "greet"], "greet: [GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS,TRACE,CONNECT]"),
    (["-t", "Timer trigger", "-n", "tick"], "tick: timerTrigger"),
    (["-t", "queue", "-n", "on_job", "--queue-name", "jobs"], "on_job: queueTrigger"),
    (["-t", "entity", "-n", "counter"], "counter: entityTrigger"),
    (["-t", "blueprint", "-n", "orders", "--auth-level", "anonymous"], "orders: ["),
    (["-t", "activity", "-n", "pack", "--blueprint", "orders.py"], "pack: activityTrigger"),
    (["-t", "durable-starter", "-n", "start_job", "--route", "jobs/{functionName}"], "start_job: [POST]"),
    (["-t", "Durable Functions orchestrator", "-n", "ship_all", "--activity", "ship"], "ship_all: orchestration"),
]


def finished(status_url: str) -> dict[str, Any]:
    return eventually(
        lambda: (s := call("GET", status_url).json())["runtimeStatus"] in ("Completed", "Failed", "Terminated") and s
    )


def start_app(hosts: HostLauncher, app_dir: Path, account: StorageAccount) -> Iterator[tuple[RunningHost, str]]:
    """``dfx start`` on ``app_dir`` with a task hub of its own (deleted afterwards)."""
    hub = "init" + uuid.uuid4().hex[:12]
    host = hosts(app_dir, "--no-watch", "--task-hub", hub, copy=False)
    host.wait_for("Task hub")
    yield host, hub

    async def delete() -> None:
        async with TaskHub(account, hub) as taskhub:
            await taskhub.delete()

    host.stop()
    asyncio.run(delete())


@pytest.fixture(scope="module")
def init_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    app_dir = tmp_path_factory.mktemp("init") / "demo"
    return app_dir, ok("init", str(app_dir)).output


@pytest.fixture(scope="module")
def hello_host(module_hosts: HostLauncher, init_output: tuple[Path, str], account: StorageAccount) -> Iterator[Any]:
    yield from start_app(module_hosts, init_output[0], account)


@pytest.fixture(scope="module")
def hello_instance(hello_host: tuple[RunningHost, str], init_output: tuple[Path, str]) -> dict[str, Any]:
    """The hello orchestration started with the URL dfx init printed, run to its end."""
    host, _ = hello_host
    printed = next(line for line in init_output[1].splitlines() if "curl -X POST " in line).split()[-1]
    assert printed == "http://localhost:7071/api/orchestrators/hello_orchestrator"
    started = call("POST", printed.replace("http://localhost:7071", host.url))
    assert started.status == 202, started.text
    return finished(started.json()["statusQueryGetUri"])


@pytest.fixture(scope="module")
def extended_host(
    module_hosts: HostLauncher, tmp_path_factory: pytest.TempPathFactory, account: StorageAccount
) -> Iterator[Any]:
    app_dir = tmp_path_factory.mktemp("extended") / "shop"
    ok("init", str(app_dir))
    for args, _ in NEW_FUNCTIONS:
        ok("new", *args, "--app-dir", str(app_dir))
    yield from start_app(module_hosts, app_dir, account)


def test_init_writes_the_app_and_prints_the_next_steps(init_output):
    app_dir, output = init_output
    for name in INIT_FILES:
        assert (app_dir / name).is_file() and name in output
    assert f"cd {app_dir}" in output and "dfx start" in output


def test_init_app_serves_the_hello_orchestration_at_the_printed_url(hello_host, hello_instance):
    host, _ = hello_host
    assert f"http_start: [POST] http://localhost:{host.port}/api/orchestrators/{{functionName}}" in host.output
    assert "hello_orchestrator: orchestrationTrigger" in host.output and "hello: activityTrigger" in host.output
    assert hello_instance["runtimeStatus"] == "Completed" and hello_instance["output"] == CITIES


def test_inspect_history_shows_the_rows_of_the_hello_instance(account, hello_host, hello_instance, init_output):
    _, hub = hello_host
    where = ["--task-hub", hub, "--connection", account.connection_string(), "--app-dir", str(init_output[0])]
    rows = json.loads(ok("inspect", "history", hello_instance["instanceId"], *where, "--json").output)
    counts = Counter(row["EventType"] for row in rows)
    assert counts["ExecutionStarted"] == 1 and counts["ExecutionCompleted"] == 1
    assert counts["TaskScheduled"] == 3 and counts["TaskCompleted"] == 3
    assert all(row["RowKey"] != "sentinel" for row in rows)
    assert [row["Name"] for row in rows if row["EventType"] == "TaskScheduled"] == ["hello"] * 3
    assert [json.loads(row["Result"]) for row in rows if row["EventType"] == "TaskCompleted"] == CITIES
    completed = next(row for row in rows if row["EventType"] == "ExecutionCompleted")
    assert json.loads(completed["Result"]) == CITIES and completed["OrchestrationStatus"] == "Completed"
    table = ok("inspect", "history", hello_instance["instanceId"], *where).output
    for text in ("ExecutionStarted", "TaskScheduled", "TaskCompleted", "ExecutionCompleted", "hello_orchestrator"):
        assert text in table
    assert "sentinel" not in table


def test_templates_added_with_dfx_new_are_listed_and_served(extended_host):
    host, _ = extended_host
    for _, listed in NEW_FUNCTIONS:
        assert listed in host.output
    assert "ship: activityTrigger" in host.output and "http_start: [POST]" in host.output
    assert call("GET", f"{host.url}/api/greet?name=Ann").text == "Hello, Ann!"
    assert call("POST", f"{host.url}/api/orders", b'{"name": "Bo"}').text == "Hello, Bo!"
    started = call("POST", f"{host.url}/api/jobs/ship_all")
    assert started.status == 202, started.text
    assert finished(started.json()["statusQueryGetUri"])["output"] == CITIES


def test_an_entity_added_with_dfx_new_counts(extended_host):
    host, _ = extended_host
    url = f"{host.url}/runtime/webhooks/durabletask/entities/counter/c1"
    for body in (b'"5"', b'"2"'):  # JSON text in a JSON string, as the Python client sends it
        assert call("POST", f"{url}?op=add", body, {"Content-Type": "application/json"}).status == 202
    assert eventually(lambda: call("GET", url).status == 200 and call("GET", url).json() == 7)


def test_init_refuses_to_overwrite_without_force_and_overwrites_with_it(tmp_path, monkeypatch, capsys):
    ok("init", str(tmp_path), "--name", "mine")
    (tmp_path / "function_app.py").write_text("# my own code\n")
    code, _, stderr = run_main(monkeypatch, capsys, "init", str(tmp_path))
    assert_one_line_error(code, stderr, f"{tmp_path / 'function_app.py'} already exists")
    assert "--force" in stderr and (tmp_path / "function_app.py").read_text() == "# my own code\n"
    ok("init", str(tmp_path), "--force", "--worker-runtime", "python", "--model", "V2")
    assert "app = df.DFApp(" in (tmp_path / "function_app.py").read_text()


def test_init_json_lists_the_written_files(tmp_path):
    written = json.loads(ok("init", str(tmp_path / "app"), "--json").output)
    assert [Path(p).name for p in written] == list(INIT_FILES)
    assert all(Path(p).is_file() for p in written)


@pytest.mark.parametrize(("option", "value"), [("--worker-runtime", "node"), ("--model", "V1")])
def test_init_takes_python_v2_only(tmp_path, monkeypatch, capsys, option, value):
    code, _, stderr = run_main(monkeypatch, capsys, "init", str(tmp_path), option, value)
    assert_one_line_error(code, stderr, "dfx hosts Python v2 apps only")
    assert not (tmp_path / "function_app.py").exists()


def test_new_without_an_app_or_on_a_broken_one_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    code, _, stderr = run_main(monkeypatch, capsys, "new", "-t", "http", "-n", "greet", "--app-dir", str(tmp_path))
    assert_one_line_error(code, stderr, "function_app.py not found")
    assert "dfx init" in stderr
    (tmp_path / "function_app.py").write_text("import azure.functions as func\n\napp = func.FunctionApp(\n")
    code, _, stderr = run_main(monkeypatch, capsys, "new", "-t", "http", "-n", "greet", "--app-dir", str(tmp_path))
    assert_one_line_error(code, stderr, "function_app.py:3: ")


def test_new_refuses_a_taken_name_in_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    ok("init", str(tmp_path))
    before = (tmp_path / "function_app.py").read_text()
    code, _, stderr = run_main(monkeypatch, capsys, "new", "-t", "activity", "-n", "hello", "--app-dir", str(tmp_path))
    assert_one_line_error(code, stderr, "already has a function named 'hello'")
    code, _, stderr = run_main(monkeypatch, capsys, "new", "-t", "blob", "-n", "x", "--app-dir", str(tmp_path))
    assert_one_line_error(code, stderr, "There is no template 'blob'")
    assert (tmp_path / "function_app.py").read_text() == before


def test_new_on_a_script_saved_with_a_utf8_bom_adds_the_function_and_keeps_the_bom(tmp_path):
    ok("init", str(tmp_path))
    script = tmp_path / "function_app.py"
    script.write_bytes(b"\xef\xbb\xbf" + script.read_bytes())
    ok("new", "-t", "http", "-n", "greet", "--app-dir", str(tmp_path))
    data = script.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    assert "def greet(" in data.decode("utf-8-sig")


def test_a_write_that_fails_part_way_leaves_every_file_as_it_was(tmp_path, monkeypatch, capsys):
    ok("init", str(tmp_path))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    synced = []

    def full_disk(descriptor: int) -> None:
        synced.append(descriptor)
        if len(synced) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    code, _, stderr = run_main(
        monkeypatch, capsys, "new", "-t", "blueprint", "-n", "orders", "--app-dir", str(tmp_path)
    )
    assert_one_line_error(code, stderr, "cannot write")
    assert "No space left on device" in stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before, "no file changed, no temporary file left"


def test_new_replaces_each_file_whole_new_ones_first_function_app_py_last(tmp_path, monkeypatch):
    ok("init", str(tmp_path / "real"))
    (tmp_path / "app").mkdir()
    script = tmp_path / "app" / "function_app.py"
    script.symlink_to(tmp_path / "real" / "function_app.py")
    (tmp_path / "real" / "function_app.py").chmod(0o640)
    replaced: list[str] = []
    rename = os.replace

    def recorded(source: Any, target: Any) -> None:
        replaced.append(Path(target).name)
        rename(source, target)

    monkeypatch.setattr(os, "replace", recorded)
    ok("new", "-t", "blueprint", "-n", "orders", "--app-dir", str(tmp_path / "app"))
    assert replaced == ["orders.py", "function_app.py"]
    assert script.is_symlink() and "register_functions(bp)" in script.read_text()
    assert stat.S_IMODE((tmp_path / "real" / "function_app.py").stat().st_mode) == 0o640


def test_new_prints_what_it_changed_and_how_to_try_it(tmp_path):
    ok("init", str(tmp_path))
    output = ok("new", "-t", "http", "-n", "greet", "--route", "greet/{name?}", "--app-dir", str(tmp_path)).output
    assert "Added greet (HTTP trigger) to function_app.py." in output
    assert f"updated {tmp_path / 'function_app.py'}" in output
    assert "curl http://localhost:7071/api/greet/{name?}" in output
    output = ok("new", "-t", "orchestrator", "-n", "flow", "--app-dir", str(tmp_path)).output
    assert "Start it: dfx start, then curl -X POST http://localhost:7071/api/orchestrators/flow" in output
    plan = json.loads(ok("new", "-t", "blueprint", "-n", "orders", "--app-dir", str(tmp_path), "--json").output)
    assert plan["functions"] == ["orders"] and plan["routes"] == ["orders"]
    assert [(Path(f["path"]).name, f["created"]) for f in plan["files"]] == [
        ("orders.py", True), ("function_app.py", False)
    ]  # fmt: skip


def test_templates_lists_short_and_core_tools_names():
    output = runner.invoke(app, ["templates"], env={"COLUMNS": "200"}).output
    for text in ("durable-starter", "Durable Functions HTTP starter", "Azure Queue Storage trigger", "Blueprint"):
        assert text in output
    listed = json.loads(ok("templates", "--json").output)
    assert [t["name"] for t in listed] == [
        "http", "durable-starter", "orchestrator", "activity", "entity", "timer", "queue", "blueprint"
    ]  # fmt: skip
    assert next(t for t in listed if t["name"] == "timer")["options"] == ["--schedule"]


@pytest.mark.parametrize("command", ["init", "new", "templates"])
def test_scaffold_commands_have_help_with_an_example(command):
    assert "Example: dfx " + command in invoke(command, "--help").output


READ_COMMANDS = [
    ["inspect", "status", "{id}"],
    ["inspect", "tree", "{id}"],
    ["inspect", "timeline", "{id}"],
    ["inspect", "instances"],
    ["inspect", "queues"],
    ["taskhub", "info"],
    ["taskhub", "list"],
    ["doctor", "{id}"],
    ["durable", "get-runtime-status", "--id", "{id}"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_every_view_reads_the_hello_instance_of_the_running_init_app(
    account, hello_host, hello_instance, init_output, command
):
    _, hub = hello_host
    where = ["--task-hub", hub, "--connection", account.connection_string(), "--app-dir", str(init_output[0])]
    args = [part.replace("{id}", hello_instance["instanceId"]) for part in command]
    table = ok(*args, *where).output
    data = json.loads(ok(*args, *where, "--json").output)
    assert table.strip() and data
    if "{id}" in command or command[1] == "instances":
        assert hello_instance["instanceId"] in table + json.dumps(data)


def test_durable_commands_drive_the_running_init_app_through_storage(account, hello_host, init_output):
    host, hub = hello_host
    where = ["--task-hub", hub, "--connection", account.connection_string(), "--app-dir", str(init_output[0])]
    ok("durable", "start-new", "--function-name", "hello_orchestrator", "--id", "from-cli", *where)
    done = finished(f"{host.url}/runtime/webhooks/durabletask/instances/from-cli")
    assert done["runtimeStatus"] == "Completed" and done["output"] == CITIES
    assert "Purged 1 instance" in ok("durable", "purge-history", "from-cli", "--yes", *where).output
    assert call("GET", f"{host.url}/runtime/webhooks/durabletask/instances/from-cli").status == 404
