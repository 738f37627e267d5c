"""The engine's background tasks: sessions, activities, deletes and due timers, waited for when it stops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class Background:
    """Tasks started and left to run; the host waits for them (a while) before it lets go of its partitions.

    Each task catches what it expects; anything that still ends one is handed to ``report`` with the task's
    name, so no failure goes unsaid ("Task exception was never retrieved" at best, otherwise).
    """

    def __init__(self, report: Callable[[BaseException, str], None] | None = None) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self._report = report

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self._report is not None:
            self._report(exc, f"Background work {task.get_name()}")

    async def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the tasks running now."""
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=timeout)
