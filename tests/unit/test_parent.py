"""A supervised host's tie to its supervisor: the parent-death signal, the early check and the watchdog."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from dfx.emulator.parent import ParentGone, die_with_parent, watch_parent

LINUX = sys.platform.startswith("linux")


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux's")
def test_a_host_asks_for_sigterm_when_its_supervisor_dies():
    code = (
        "import ctypes, os\n"
        "from dfx.emulator.parent import die_with_parent\n"
        "die_with_parent(os.getppid())\n"
        "value = ctypes.c_int()\n"
        "ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0)  # PR_GET_PDEATHSIG\n"
        "print(value.value)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and int(result.stdout) == 15, result.stderr


def test_a_supervisor_gone_before_the_host_tied_itself_to_it_stops_the_host_at_once():
    with pytest.raises(ParentGone, match=r"supervisor .* is gone"):
        die_with_parent(os.getppid() + 1_000_000)


def test_the_watchdog_stops_the_host_once_its_parent_is_not_the_supervisor():
    async def run(parent: int) -> bool:
        gone = asyncio.Event()
        task = asyncio.create_task(watch_parent(parent, gone.set, interval=0.01))
        try:
            await asyncio.wait_for(gone.wait(), 0.3)
        except asyncio.TimeoutError:
            return False
        finally:
            task.cancel()
        return True

    assert asyncio.run(run(os.getppid() + 1_000_000)) is True
    assert asyncio.run(run(os.getppid())) is False
