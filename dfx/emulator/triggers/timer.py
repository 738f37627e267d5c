"""Timer triggers: each timer function fires on its schedule, on one host at a time, with the host's status.

As the WebJobs timer extension does it: the listener runs only while this host holds the function's listener
lock (a 60 s blob lease renewed every 30 s; another host tries again every minute); with ``use_monitor`` the
schedule status (``Last``/``Next``/``LastUpdated``) is kept in storage, so a run missed while no host was up
fires once at start with ``past_due``; ``run_on_startup`` fires once at start otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dfx.emulator.storage.webjobs import HostBlobs
from dfx.emulator.triggers.schedules import IntervalSchedule, Schedule
from dfx.emulator.worker.functions import IndexedFunction

log = logging.getLogger(__name__)

LOCK_PERIOD = 60
"""Seconds of the listener lock's lease (the SDK's ``ListenerLockPeriod``)."""
LOCK_RECOVERY = 60.0
"""Seconds between a waiting host's tries to take the lock (``ListenerLockRecoveryPollingInterval``)."""

Status = dict[str, datetime | None]
Fire = Callable[[IndexedFunction, str, str], Awaitable[bool]]
"""``fire(function, trigger JSON, reason)``: run the function; True when it succeeded."""


def full_name(function: IndexedFunction) -> str:
    """The name the host keys a function's blobs by: ``Host.Functions.{name}``."""
    return f"Host.Functions.{function.name}"


def monitored(schedule: Schedule, use_monitor: bool) -> bool:
    """Whether the status is kept: not for schedules that fire more than once a minute, as the extension decides."""
    if not use_monitor:
        return False
    if isinstance(schedule, IntervalSchedule):
        return schedule.interval >= timedelta(minutes=1)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    first = schedule.next_after(start)
    return schedule.next_after(first) - start > timedelta(minutes=1)


def check_past_due(schedule: Schedule, status: Status | None, now: datetime) -> tuple[bool, Status]:
    """Whether a run was missed, and the status to keep (the extension's ``CheckPastDueAsync``)."""
    if status is None:
        return False, {"Last": None, "Next": schedule.next_after(now), "LastUpdated": now}
    since = status.get("Last") or status.get("LastUpdated") or now
    expected = schedule.next_after(since)
    recorded = status.get("Next")
    if recorded != expected:  # the schedule changed: no past-due run for the old one
        if now > expected:
            expected = schedule.next_after(now)
        return False, {"Last": None, "Next": expected, "LastUpdated": now}
    return now > expected, status


def timer_json(status: Status | None, past_due: bool) -> str:
    """The ``TimerInfo`` the host sends to the worker."""
    shown = None if status is None else {k: v.isoformat() if v else "0001-01-01T00:00:00+00:00"
                                         for k, v in status.items()}  # fmt: skip
    return json.dumps({"Schedule": {"AdjustForDST": True}, "ScheduleStatus": shown, "IsPastDue": past_due})


@dataclass
class TimerListener:
    """Fires one timer function on its schedule while this host holds its listener lock."""

    function: IndexedFunction
    schedule: Schedule
    run_on_startup: bool
    use_monitor: bool
    blobs: HostBlobs
    fire: Fire
    stopping: asyncio.Event

    @property
    def lock(self) -> str:
        return f"{full_name(self.function)}.Listener"

    async def run(self) -> None:
        """Take the lock (trying again every minute while another host holds it), then fire until stopped."""
        while not self.stopping.is_set():
            lease = await self.blobs.acquire_lock(self.lock, LOCK_PERIOD)
            if lease is None:
                log.debug("%s: another host holds %s", self.function.name, self.lock)
                if await self._stop_within(LOCK_RECOVERY):
                    return
                continue
            renewer = asyncio.create_task(self._renew(lease), name=f"dfx-lock-{self.function.name}")
            listener = asyncio.create_task(self._listen(), name=f"dfx-timer-{self.function.name}")
            try:
                done, _ = await asyncio.wait({renewer, listener}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a failure goes to the supervising loop
            finally:
                renewer.cancel()
                listener.cancel()
                await asyncio.gather(renewer, listener, return_exceptions=True)
                await self.blobs.release_lock(self.lock, lease)

    async def _renew(self, lease: str) -> None:
        while not await self._stop_within(LOCK_PERIOD / 2):
            if not await self.blobs.renew_lock(self.lock, lease):
                log.warning("The listener lock of %s was lost; trying to take it again.", self.function.name)
                return

    async def _listen(self) -> None:
        name = full_name(self.function)
        keep = monitored(self.schedule, self.use_monitor)
        now = datetime.now(timezone.utc)
        status: Status | None = None
        past_due = False
        if keep:
            past_due, status = check_past_due(self.schedule, await self.blobs.read_timer_status(name), now)
            await self.blobs.write_timer_status(name, status)
        due = self.schedule.next_after(now)
        if status is not None and status["Next"] is not None and status["Next"] > now:
            due = status["Next"]
        if past_due or self.run_on_startup:
            status, ran = await self._invoke(status, past_due, now)
            due = self.schedule.next_after(ran) if due <= ran else due
        while not await self._stop_within((due - datetime.now(timezone.utc)).total_seconds()):
            status, ran = await self._invoke(status, False, due)
            due = self.schedule.next_after(ran)

    async def _invoke(self, status: Status | None, past_due: bool, due: datetime) -> tuple[Status | None, datetime]:
        """Fire once; the time the run counts for (not before ``due``) and the status saved after it."""
        fired = datetime.now(timezone.utc)
        await self.fire(self.function, timer_json(status, past_due), f"Timer fired at {fired.isoformat()}")
        ran = max(fired, due)
        if status is None:
            return None, ran
        status = {"Last": ran, "Next": self.schedule.next_after(ran), "LastUpdated": ran}
        try:
            await self.blobs.write_timer_status(full_name(self.function), status)
        except Exception as exc:  # best effort, as in the extension
            log.warning("The schedule status of %s was not saved: %s", self.function.name, exc)
        return status, ran

    async def _stop_within(self, seconds: float) -> bool:
        """Sleep ``seconds`` (or less if the host stops); True if it did."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=max(0.0, seconds))
            return True
        except (TimeoutError, asyncio.TimeoutError):
            return False
