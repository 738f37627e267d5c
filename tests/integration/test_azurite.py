"""Azurite lifecycle through dfx.emulator.azurite: probing, start with data folder, stop only ours."""

from __future__ import annotations

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
