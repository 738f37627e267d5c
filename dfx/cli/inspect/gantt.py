"""The layout of a Gantt chart in terminal columns: spans on a time scale become bars of characters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

FILL = "█"
OPEN_FILL = "░"
OPEN_END = "▶"
INSTANT = "◆"


@dataclass(frozen=True)
class Bar:
    """A bar: its first column, how many columns it covers (at least one), and whether it is still open."""

    offset: int
    length: int
    open: bool = False


def layout_bars(spans: Sequence[tuple[float, float | None]], total: float, width: int) -> list[Bar]:
    """Place spans, given as (start, end) seconds from the axis start, on ``width`` columns for ``total`` seconds.

    An open span (end None) runs to the end of the axis. Every span covers at least one column, even an
    instant, and nothing falls outside the axis: a start before 0 or an end after ``total`` is clipped.
    """
    if width < 1:
        raise ValueError("a timeline needs at least one column")
    if total <= 0:  # everything happened at one instant
        return [Bar(0, 1, end is None) for _, end in spans]
    scale = width / total
    bars = []
    for start, end in spans:
        begin = min(max(start, 0.0), total)
        finish = total if end is None else min(max(end, begin), total)
        first = min(int(begin * scale), width - 1)
        last = min(max(first + 1, math.ceil(finish * scale - 1e-9)), width)
        bars.append(Bar(first, last - first, end is None))
    return bars


def draw_bar(bar: Bar, width: int, *, instant: bool = False) -> str:
    """The bar as ``width`` characters: blanks, then the bar (light and ending in ▶ while open)."""
    if instant:
        body = INSTANT
    elif bar.open:
        body = OPEN_FILL * (bar.length - 1) + OPEN_END
    else:
        body = FILL * bar.length
    return (" " * bar.offset + body).ljust(width)


def axis_label(total_text: str, width: int, start_text: str = "0s") -> str:
    """The scale over the bars: ``0s`` at the left, the total at the right, dots between."""
    room = width - len(start_text) - len(total_text)
    if room < 1:
        return total_text.rjust(width)[:width]
    return start_text + "·" * room + total_text
