"""Test fixtures: one real Azurite for the whole session, and a fresh task hub per test."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dfx.emulator.azurite import AzuriteOptions, AzuriteProcess, start_azurite
from dfx.emulator.storage import StorageAccount, TaskHub


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteProcess]:
    """An in-memory Azurite on free ports, started through dfx.emulator.azurite and stopped at the end."""
    options = AzuriteOptions(blob_port=free_port(), queue_port=free_port(), table_port=free_port())
    log_path = Path(tmp_path_factory.mktemp("azurite")) / "azurite.log"
    process = start_azurite(options, log_path=log_path, ready_timeout=20)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def account(azurite: AzuriteProcess) -> StorageAccount:
    return azurite.options.account()


@pytest.fixture
def hub_name() -> str:
    """A task hub name no other test uses."""
    return "t" + uuid.uuid4().hex[:16]


@pytest.fixture
async def hub(account: StorageAccount, hub_name: str) -> AsyncIterator[TaskHub]:
    """A created task hub, deleted after the test."""
    async with TaskHub(account, hub_name) as taskhub:
        await taskhub.create()
        yield taskhub
        await taskhub.delete()


@pytest.fixture
def conn(account: StorageAccount, hub_name: str) -> list[str]:
    """The CLI options that point a command at this test's task hub."""
    return ["--task-hub", hub_name, "--connection", account.connection_string()]
