"""Azurite lifecycle through dfx.emulator.azurite: probing, start with data folder, stop only ours."""

from __future__ import annotations

import os
import socket
import time

import pytest

from dfx.emulator import azurite
from dfx.emulator.storage import development_storage
from tests.conftest import free_port

pytestmark = pytest.mark.azurite


def test_endpoints_of_the_session_azurite_answer(account):
    assert azurite.endpoints_answer(account) == {"blob": True, "queue": True, "table": True}
    assert azurite.is_running(account)


def test_nothing_answers_on_unused_ports():
    dead = development_storage(blob_port=free_port(), queue_port=free_port(), table_port=free_port())
    assert azurite.endpoints_answer(dead, timeout=0.5) == {"blob": False, "queue": False, "table": False}


def test_start_with_a_data_folder_record_state_and_stop_only_what_dfx_started(tmp_path):
    options = azurite.AzuriteOptions(
        location=tmp_path / "data", blob_port=free_port(), queue_port=free_port(), table_port=free_port()
    )
    assert "--location" in options.arguments() and "--inMemoryPersistence" not in options.arguments()
    process = azurite.start_azurite(options, log_path=tmp_path / "azurite.log")
    try:
        azurite.write_state(tmp_path / "state", process)
        assert azurite.is_running(options.account())
        recorded = azurite.read_state(tmp_path / "state")
        assert recorded is not None and recorded.pid == process.pid
        assert azurite.stop_recorded(tmp_path / "state") is not None
        assert not azurite.is_running(options.account(), timeout=0.5)
        assert azurite.read_state(tmp_path / "state") is None
        assert azurite.stop_recorded(tmp_path / "state") is None, "a second stop finds nothing to stop"
    finally:
        process.stop()


def test_ports_already_taken_are_refused_before_starting(tmp_path, azurite):
    taken = azurite.options
    options = type(taken)(blob_port=taken.blob_port, queue_port=free_port(), table_port=taken.table_port)
    from dfx.emulator.azurite import AzuriteStartError, start_azurite

    with pytest.raises(AzuriteStartError, match=f"blob {taken.blob_port}, table {taken.table_port}"):
        start_azurite(options, log_path=tmp_path / "azurite.log", ready_timeout=3)
    assert not (tmp_path / "azurite.log").exists()


def test_a_missing_launcher_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(azurite, "find_azurite", lambda cwd=None: None)
    with pytest.raises(azurite.AzuriteNotFoundError) as info:
        options = azurite.AzuriteOptions(blob_port=free_port(), queue_port=free_port(), table_port=free_port())
        azurite.start_azurite(options, log_path=tmp_path / "log")
    assert "dfx azurite install" in (info.value.hint or "")


def test_missing_node_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(azurite.shutil, "which", lambda name: None)
    with pytest.raises(azurite.NodeNotFoundError) as info:
        azurite.require_node()
    assert "Node.js" in (info.value.hint or "")


# ---------------------------------------------------------------------------------------------------
# dfx start's storage: ports held by something else, and an Azurite that already answers (issue 12, item 5)


def ensure(account, tmp_path):
    said: list[str] = []
    started = azurite.ensure_azurite(account, data_dir=tmp_path / "app" / ".dfx" / "azurite",
                                     log_path=tmp_path / "azurite.log", say=said.append)  # fmt: skip
    return started, said


def assert_points_at_free_ports(hint: str) -> None:
    """The hint gives a full connection string on free ports, not UseDevelopmentStorage with a proxy URI."""
    import re

    from dfx.emulator.storage.connection import parse_connection_string

    assert "AzureWebJobsStorage" in hint and "DevelopmentStorageProxyUri" not in hint
    connection = re.search(r"(DefaultEndpointsProtocol=\S+)", hint)
    assert connection is not None, hint
    suggested = parse_connection_string(connection.group(1))
    for service in ("blob", "queue", "table"):
        assert f"{service.capitalize()}Endpoint=http://127.0.0.1:" in connection.group(1)
        assert not azurite._port_in_use("127.0.0.1", suggested.port(service)), "the suggested ports are free"


@pytest.mark.parametrize("service", ["blob", "queue", "table"])
def test_a_storage_port_held_by_a_program_that_is_not_azurite_is_named_at_once(tmp_path, service):
    with socket.create_server(("127.0.0.1", 0)) as foreign:  # takes connections, never answers
        port = foreign.getsockname()[1]
        ports = {
            "blob_port": free_port(),
            "queue_port": free_port(),
            "table_port": free_port(),
            f"{service}_port": port,
        }
        account = development_storage(**ports)
        started = time.monotonic()
        with pytest.raises(azurite.StoragePortsError) as info:
            ensure(account, tmp_path)
    assert time.monotonic() - started < 5, "a program that is not Azurite is not waited for"
    message = info.value.message
    assert message.startswith(f"Port {port} ({service}) on 127.0.0.1 is held by python"), message
    assert f"(pid {os.getpid()}), which gives no HTTP answer" in message and "It is not Azurite" in message
    free = [f"{p} ({s})" for s, p in (("blob", ports["blob_port"]), ("queue", ports["queue_port"]),
                                      ("table", ports["table_port"])) if s != service]  # fmt: skip
    assert f"; {free[0]} and {free[1]} are free." in message, message
    assert_points_at_free_ports(info.value.hint or "")
    assert not (tmp_path / "app").exists(), "no Azurite was started"


def test_an_http_server_that_is_not_azurite_is_named_with_what_it_answers(tmp_path):
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        account = development_storage(blob_port=port, queue_port=free_port(), table_port=free_port())
        with pytest.raises(azurite.StoragePortsError) as info:
            ensure(account, tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert info.value.message.startswith(f"Port {port} (blob) on 127.0.0.1 is held by python"), info.value.message
    assert "which answers as 'BaseHTTP/" in info.value.message
    assert_points_at_free_ports(info.value.hint or "")


def test_another_projects_azurite_is_used_and_its_data_folder_named(tmp_path):
    other = tmp_path / "other-project" / ".dfx" / "azurite"
    options = azurite.AzuriteOptions(location=other, blob_port=free_port(), queue_port=free_port(),
                                     table_port=free_port())  # fmt: skip
    second = azurite.start_azurite(options, log_path=tmp_path / "other.log", ready_timeout=20)
    try:
        started, said = ensure(options.account(), tmp_path)
        assert started is None
        ports = f"{options.blob_port}, {options.queue_port}, {options.table_port}"
        assert said == [
            f"Using the Azurite already running on 127.0.0.1 ports {ports} (node azurite (pid {second.pid}), "
            f"data in {other}, not in this app's {tmp_path / 'app' / '.dfx' / 'azurite'})."
        ]
        # an Azurite on some of the ports and nothing on the others: named, not waited for beyond the wait
        mixed = development_storage(blob_port=options.blob_port, queue_port=free_port(), table_port=free_port())
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(azurite, "BUSY_STORAGE_WAIT", 0.5)
            with pytest.raises(azurite.StoragePortsError) as info:
                ensure(mixed, tmp_path)
        assert info.value.message.startswith(f"Azurite answers on {options.blob_port} (blob) on 127.0.0.1, but ")
        assert_points_at_free_ports(info.value.hint or "")
    finally:
        second.stop()


def test_the_session_azurite_is_said_to_keep_its_data_in_memory(account, azurite, tmp_path):
    started, said = ensure(account, tmp_path)
    assert started is None and len(said) == 1
    assert said[0].startswith("Using the Azurite already running on 127.0.0.1 ports ")
    assert said[0].endswith(f"(node azurite (pid {azurite.pid}), data in memory only).")


@pytest.mark.parametrize("owner", [None, ("node", "/x/node_modules/.bin/azurite"), ("docker-proxy", "-proto")])
def test_a_silent_port_that_may_be_a_busy_azurite_is_waited_for_then_named(tmp_path, monkeypatch, owner):
    """Not known to be foreign (no process found, an Azurite, a container's port proxy): waited for, as a busy
    Azurite answers late; still silent after the wait, it is named."""
    from dfx.emulator.listeners import PortOwner

    monkeypatch.setattr(azurite, "BUSY_STORAGE_WAIT", 1.0)
    monkeypatch.setattr(azurite, "port_owner", lambda port, **_: owner and PortOwner(4242, owner))
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        account = development_storage(blob_port=port, queue_port=free_port(), table_port=free_port())
        started = time.monotonic()
        said: list[str] = []
        with pytest.raises(azurite.StoragePortsError) as info:
            azurite.ensure_azurite(account, data_dir=tmp_path / "data", log_path=tmp_path / "log", say=said.append)
    assert 1.0 <= time.monotonic() - started < 5
    assert said == ["Storage answers slowly; waiting for it…"]
    holder = PortOwner(4242, owner).describe() if owner else "a program"
    assert info.value.message.startswith(f"Port {port} (blob) on 127.0.0.1 is held by {holder}, which gives no HTTP")
    assert "No answer within 1 s" in info.value.message
    assert_points_at_free_ports(info.value.hint or "")
