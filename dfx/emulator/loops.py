"""Background loops that cannot die: a loop that raises or returns is reported once and started again.

Every poller of the host (control queues, the work-item queue, the lease round; later the trigger listeners)
catches what it expects inside its own body. ``keep_running`` is the net under that: whatever still escapes
is reported with its cause through the owner's ``report`` callback, and the loop is restarted after a delay
that grows while it keeps failing, as DTFx's queue pollers do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("dfx.loops")

#: Seconds before a loop that ended is started again: the first delay, then longer while it keeps ending.
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
#: Seconds a loop must have run for its end to count as a first one again.
STEADY_AFTER = 60.0

Report = Callable[[BaseException, str], None]


class LoopEnded(Exception):
    """A loop returned although nobody asked it to stop."""


async def keep_running(body: Callable[[], Awaitable[None]], name: str, stopping: asyncio.Event, report: Report) -> None:
    """Run ``body`` until ``stopping`` is set, starting it again whenever it raises or returns on its own.

    ``report(exc, doing)`` hears each end once (storage trouble and bugs alike; the owner decides how to say
    it); the restart is logged too. Cancellation ends the loop at once.
    """
    ends = 0
    while not stopping.is_set():
        began = time.monotonic()
        try:
            await body()
            if stopping.is_set():
                return
            raise LoopEnded(f"{name} returned")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if stopping.is_set():
                return
            ends = 1 if time.monotonic() - began >= STEADY_AFTER else ends + 1
            delay = RESTART_DELAYS[min(ends, len(RESTART_DELAYS)) - 1]
            report(exc, f"{name} stopped")
            log.warning("%s is restarted in %g s.", name, delay)
            try:
                await asyncio.wait_for(stopping.wait(), timeout=delay)
            except (TimeoutError, asyncio.TimeoutError):
                continue
