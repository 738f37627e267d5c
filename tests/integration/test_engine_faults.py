"""The engine's background loops under storage faults: each failure is said, backed off from, and polled past.

The engine runs in this process on a real task hub in the suite's Azurite; ``FaultyHub`` passes every call
through to it unless a test armed a fault for that operation (``"queues.receive"``, ``"partitions.replace"``,
...), in the forms the layers below can raise: an error answer (5xx, an unexpected 4xx), a timeout, a refused
connection, or a value such as a lease write that lost.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dfx.emulator.config import load_settings
from dfx.emulator.durable.client import DurableClient
from dfx.emulator.durable.engine import Engine
from dfx.emulator.logs import HostConsole
from dfx.emulator.storage import StorageAccount, TaskHub
from dfx.emulator.storage.errors import CheckpointConflictError
from dfx.emulator.storage.rest import ServiceError
from dfx.emulator.worker.invoker import Invoker
from dfx.emulator.worker.loader import load_functions
from dfx.model.history import OrchestrationStatus

pytestmark = pytest.mark.azurite

APP = """
import azure.durable_functions as df

app = df.DFApp()
CALLS = []


@app.orchestration_trigger(context_name="context")
def greet(context):
    first = yield context.call_activity("hello", "Tokyo")
    second = yield context.call_activity("hello", "Lima")
    return [first, second]


@app.activity_trigger(input_name="city")
def hello(city: str) -> str:
    CALLS.append(city)
    return f"Hello {city}"
"""
HOST_JSON = """{"version": "2.0", "extensions": {"durableTask": {"storageProvider": {
  "maxQueuePollingInterval": "00:00:00.4",
  "leaseInterval": "00:00:03", "leaseRenewInterval": "00:00:00.5",
  "controlQueueVisibilityTimeout": "00:00:03", "workItemQueueVisibilityTimeout": "00:00:03"}}}}"""

#: The error kinds a storage call can end with, as the layers below raise them.
ERROR_KINDS: dict[str, Callable[[], BaseException]] = {
    "5xx": lambda: ServiceError(500, "InternalError", "Server encountered an internal error."),
    "unexpected 4xx": lambda: ServiceError(400, "InvalidQueryParameterValue", "Value for one of the query params."),
    "timeout": lambda: asyncio.TimeoutError(),
    "connection refused": lambda: aiohttp.ClientConnectionError("Cannot connect to host 127.0.0.1:10001"),
}


@dataclass
class Return:
    """An armed outcome that returns ``value`` instead of calling storage."""

    value: Any


@dataclass
class Call:
    """An armed outcome that calls storage, after ``delay`` seconds; ``then`` raises instead once it is over."""

    delay: float = 0.0
    then: BaseException | None = None


Outcome = BaseException | Return | Call


class Faults:
    """What a test armed per operation (and target: a call's first argument, such as a queue), and the calls."""

    def __init__(self) -> None:
        self.armed: dict[tuple[str, str | None], list[Outcome]] = defaultdict(list)
        self.calls: dict[str, list[tuple[float, Any]]] = defaultdict(list)

    def arm(self, operation: str, *outcomes: Outcome, target: str | None = None) -> None:
        self.armed[operation, target].extend(outcomes)

    def pending(self, operation: str, target: str | None = None) -> int:
        return len(self.armed[operation, target])

    def times(self, operation: str, target: str | None = None) -> list[float]:
        return [at for at, first in self.calls[operation] if target is None or first == target]

    def outcome(self, operation: str, first: Any) -> Outcome | None:
        self.calls[operation].append((time.monotonic(), first))
        for key in ((operation, first), (operation, None)):
            if self.armed.get(key):
                return self.armed[key].pop(0)
        return None


class _Faulty:
    """A part of the hub (queues, partitions, history, instances) whose coroutine methods obey ``Faults``."""

    def __init__(self, target: Any, prefix: str, faults: Faults) -> None:
        self._target, self._prefix, self._faults = target, prefix, faults

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not inspect.iscoroutinefunction(value):
            return value
        operation = f"{self._prefix}.{name}"
        faults = self._faults

        async def call(*args: Any, **kwargs: Any) -> Any:
            outcome = faults.outcome(operation, args[0] if args and isinstance(args[0], str) else None)
            if isinstance(outcome, Return):
                return outcome.value
            if isinstance(outcome, Call):
                await asyncio.sleep(outcome.delay)
                if outcome.then is not None:
                    raise outcome.then
            elif outcome is not None:
                raise outcome
            return await value(*args, **kwargs)

        return call


class FaultyHub:
    """A real ``TaskHub`` whose storage operations fail when a test says so."""

    def __init__(self, hub: TaskHub, faults: Faults) -> None:
        self._hub = hub
        for part in ("queues", "partitions", "history", "instances"):
            setattr(self, part, _Faulty(getattr(hub, part), part, faults))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hub, name)


@dataclass
class Running:
    engine: Engine
    client: DurableClient
    hub: TaskHub
    faults: Faults

    async def run_greet(self, instance_id: str | None = None, timeout: float = 20.0) -> OrchestrationStatus:
        return await self.finished(await self.client.start("greet", instance_id, None), timeout)

    async def finished(self, instance_id: str, timeout: float = 20.0) -> OrchestrationStatus:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = await self.hub.instances.get(instance_id)
            if row is not None and row.runtime_status in (OrchestrationStatus.Completed, OrchestrationStatus.Failed):
                return row.runtime_status
            await asyncio.sleep(0.05)
        raise AssertionError(f"{instance_id} did not finish")


@pytest.fixture
async def engines(hub: TaskHub, account: StorageAccount, tmp_path: Path) -> AsyncIterator[Callable[[], Any]]:
    """Start engines on one task hub behind one ``Faults`` (each stopped after the test unless stopped before)."""
    (tmp_path / "function_app.py").write_text(APP)
    (tmp_path / "host.json").write_text(HOST_JSON)
    cwd, path, modules = os.getcwd(), list(sys.path), set(sys.modules)
    try:
        index = load_functions(tmp_path)
    finally:
        os.chdir(cwd)
        sys.path[:] = path
    settings = load_settings(tmp_path, task_hub=hub.name, connection=account.connection_string())
    faults = Faults()
    started: list[tuple[Engine, Invoker]] = []

    async def start() -> Running:
        invoker = Invoker(2, str(tmp_path))
        engine = Engine(settings, FaultyHub(hub, faults), index, invoker, HostConsole())  # type: ignore[arg-type]
        await engine.start()
        started.append((engine, invoker))
        return Running(engine, DurableClient(engine.hub, dispatcher=engine), hub, faults)

    try:
        yield start
    finally:
        for engine, invoker in started:
            if not engine.stopping.is_set():
                await engine.stop()
            invoker.close()
        for module in set(sys.modules) - modules:
            del sys.modules[module]


@pytest.fixture
async def running(engines: Callable[[], Any]) -> Running:
    return await engines()


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("kind", ERROR_KINDS)
@pytest.mark.parametrize("poller", ["control queue", "work-item queue"])
async def test_the_pollers_say_each_error_kind_back_off_and_poll_again(
    running: Running, poller: str, kind: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG, logger="dfx.storage")
    names = running.hub.names
    queue = names.work_item_queue if poller == "work-item queue" else names.control_queues[0]
    await eventually(lambda: len(running.faults.times("queues.receive", queue)) > 2)  # it polls
    running.faults.arm("queues.receive", *(ERROR_KINDS[kind]() for _ in range(5)), target=queue)
    armed_at = len(running.faults.times("queues.receive", queue))
    running.engine.wake(queue)  # from the shortest poll step, as after a message
    await eventually(lambda: running.faults.pending("queues.receive", queue) == 0)
    await eventually(lambda: len(running.faults.times("queues.receive", queue)) > armed_at + 6)  # and polls on

    failing = running.faults.times("queues.receive", queue)[armed_at : armed_at + 5]
    gaps = [b - a for a, b in itertools.pairwise(failing)]
    assert min(gaps) > 0.03 and gaps[-1] > 0.15 and gaps[-1] > 2.5 * gaps[0], gaps  # from 0.05 s, x1.6-2.4 a step
    said = [r.getMessage() for r in caplog.records if r.name == "dfx.storage" and r.levelno >= logging.WARNING]
    failures = [line for line in said if "answers again" not in line]
    assert len(failures) == 1, said  # said once; the repeats are debug lines
    assert queue in failures[0] or "does not answer" in failures[0], said
    assert not any(r.exc_info for r in caplog.records), "a storage failure is not a bug: no traceback"
    assert await running.run_greet() == OrchestrationStatus.Completed


@pytest.mark.parametrize("kind", ERROR_KINDS)
async def test_the_lease_loop_says_each_error_kind_and_goes_on(
    running: Running, kind: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG, logger="dfx.storage")
    owned = len(running.engine.owned)
    running.faults.arm("partitions.read_all", *(ERROR_KINDS[kind]() for _ in range(3)))
    armed_at = len(running.faults.times("partitions.read_all"))
    await eventually(lambda: len(running.faults.times("partitions.read_all")) > armed_at + 4)
    said = [r.getMessage() for r in caplog.records if r.name == "dfx.storage" and r.levelno >= logging.WARNING]
    failures = [line for line in said if "answers again" not in line]
    assert len(failures) == 1, said
    assert failures[0].startswith("The partition lease round failed") or "does not answer" in failures[0], said
    assert len(running.engine.owned) == owned
    assert await running.run_greet() == OrchestrationStatus.Completed


async def test_a_lost_lease_stops_that_partition_s_poller_and_a_later_round_takes_it_back(running: Running):
    owned = set(running.engine.owned)
    running.faults.arm("partitions.replace", Return(False))
    await eventually(lambda: len(running.engine.owned) < len(owned))
    await eventually(lambda: set(running.engine.owned) == owned)
    assert await running.run_greet() == OrchestrationStatus.Completed


@pytest.mark.parametrize("kind", ["5xx", "timeout"])
async def test_a_commit_that_fails_is_given_back_and_the_orchestration_completes(running: Running, kind: str):
    running.faults.arm("history.append", ERROR_KINDS[kind]())
    assert await running.run_greet() == OrchestrationStatus.Completed
    assert running.faults.pending("history.append") == 0


async def test_a_failed_checkpoint_row_write_is_retried_until_the_row_is_right(running: Running):
    running.faults.arm("instances.merge", ERROR_KINDS["5xx"](), ERROR_KINDS["connection refused"]())
    assert await running.run_greet() == OrchestrationStatus.Completed
    assert running.faults.pending("instances.merge") == 0


async def test_a_checkpoint_conflict_is_given_back_and_the_orchestration_completes(running: Running):
    running.faults.arm("history.append", CheckpointConflictError("The sentinel's ETag changed."))
    assert await running.run_greet() == OrchestrationStatus.Completed
    assert running.faults.pending("history.append") == 0


async def test_a_stop_while_an_activity_reply_waits_for_its_commit_loses_nothing(engines: Callable[[], Any]):
    first = await engines()
    # The first episode commits; the second (the activity's reply, handed over in memory) is slow and fails.
    slow_failure = Call(delay=1.0, then=ERROR_KINDS["5xx"]())
    first.faults.arm("history.append", Call(), slow_failure, target="stopped-1")
    await first.client.start("greet", "stopped-1", None)
    await eventually(lambda: len(first.faults.times("history.append", "stopped-1")) >= 2)
    await first.engine.stop()
    assert first.faults.pending("history.append", "stopped-1") == 0
    second = await engines()
    assert await second.finished("stopped-1") == OrchestrationStatus.Completed
    # Tokyo's reply was kept (made durable, not dropped), so Tokyo ran once; Lima's work item was sent before
    # the failed append (the provider's commit order) and runs again with the replayed episode.
    assert sys.modules["function_app"].CALLS.count("Tokyo") == 1
