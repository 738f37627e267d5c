"""A table written line by line in the look of rich's ``Table``, for views with thousands of rows.

rich lays a whole ``Table`` out before it prints anything and spends about 0.4 ms on each row, which made
a 10,000-event history take seconds. This draws the same box (heavy head, light body, one space of padding,
the row style on the cells, bold headers, an italic title), sizes the columns once, and then turns each row
into its lines with a few string operations, so rows can be written as they arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from rich import box
from rich.cells import cell_len, chop_cells, set_cell_size
from rich.console import COLOR_SYSTEMS, Console
from rich.style import Style

ELLIPSIS = "…"
MIN_SHRUNK_WIDTH = 4


@dataclass(frozen=True)
class Column:
    """A column: its header, alignment, width bounds and whether it gives up width when space is short."""

    header: str
    justify: Literal["left", "right"] = "left"
    min_width: int = 0
    max_width: int | None = None
    shrink: bool = True


def natural_widths(columns: Sequence[Column], rows: Iterable[Sequence[str]]) -> list[int]:
    """Each column's widest cell (in terminal cells), at least its header, within its min and max width."""
    widest = [cell_len(c.header) for c in columns]
    for row in rows:
        for index, text in enumerate(row):
            size = len(text) if text.isascii() and "\n" not in text else max(map(cell_len, text.split("\n")))
            if size > widest[index]:
                widest[index] = size
    return [
        max(column.min_width, min(width, column.max_width) if column.max_width is not None else width)
        for column, width in zip(columns, widest, strict=True)
    ]


def fit_widths(columns: Sequence[Column], widths: Sequence[int], available: int) -> list[int]:
    """Shrink the widest shrinkable columns, one cell at a time, until the table fits ``available`` cells.

    The box takes three cells per column plus one; a table that cannot fit stays as narrow as it can get.
    """
    fitted = list(widths)
    floors = [
        max(MIN_SHRUNK_WIDTH, column.min_width) if column.shrink else width
        for column, width in zip(columns, fitted, strict=True)
    ]
    excess = sum(fitted) + 3 * len(fitted) + 1 - available
    while excess > 0:
        candidates = [i for i, width in enumerate(fitted) if width > floors[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: fitted[i])
        fitted[widest] -= 1
        excess -= 1
    return fitted


def fit_in_stages(
    columns: Sequence[Column], widths: Sequence[int], available: int, stages: Sequence[Mapping[str, int]]
) -> list[int]:
    """``fit_widths`` stage after stage: each shrinks only the columns it names (by header), each down to the
    floor it gives (at least four cells), before the next stage shrinks any.

    So the columns that matter least give up their width first: one that repeats the title, room kept for rows
    not seen yet; the ones that hold the data share what is left. Columns no stage names keep their width.
    """
    fitted = list(widths)
    for floors in stages:
        stage = [
            replace(column, shrink=column.header in floors, min_width=floors.get(column.header, 0))
            for column in columns
        ]
        fitted = fit_widths(stage, fitted, available)
    return fitted


def cell_lines(text: str, width: int, *, fold: bool) -> list[str]:
    """A cell's text in ``width`` cells: cut with an ellipsis on one line, or folded onto as many as it needs."""
    if not fold:
        line = text.replace("\n", " ") if "\n" in text else text
        size = len(line) if line.isascii() else cell_len(line)
        return [line if size <= width else set_cell_size(line, width - 1) + ELLIPSIS]
    lines: list[str] = []
    for line in text.split("\n"):
        lines.extend(chop_cells(line, width) if cell_len(line) > width else [line])
    return lines or [""]


def _pad(text: str, width: int, justify: str) -> str:
    size = len(text) if text.isascii() else cell_len(text)
    gap = width - size
    if gap <= 0:
        return text
    return " " * gap + text if justify == "right" else text + " " * gap


class LineTable:
    """Writes a table's title, header, rows and bottom edge to a console as separate calls.

    Column widths are fixed when the table is made (see ``natural_widths`` and ``fit_widths``); longer cells
    are cut with an ellipsis, or folded onto more lines with ``fold``. Colours follow the console: none when
    it writes to a file or a pipe, or when NO_COLOR is set.
    """

    def __init__(self, console: Console, columns: Sequence[Column], widths: Sequence[int], *, fold: bool = False):
        self.console = console
        self.columns = list(columns)
        self.widths = list(widths)
        self.fold = fold
        self._right = [column.justify == "right" for column in self.columns]
        self.box = box.HEAVY_HEAD if console.encoding.startswith("utf") else box.ASCII
        system = console.color_system
        self._color_system = COLOR_SYSTEMS.get(system) if system and not console.no_color else None
        self._styles: dict[str | None, tuple[str, str]] = {}

    def _style(self, name: str | None) -> tuple[str, str]:
        """The ANSI codes that start and end text in style ``name`` ("" and "" without colours)."""
        found = self._styles.get(name)
        if found is None:
            found = ("", "")
            if name and self._color_system is not None:
                marked = Style.parse(name).render("\0", color_system=self._color_system)
                before, _, after = marked.partition("\0")
                found = (before, after)
            self._styles[name] = found
        return found

    def _write(self, lines: list[str]) -> None:
        if lines:
            self.console.file.write("\n".join(lines) + "\n")

    def _padded(self) -> list[int]:
        return [width + 2 for width in self.widths]

    def title(self, text: str) -> None:
        """The table's title on a line of its own, left-aligned."""
        before, after = self._style("italic")
        self._write([before + text + after])

    def header(self) -> None:
        """The top edge, the column headers and the line under them."""
        before, after = self._style("bold")
        cells = [
            " " + before + _pad(cell_lines(c.header, w, fold=False)[0], w, c.justify) + after + " "
            for c, w in zip(self.columns, self.widths, strict=True)
        ]
        b = self.box
        self._write(
            [
                b.get_top(self._padded()),
                b.head_left + b.head_vertical.join(cells) + b.head_right,
                b.get_row(self._padded(), "head"),
            ]
        )

    def row_lines(
        self, cells: Sequence[str], style: str | None = None, cell_styles: Sequence[str | None] | None = None
    ) -> list[str]:
        """The lines of one row (more than one only when a folded cell needs them).

        ``style`` applies to the whole row; a cell's entry in ``cell_styles``, when given, replaces it.
        """
        b = self.box
        if cell_styles is None:
            codes = [self._style(style)] * len(cells)
        else:
            codes = [self._style(own or style) for own in cell_styles]
        pieces: list[str] = []
        for text, width, right, (before, after) in zip(cells, self.widths, self._right, codes, strict=True):
            if len(text) > width or not text.isascii() or "\n" in text:
                break  # the common case ends here: one short line of plain ASCII
            pieces.append(before + " " + (text.rjust(width) if right else text.ljust(width)) + " " + after)
        else:
            return [b.mid_left + b.mid_vertical.join(pieces) + b.mid_right]
        parts = [cell_lines(text, width, fold=self.fold) for text, width in zip(cells, self.widths, strict=True)]
        height = max(len(p) for p in parts)
        lines = []
        for number in range(height):
            pieces = []
            for part, column, width, (before, after) in zip(parts, self.columns, self.widths, codes, strict=True):
                text = part[number] if number < len(part) else ""
                pieces.append(before + " " + _pad(text, width, column.justify) + " " + after)
            lines.append(b.mid_left + b.mid_vertical.join(pieces) + b.mid_right)
        return lines

    def rows(self, rows: Iterable[tuple[Sequence[str], str | None]]) -> None:
        """Write rows given as (cells, style), in one write per call."""
        lines: list[str] = []
        for cells, style in rows:
            lines.extend(self.row_lines(cells, style))
        self._write(lines)

    def lines(self, lines: list[str]) -> None:
        """Write lines made with ``row_lines`` (for rows whose cells have styles of their own)."""
        self._write(lines)

    def bottom(self) -> None:
        """The bottom edge."""
        self._write([self.box.get_bottom(self._padded())])

    def flush(self) -> None:
        self.console.file.flush()
