"""The line-by-line table: rich's look, column sizing, cutting and folding cells, colours only for terminals."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from dfx.cli.linetable import Column, LineTable, cell_lines, fit_in_stages, fit_widths, natural_widths

COLUMNS = [Column("#", "right", shrink=False), Column("EventType", shrink=False), Column("Input")]
ROWS = [["0", "ExecutionStarted", '"Seattle"'], ["12", "TaskScheduled", ""], ["13", "TaskCompleted", '"Hello!"']]


def console(width: int = 100, **options) -> Console:
    return Console(file=io.StringIO(), width=width, highlight=False, **options)


def drawn(table: LineTable) -> str:
    table.title("Hub History")
    table.header()
    table.rows((cells, None) for cells in ROWS)
    table.bottom()
    return table.console.file.getvalue()  # type: ignore[attr-defined]


def test_a_table_looks_as_richs_table_of_the_same_cells():
    ours = drawn(LineTable(console(), COLUMNS, natural_widths(COLUMNS, ROWS)))
    theirs = console()
    table = Table(title="Hub History", title_justify="left")
    for column in COLUMNS:
        table.add_column(column.header, justify=column.justify)
    for cells in ROWS:
        table.add_row(*cells)
    theirs.print(table)
    assert [line.rstrip() for line in ours.splitlines()] == [
        line.rstrip()
        for line in theirs.file.getvalue().splitlines()  # type: ignore[attr-defined]
    ]


def test_natural_widths_are_the_widest_cells_within_the_bounds():
    columns = [Column("#", min_width=3), Column("Name", max_width=5), Column("Wide")]
    assert natural_widths(columns, [["1", "abcdefgh", "日本語"]]) == [3, 5, 6], "wide characters take two cells"


def test_fitting_shrinks_the_widest_shrinkable_column_first_down_to_four_cells():
    columns = [Column("a", shrink=False), Column("b"), Column("c")]
    assert fit_widths(columns, [10, 30, 12], available=3 * 3 + 1 + 40) == [10, 18, 12]
    assert fit_widths(columns, [10, 30, 12], available=3 * 3 + 1 + 30) == [10, 10, 10]
    assert fit_widths(columns, [10, 30, 12], available=10) == [10, 4, 4], "as narrow as it gets"
    assert fit_widths(columns, [10, 30, 12], available=200) == [10, 30, 12]


def test_fitting_in_stages_shrinks_each_stage_to_its_floors_before_the_next():
    columns = [Column("key"), Column("kind", shrink=False), Column("name"), Column("result")]
    widths = [14, 10, 20, 30]  # 74 cells and the box's 13
    stages = [{"key": 0}, {"kind": 6}, {"name": 0, "result": 0}]
    assert fit_in_stages(columns, widths, 3 * 4 + 1 + 70, stages) == [10, 10, 20, 30], "the first stage is enough"
    assert fit_in_stages(columns, widths, 3 * 4 + 1 + 50, stages) == [4, 6, 20, 20], "each down to its floor first"
    assert fit_in_stages(columns, widths, 3 * 4 + 1 + 20, stages) == [4, 6, 5, 5]
    assert fit_in_stages(columns, widths, 3 * 4 + 1 + 200, stages) == widths
    assert fit_in_stages(columns, widths, 3 * 4 + 1 + 50, [{"name": 0}]) == [14, 10, 4, 30], "unnamed columns stay"


def test_long_cells_are_cut_with_an_ellipsis_or_folded():
    assert cell_lines("abcdefghij", 5, fold=False) == ["abcd…"]
    assert cell_lines("two\nlines", 20, fold=False) == ["two lines"]
    assert cell_lines("abcdefghij", 4, fold=True) == ["abcd", "efgh", "ij"]
    assert cell_lines("a\nbcdef", 3, fold=True) == ["a", "bcd", "ef"]


def test_a_folded_row_takes_as_many_lines_as_its_tallest_cell():
    table = LineTable(console(), COLUMNS, [2, 9, 4], fold=True)
    lines = table.row_lines(["1", "Timer", "abcdefghij"])
    assert lines == ["│  1 │ Timer     │ abcd │", "│    │           │ efgh │", "│    │           │ ij   │"]


def test_rows_are_coloured_for_a_terminal_and_plain_for_a_file():
    plain = LineTable(console(), COLUMNS, [2, 9, 4]).row_lines(["1", "x", "y"], "red")
    assert "\x1b[" not in plain[0]
    coloured = LineTable(console(force_terminal=True, color_system="standard"), COLUMNS, [2, 9, 4])
    [line] = coloured.row_lines(["1", "x", "y"], "red", cell_styles=[None, "green", None])
    assert line.count("\x1b[31m") == 2 and line.count("\x1b[32m") == 1


def test_no_color_turns_colours_off():
    table = LineTable(console(force_terminal=True, no_color=True), COLUMNS, [2, 9, 4])
    assert "\x1b[" not in table.row_lines(["1", "x", "y"], "red")[0]
