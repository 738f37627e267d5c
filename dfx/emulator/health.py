"""What the host knows of its storage's health: an outage is said once with its cause, and its end too.

Every loop of the engine meets the same outage at once (a control-queue poller per partition, the
work-item poller, the lease round, every commit in flight), and each retries with back-off. Logged one by
one that is hundreds of lines a minute, so they all report here: the first failure of an outage is a
warning with the endpoint, the cause and a hint; the rest are debug lines until storage answers again,
which is said too. Other storage errors are one warning line each, at most one per kind every few seconds,
and never a traceback: a traceback is for a bug, not for a storage account that said no.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp

from dfx.emulator.storage.errors import StorageError, StorageUnavailableError

log = logging.getLogger("dfx.storage")
#: At most one line per kind of non-outage storage error in this many seconds.
REPEAT_INTERVAL = 10.0


#: What "no answer" looks like below the storage layer's own typed error.
_NO_ANSWER = (StorageUnavailableError, aiohttp.ClientConnectionError, TimeoutError, asyncio.TimeoutError)


def is_storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is storage trouble (an error answer, no answer) rather than a bug of dfx's own."""
    return isinstance(exc, (StorageError, aiohttp.ClientError, *_NO_ANSWER))


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, _NO_ANSWER)


class StorageHealth:
    """Collects the storage failures of a host's background work and says what users need to know.

    An outage is said once however many services it takes down, and is over when every service that failed
    has answered again: a success of the queues does not end an outage of the tables.
    """

    def __init__(self) -> None:
        self.down: dict[str, tuple[float, StorageError]] = {}
        self._last_said: dict[str, float] = {}
        self._quiet: dict[str, int] = {}
        self._outage_said = False
        """Whether the current outage was said (its end is said only then)."""

    @property
    def reason(self) -> str | None:
        """Why storage cannot be used now (for the body of a 503), or None while it answers."""
        if not self.down:
            return None
        cause = next(iter(self.down.values()))[1]
        hint = f" {cause.hint}" if cause.hint else ""
        return f"{cause.message}{hint}"

    def failed(self, exc: BaseException, doing: str) -> None:
        """``doing`` failed with ``exc`` (see ``is_storage_failure``)."""
        if _is_outage(exc):
            cause = (
                exc
                if isinstance(exc, StorageError)
                else StorageUnavailableError(f"Storage does not answer ({str(exc) or type(exc).__name__}).")
            )
            # queues and tables report their successes (every poll, every lease round); others end with any
            service = cause.service if cause.service in ("queue", "table") else "storage"
            if not self.down:
                self.down[service] = (time.monotonic(), cause)
                # One call that timed out among many that answer is an outage that ends at once: said once
                # in a while, not once per blip.
                self._outage_said = self._may_say("outage")
                if self._outage_said:
                    hint = f" hint: {cause.hint}" if cause.hint else ""
                    log.warning("%s dfx retries with back-off until it answers.%s", cause.message, hint)
                else:
                    log.debug("%s failed: %s", doing, exc)
            else:  # the same outage (the other services of an account usually go with the first)
                self.down.setdefault(service, (time.monotonic(), cause))
                log.debug("%s failed while storage is down: %s", doing, exc)
            return
        kind = f"{type(exc).__name__}:{getattr(exc, 'status', getattr(exc, 'status_code', ''))}"
        if not self._may_say(kind):
            log.debug("%s failed: %s", doing, exc)
            return
        more = self._quiet.pop(kind, 0)
        suffix = f" ({more} more like it since the last such line)" if more else ""
        log.warning("%s failed: %s%s", doing, exc, suffix)

    def _may_say(self, kind: str) -> bool:
        """Whether a line of ``kind`` may be said now (one per ``REPEAT_INTERVAL``); counts the ones held back."""
        now = time.monotonic()
        if now - self._last_said.get(kind, -REPEAT_INTERVAL) < REPEAT_INTERVAL:
            self._quiet[kind] = self._quiet.get(kind, 0) + 1
            return False
        self._last_said[kind] = now
        return True

    def answered(self, service: str) -> None:
        """A call to ``service`` succeeded: its outage, if there was one, is over."""
        if not self.down:
            return
        began = min(since for since, _ in self.down.values())
        for key in (service, "storage"):
            self.down.pop(key, None)
        if self.down:
            return
        if self._outage_said:
            log.warning("Storage answers again after %.0f s; work goes on.", time.monotonic() - began)
        else:
            log.debug("Storage answers again after %.1f s.", time.monotonic() - began)
