"""Hot reload and load errors: edits are served after a restart, broken apps say where, and recover."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tests.e2e.conftest import APPS, HostLauncher, RunningHost, call, eventually

pytestmark = pytest.mark.azurite


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def test_an_edit_to_function_app_is_served_after_reload(start_host: HostLauncher):
    host = start_host(APPS / "http_app")
    assert call("GET", f"{host.url}/api/version").text == "v1"
    edit(host.app_dir / "function_app.py", 'return "v1"', 'return "v2"')
    eventually(lambda: call("GET", f"{host.url}/api/version").text == "v2")
    host.wait_for("Detected changes in function_app.py")


def test_a_syntax_error_names_file_and_line_and_the_host_recovers_when_fixed(start_host: HostLauncher):
    host = start_host(APPS / "broken_app")
    script = host.app_dir / "function_app.py"
    good = script.read_text()
    mark = len(host.lines)
    script.write_text(good + "\ndef oops(:\n")
    line = good.count("\n") + 2
    host.wait_for(f"function_app.py:{line}: invalid syntax", after=mark)
    reply = eventually(lambda: (r := call("GET", f"{host.url}/api/fine")).status == 503 and r)
    assert "Function host is not running" in reply.text and "invalid syntax" in reply.text
    script.write_text(good)
    eventually(lambda: call("GET", f"{host.url}/api/fine").text == "fine")


def run_dfx_start(app_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dfx", "start", str(app_dir), "--no-watch", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def write_app(tmp_path: Path, code: str, host_json: str = '{"version": "2.0"}') -> Path:
    (tmp_path / "function_app.py").write_text(code)
    (tmp_path / "host.json").write_text(host_json)
    return tmp_path


def test_an_import_error_without_watch_exits_with_the_users_file_and_line(tmp_path: Path, account):
    app = write_app(tmp_path, "import azure.functions as func\napp = func.FunctionApp()\nraise RuntimeError('bad')\n")
    result = run_dfx_start(app, env={"AzureWebJobsStorage": account.connection_string()})
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ") and "function_app.py:3: RuntimeError: bad" in first
    assert "Traceback" in result.stderr and "site-packages" not in result.stderr


def test_a_binding_that_does_not_match_the_signature_uses_the_workers_message(tmp_path: Path, account):
    code = (
        "import azure.functions as func\napp = func.FunctionApp()\n\n"
        "@app.route(route='x')\ndef x(req: func.HttpRequest, extra) -> str:\n    return 'x'\n"
    )
    result = run_dfx_start(write_app(tmp_path, code), env={"AzureWebJobsStorage": account.connection_string()})
    assert result.returncode == 1
    assert (
        "cannot load the x function: the following parameters are declared in Python but not in function.json: "
        "{'extra'}" in result.stderr
    )


def test_two_apps_in_one_script_are_refused(tmp_path: Path, account):
    code = "import azure.functions as func\na = func.FunctionApp()\nb = func.FunctionApp()\n"
    result = run_dfx_start(write_app(tmp_path, code), env={"AzureWebJobsStorage": account.connection_string()})
    assert "More than one FunctionApp or other top level function app instances are defined." in result.stderr


def test_a_broken_host_json_names_the_file_and_line(tmp_path: Path):
    app = write_app(tmp_path, "", host_json='{\n  "version": "2.0",\n  "extensions": {,}\n}')
    result = run_dfx_start(app)
    assert result.returncode == 1 and "host.json:3:" in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr


def test_local_settings_values_reach_the_environment_unless_already_set(start_host: HostLauncher, tmp_path: Path):
    code = (
        "import os\nimport azure.functions as func\n"
        "app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n\n"
        "@app.route(route='env')\ndef env(req: func.HttpRequest) -> str:\n"
        "    return os.environ.get('GREETING', '') + '|' + os.environ.get('AZURE_FUNCTIONS_ENVIRONMENT', '')\n"
    )
    app = write_app(tmp_path, code)
    (app / "local.settings.json").write_text(json.dumps({"Values": {"GREETING": "hi", "AzureWebJobsStorage": "x"}}))
    host: RunningHost = start_host(app, "--no-watch", copy=False)
    assert call("GET", f"{host.url}/api/env").text == "hi|Development"
    host.wait_for("Skipping 'AzureWebJobsStorage' from local settings as it's already defined")


def test_local_storage_that_does_not_answer_is_started_and_stopped_with_the_host(start_host: HostLauncher, tmp_path):
    from dfx.emulator.storage.connection import development_storage
    from tests.conftest import free_port

    account = development_storage(blob_port=free_port(), queue_port=free_port(), table_port=free_port())
    start_host.account = account  # the host gets this connection string, on which nothing listens yet
    host = start_host(APPS / "broken_app", "--no-watch", wait=None)
    host.wait_for("Storage is not running: starting Azurite", timeout=20)
    host.wait_for("Host started", timeout=30)
    assert call("GET", f"{host.url}/api/fine").text == "fine"
    assert (host.app_dir / ".dfx" / "azurite").is_dir()
    assert host.stop() == 0
    assert "Azurite stopped." in host.output


VERSIONED_APP = (
    "import azure.functions as func\n"
    "app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n\n"
    "@app.route(route='version')\n"
    "def version(req: func.HttpRequest) -> str:\n"
    "    return 'VERSION'\n"
)
BROKEN = "\ndef oops(:\n"


class RequestStream:
    """Clients that send requests without pause, each on a new connection, and record what every one got.

    Nothing is retried: an answer is its HTTP status and body, anything else (``RemoteDisconnected``, a reset, a
    timeout) is recorded as it came. Some clients pause between connecting and sending, as a client on a loaded
    machine may, so that connections accepted by a host that is being stopped are not rare.
    """

    def __init__(self, port: int, pauses: tuple[float, ...]) -> None:
        self.port = port
        self.outcomes: list[list[tuple[float, str]]] = [[] for _ in pauses]
        """Per client, in order: when each request was sent, and what came back."""
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.run, args=(pause, outcomes), daemon=True)
            for pause, outcomes in zip(pauses, self.outcomes, strict=True)
        ]

    def run(self, pause: float, outcomes: list[tuple[float, str]]) -> None:
        while not self.stopping.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
            sent = time.monotonic()
            try:
                connection.connect()
                if pause:
                    time.sleep(pause)
                connection.request("GET", "/api/version")
                response = connection.getresponse()
                outcomes.append((sent, f"{response.status} {response.read().decode()}"))
            except (OSError, http.client.HTTPException) as exc:
                outcomes.append((sent, f"no answer: {type(exc).__name__}: {exc} (pause {pause} s)"))
            finally:
                connection.close()

    def __enter__(self) -> RequestStream:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=25)

    def answered_since(self, since: float, check: Callable[[str], bool]) -> bool:
        """Some request sent after ``since`` got an answer that passes ``check``."""
        return any(at > since and check(outcome) for client in self.outcomes for at, outcome in list(client))


def test_requests_sent_without_pause_through_reloads_are_all_answered(start_host: HostLauncher, tmp_path: Path):
    """Every request sent while hosts are swapped gets an HTTP answer, into a broken app and back (issue 12, item 8).

    The host being replaced answers what it accepted (``dfx.emulator.http.drain``); what it did not accept waits on
    the supervisor's socket for the next host, which answers it — a broken app with 503 and the error.
    """
    deadline = time.monotonic() + 30
    script = tmp_path / "function_app.py"
    host = start_host(write_app(tmp_path, VERSIONED_APP.replace("VERSION", "v1")), copy=False)
    # (the app's code, the answer its host gives)
    stages = [
        (VERSIONED_APP.replace("VERSION", "v2"), "200 v2"),
        (VERSIONED_APP.replace("VERSION", "v3") + BROKEN, "503 "),
        (VERSIONED_APP.replace("VERSION", "v4"), "200 v4"),
        (VERSIONED_APP.replace("VERSION", "v5"), "200 v5"),
    ]

    def stage(answer: str) -> int:
        """Which app answered: 0 for v1, then the index in ``stages`` plus one; -1 for no app of this test."""
        if answer == "200 v1":
            return 0
        if answer.startswith("503 ") and "invalid syntax" in answer and "Function host is not running" in answer:
            return 2
        return next((i + 1 for i, (_, expected) in enumerate(stages) if answer == expected), -1)

    with RequestStream(host.port, pauses=(0, 0, 0, 0.02, 0.05)) as stream:
        eventually(lambda: stream.answered_since(0, lambda answer: stage(answer) == 0))
        for number, (code, _) in enumerate(stages, start=1):
            time.sleep(0.3)  # requests to the current host, until it is replaced
            mark = len(host.lines)
            changed = time.monotonic()
            script.write_text(code)
            host.wait_for("Detected changes in function_app.py", after=mark)
            served = partial(lambda answer, number: stage(answer) == number, number=number)
            eventually(partial(stream.answered_since, changed, served), timeout=max(1.0, deadline - time.monotonic()))
    answers = [outcome for client in stream.outcomes for _, outcome in client]
    unanswered = [answer for answer in answers if answer.startswith("no answer")]
    assert not unanswered, f"{len(unanswered)} of {len(answers)} requests got no HTTP answer: {unanswered[:5]}"
    assert len(answers) > 50
    assert all(stage(answer) >= 0 for answer in answers), sorted(set(answers))
    for client in stream.outcomes:  # each client saw the apps in order: no answer from a host already replaced
        seen = [stage(outcome) for _, outcome in client]
        assert seen == sorted(seen), seen
    assert time.monotonic() < deadline


def host_child(host: RunningHost) -> int:
    children = Path(f"/proc/{host.process.pid}/task/{host.process.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def test_a_host_that_dies_on_its_own_is_replaced_and_meanwhile_requests_get_a_503_saying_why(
    start_host: HostLauncher,
):
    host = start_host(APPS / "http_app")
    first = host_child(host)
    mark = len(host.lines)
    os.kill(first, 9)
    reply = eventually(lambda: (r := call("GET", f"{host.url}/api/version")).status == 503 and r, timeout=5)
    assert reply.json() == {
        "Message": "Function host is not running.",
        "Error": "The host was killed by SIGKILL; dfx restarts it in 1 s.",
    }
    assert reply.header("Retry-After") == "1"
    host.wait_for("The host was killed by SIGKILL; dfx restarts it in 1 s.", after=mark)
    eventually(lambda: call("GET", f"{host.url}/api/version").text == "v1")
    host.wait_for("Restarting the host", after=mark)
    assert host_child(host) != first
