"""What the host knows of its storage's health: an outage is said once with its cause, and its end too.

Every loop of the engine meets the same outage at once (a control-queue poller per partition, the
work-item poller, the lease round, every commit in flight), and each retries with back-off. Logged one by
one that is hundreds of lines a minute, so they all report here: the first failure of an outage is a
warning with the endpoint, the cause and a hint; the rest are debug lines until storage answers again,
which is said too. Other storage errors are one warning line each, at most one per kind every few seconds,
and never a traceback: a traceback is for a bug, not for a storage account that said no.
"""

from __future__ import annotations

import logging
import time

from azure.core.exceptions import HttpResponseError

from dfx.emulator.storage.errors import StorageError, StorageUnavailableError
from dfx.emulator.storage.rest import ServiceError

log = logging.getLogger("dfx.storage")
#: At most one line per kind of non-outage storage error in this many seconds.
REPEAT_INTERVAL = 10.0


def is_storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is storage trouble (an error answer, no answer) rather than a bug of dfx's own."""
    return isinstance(exc, StorageError | OSError | ServiceError | HttpResponseError)


class StorageHealth:
    """Collects the storage failures of a host's background work and says what users need to know."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self.cause: StorageError | None = None
        self._last_said: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    @property
    def reason(self) -> str | None:
        """Why storage cannot be used now (for the body of a 503), or None while it answers."""
        if self.down_since is None or self.cause is None:
            return None
        hint = f" {self.cause.hint}" if self.cause.hint else ""
        return f"{self.cause.message}{hint}"

    def failed(self, exc: BaseException, doing: str) -> None:
        """``doing`` failed with ``exc`` (a storage error, or an OSError from below the storage layer)."""
        if isinstance(exc, StorageUnavailableError) or (isinstance(exc, OSError) and not isinstance(exc, StorageError)):
            cause = (
                exc if isinstance(exc, StorageError) else StorageUnavailableError(f"Storage does not answer ({exc}).")
            )
            if self.down_since is None:
                self.down_since, self.cause = time.monotonic(), cause
                hint = f" hint: {cause.hint}" if cause.hint else ""
                log.warning("%s dfx retries with back-off until it answers.%s", cause.message, hint)
            else:
                log.debug("%s failed while storage is down: %s", doing, exc)
            return
        kind = f"{type(exc).__name__}:{getattr(exc, 'status', getattr(exc, 'status_code', ''))}"
        now = time.monotonic()
        if now - self._last_said.get(kind, -REPEAT_INTERVAL) < REPEAT_INTERVAL:
            self._quiet[kind] = self._quiet.get(kind, 0) + 1
            log.debug("%s failed: %s", doing, exc)
            return
        self._last_said[kind] = now
        more = self._quiet.pop(kind, 0)
        suffix = f" ({more} more like it since the last such line)" if more else ""
        log.warning("%s failed: %s%s", doing, exc, suffix)

    def answered(self) -> None:
        """A storage call succeeded: an outage, if there was one, is over."""
        if self.down_since is not None:
            log.warning("Storage answers again after %.0f s; work goes on.", time.monotonic() - self.down_since)
            self.down_since, self.cause = None, None
