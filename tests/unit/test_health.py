"""StorageHealth: an outage is said once, and over only when every service that failed answers again."""

from __future__ import annotations

import logging

import pytest

from dfx.emulator.health import StorageHealth
from dfx.emulator.storage.errors import StorageError, StorageUnavailableError


def down(service: str) -> StorageUnavailableError:
    return StorageUnavailableError(f"Storage account x at http://{service} does not answer.").at(service)


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_outage_of_several_services_is_said_once_and_its_end_once(caplog: pytest.LogCaptureFixture):
    health = StorageHealth()
    with caplog.at_level(logging.DEBUG, "dfx.storage"):
        for _ in range(50):
            health.failed(down("queue"), "Receiving")
            health.failed(down("table"), "The lease round")
        health.answered("queue")
        assert health.reason is not None  # the tables have not answered yet
        health.answered("queue")
        health.answered("table")
    lines = said(caplog)
    assert len(lines) == 2 and "does not answer" in lines[0] and lines[1].startswith("Storage answers again")
    assert health.reason is None


def test_a_table_outage_is_not_ended_by_the_queues_answering(caplog: pytest.LogCaptureFixture):
    health = StorageHealth()
    with caplog.at_level(logging.WARNING, "dfx.storage"):
        for _ in range(5):
            health.failed(down("table"), "The lease round")
            health.answered("queue")
    assert len(said(caplog)) == 1


def test_other_storage_errors_are_one_line_per_kind_in_a_while(caplog: pytest.LogCaptureFixture):
    health = StorageHealth()
    with caplog.at_level(logging.WARNING, "dfx.storage"):
        for _ in range(20):
            health.failed(StorageError("the server is busy"), "Receiving")
    assert said(caplog) == ["Receiving failed: the server is busy"]


def test_blips_that_end_at_once_are_said_once_in_a_while_not_once_each(caplog: pytest.LogCaptureFixture):
    health = StorageHealth()
    with caplog.at_level(logging.DEBUG, "dfx.storage"):
        for _ in range(20):  # one poller's calls time out while the others answer
            health.failed(down("queue"), "Receiving from q")
            health.answered("queue")
    lines = said(caplog)
    assert len(lines) == 2 and "does not answer" in lines[0] and lines[1].startswith("Storage answers again")
    assert health.reason is None
