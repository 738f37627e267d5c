"""Named places where a crash test can make this process die on the spot (failpoints, as in fail-rs).

A crash at a random moment rarely lands in the few milliseconds that matter (between an episode's sends and
its checkpoint, say). ``DFX_FAILPOINTS="episode.after-send=exit:2;..."`` makes the second pass through
``hit("episode.after-send")`` end the process at once with ``os._exit``: no cleanup, no lease release, no
message given back, exactly what SIGKILL leaves behind. Unset (always, outside tests), ``hit`` is one dict
lookup on an empty dict.
"""

from __future__ import annotations

import os
import sys

ENV = "DFX_FAILPOINTS"
#: The exit code of a failpoint: what a shell reports for a process killed by SIGKILL.
EXIT_CODE = 137


def _parse(text: str) -> dict[str, int]:
    points: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, _, action = item.partition("=")
        kind, _, count = action.partition(":")
        if kind != "exit" or (count and not count.isdigit()):
            raise ValueError(f"{ENV}: {item!r} is not NAME=exit or NAME=exit:N")
        points[name.strip()] = int(count or 1)
    return points


_armed = _parse(os.environ.get(ENV, ""))


def hit(name: str) -> None:
    """Pass the failpoint ``name``: the process ends here if a test armed it and this is the chosen pass."""
    if name not in _armed:
        return
    _armed[name] -= 1
    if _armed[name] <= 0:
        print(f"failpoint {name}: exiting", file=sys.stderr, flush=True)
        os._exit(EXIT_CODE)
