"""A background loop that raises or returns is reported once per end and started again after a delay."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dfx.emulator import loops
from dfx.emulator.durable.background import Background


@pytest.fixture(autouse=True)
def short_delays(monkeypatch):
    monkeypatch.setattr(loops, "RESTART_DELAYS", (0.01, 0.02, 0.05))


def test_a_loop_that_raises_is_reported_restarted_and_logged(caplog):
    reports: list[tuple[str, str]] = []
    runs = 0

    async def body() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError(f"boom {runs}")
        stopping.set()

    async def main() -> None:
        await loops.keep_running(body, "The poller", stopping, lambda exc, doing: reports.append((str(exc), doing)))

    stopping = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="dfx.loops"):
        asyncio.run(asyncio.wait_for(main(), 5))
    assert runs == 3
    assert reports == [("boom 1", "The poller stopped"), ("boom 2", "The poller stopped")]
    assert [r.getMessage() for r in caplog.records] == [
        "The poller is restarted in 0.01 s.",
        "The poller is restarted in 0.02 s.",
    ]


def test_a_loop_that_returns_on_its_own_counts_as_ended():
    reports: list[BaseException] = []
    runs = 0

    async def body() -> None:
        nonlocal runs
        runs += 1
        if runs == 2:
            stopping.set()

    stopping = asyncio.Event()
    asyncio.run(
        asyncio.wait_for(loops.keep_running(body, "The lease loop", stopping, lambda e, d: reports.append(e)), 5)
    )
    assert runs == 2 and len(reports) == 1 and isinstance(reports[0], loops.LoopEnded)


def test_stopping_during_the_delay_ends_without_another_run():
    runs = 0

    async def body() -> None:
        nonlocal runs
        runs += 1
        raise ValueError("x")

    async def main() -> None:
        task = asyncio.create_task(loops.keep_running(body, "L", stopping, lambda e, d: stopping.set()))
        await asyncio.wait_for(task, 5)

    stopping = asyncio.Event()
    asyncio.run(main())
    assert runs == 1


def test_cancellation_ends_the_loop_at_once():
    async def body() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(loops.keep_running(body, "L", asyncio.Event(), lambda e, d: None))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_a_background_task_that_fails_is_reported_with_its_name():
    reports: list[tuple[str, str]] = []

    async def boom() -> None:
        raise RuntimeError("bug")

    async def main() -> None:
        background = Background(lambda exc, doing: reports.append((str(exc), doing)))
        background.spawn(boom(), "dfx-instance-x")
        await background.wait(1)

    asyncio.run(main())
    assert reports == [("bug", "Background work dfx-instance-x")]
