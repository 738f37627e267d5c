"""Custom-class data in the SDK's loose (default) and strict typing modes, as Azure runs them.

Strict mode is ``AZURE_FUNCTIONS_DURABLE_STRICT_TYPING=1`` in ``local.settings.json`` (an app setting on
Azure). The worker cannot tell the activity converter the parameter's type, so a custom-class activity
input fails there, while a result decoded through the activity's return annotation still works.
"""

from __future__ import annotations

import json
import uuid

import azure.functions._durable_functions as codec
import pytest

from tests.e2e.conftest import APPS, HostLauncher, RunningHost, call, copy_app, eventually

pytestmark = pytest.mark.azurite
TERMINAL = {"Completed", "Failed", "Terminated"}


def run(host: RunningHost, orchestrator: str) -> dict:
    reply = call("POST", f"{host.url}/api/start/{orchestrator}")
    assert reply.status == 202, reply.text
    url = reply.json()["statusQueryGetUri"]

    def finished() -> dict | None:
        data = call("GET", url).json()
        return data if data.get("runtimeStatus") in TERMINAL else None

    return eventually(finished)


@pytest.fixture(scope="module")
def loose(module_hosts: HostLauncher) -> RunningHost:
    host = module_hosts(APPS / "typed_app", "--no-watch", "--task-hub", "loose" + uuid.uuid4().hex[:10])
    host.wait_for("Task hub")
    return host


@pytest.fixture(scope="module")
def strict(module_hosts: HostLauncher, tmp_path_factory: pytest.TempPathFactory) -> RunningHost:
    if not hasattr(codec, "_STRICT_ENV_VAR"):
        pytest.skip("this azure-functions has no strict typing mode")
    app = copy_app(APPS / "typed_app", tmp_path_factory.mktemp("strict") / "typed_app")
    settings = {"IsEncrypted": False, "Values": {"AZURE_FUNCTIONS_DURABLE_STRICT_TYPING": "1"}}
    (app / "local.settings.json").write_text(json.dumps(settings))
    host = module_hosts(app, "--no-watch", "--task-hub", "strict" + uuid.uuid4().hex[:10], copy=False)
    host.wait_for("Task hub")
    return host


def test_loose_mode_passes_custom_classes_both_ways(loose: RunningHost):
    data = run(loose, "ship")
    assert data["runtimeStatus"] == "Completed", data
    assert data["output"] == {"type": "Order", "count": 6}


def test_loose_mode_decodes_an_annotated_activity_result(loose: RunningHost):
    assert run(loose, "ship_plain")["output"] == {"type": "Order", "count": 4}


def test_strict_mode_fails_a_custom_class_activity_input_as_azure_does(strict: RunningHost):
    data = run(strict, "ship")
    assert data["runtimeStatus"] == "Failed"
    assert "Activity function 'pack' failed:  ValueError: activity trigger input must be a string" in data["output"]
    assert '"__class__": "Order"' in data["output"]


def test_strict_mode_decodes_an_annotated_activity_result(strict: RunningHost):
    data = run(strict, "ship_plain")
    assert data["runtimeStatus"] == "Completed", data
    assert data["output"] == {"type": "Order", "count": 4}
