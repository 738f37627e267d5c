"""A supervised host's tie to its ``--watch`` supervisor: when the supervisor dies, the host stops with it.

Without this, a supervisor killed with SIGKILL leaves its host running, still serving the port and holding the
task hub's partition leases. Two mechanisms, so that the host never outlives its supervisor for long:

* On Linux, ``prctl(PR_SET_PDEATHSIG, SIGTERM)``, set at the host's start: the kernel sends SIGTERM when the
  parent dies, and SIGTERM stops the host as Ctrl-C does (leases released). The setting survives ``exec`` but
  fires when the parent *thread* that forked the host exits, so the supervisor spawns hosts from its main
  thread only. A parent that died before the call is caught by comparing ``os.getppid()`` with the pid the
  supervisor passed, right after it.
* Everywhere, :func:`watch_parent`: a watchdog on the host's loop that notices ``os.getppid()`` change (the
  host was reparented) and stops the host the same graceful way.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)

EXIT_REFUSED = 78
"""A supervised host's exit code when storage refused the credentials (sysexits' EX_CONFIG): the supervisor
stops too instead of restarting it, since only a change of the connection settings can help."""
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL = 0.5
"""Seconds between the watchdog's looks at the parent pid."""


class ParentGone(SystemExit):
    """The supervisor died before this host could tie itself to it: the host exits at once."""


def set_parent_death_signal(signum: int = signal.SIGTERM) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        done = libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
    if not done:
        log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    return done


def die_with_parent(parent_pid: int) -> None:
    """Tie this process to ``parent_pid``: SIGTERM when it dies (Linux); exit now if it is already gone.

    Call it as early as the process starts. The check after ``prctl`` closes the race of a parent that died
    between starting this process and the call, which the kernel would never report.
    """
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:
        raise ParentGone(f"dfx: the supervisor (pid {parent_pid}) is gone; the host does not start.")


async def watch_parent(parent_pid: int, on_gone: Callable[[], None], interval: float = WATCH_INTERVAL) -> None:
    """Call ``on_gone`` once this process's parent is no longer ``parent_pid`` (it died and we were reparented)."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(interval)
    on_gone()
