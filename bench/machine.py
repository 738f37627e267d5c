"""Facts about the machine a bench ran on, printed with the figures so they can be compared."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass

from bench.azurite import azurite_version


@dataclass(frozen=True)
class Machine:
    """CPU count, Python, Node.js and Azurite versions, and the operating system."""

    cpus: int
    python: str
    node: str
    azurite: str
    system: str


def node_version() -> str:
    """``node --version`` without the leading "v", or "unknown"."""
    node = shutil.which("node")
    if node is None:
        return "unknown"
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.strip().removeprefix("v") or "unknown"


def this_machine() -> Machine:
    return Machine(
        cpus=os.cpu_count() or 0,
        python=platform.python_version(),
        node=node_version(),
        azurite=azurite_version(),
        system=platform.platform(terse=True),
    )
