"""Showing the figures: a rich table for the terminal and the BENCHMARKS.md document."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from rich.table import Table

from bench.figures import Figure
from bench.machine import Machine
from bench.timing import ROUNDS, Plan

TITLE = "# dfx benchmarks"
OWNED_SECTIONS = (
    "Machine", "How to reproduce", "Storage layer", "Host", "Host and engine", "Durable engine", "dfx inspect"
)  # fmt: skip
ENGINE = """## Durable engine

_Not measured yet: arrives with issues 4-5 (orchestrations, activities, entities). Add those figures
here, produced by `python -m bench` like the storage layer's._
"""
_SECTION = re.compile(r"^## (.+?)\s*$", re.MULTILINE)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _ratio(figure: Figure, *, named: bool) -> str:
    if figure.ratio is None or figure.baseline is None:
        return "—"
    return f"{figure.ratio:.2f}× " + (figure.baseline.operation.removeprefix("raw ") if named else "")


def _cells(figure: Figure, *, named_ratio: bool = True) -> list[str]:
    """Operation, timed ops, ops/s, events/s, p50 ms, p95 ms, ratio to raw."""
    rate = figure.rate
    return [
        figure.operation,
        str(rate.operations),
        _number(rate.per_second),
        _number(figure.events_per_second),
        f"{rate.percentile_ms(0.5):.2f}",
        f"{rate.percentile_ms(0.95):.2f}",
        _ratio(figure, named=named_ratio).rstrip(),
    ]


HEADERS = ["Operation", "Timed ops", "ops/s", "events/s", "p50 ms", "p95 ms", "vs raw"]
SHORT_HEADERS = ["Operation", "n", "ops/s", "ev/s", "p50", "p95", "vs raw"]


def rich_table(figures: list[Figure]) -> Table:
    """The figures as a terminal table, raw Azurite rows first, then dfx rows."""
    table = Table(title="dfx storage layer vs raw Azurite, one op at a time (ms)")
    for header in SHORT_HEADERS:
        left = header == "Operation"
        table.add_column(header, justify="left" if left else "right", no_wrap=left)
    for index, figure in enumerate(figures):
        end_section = index + 1 < len(figures) and figures[index + 1].baseline is not None and figure.baseline is None
        table.add_row(*_cells(figure, named_ratio=False), end_section=end_section)
    return table


def storage_section(figures: list[Figure], plan: Plan) -> str:
    """The "Storage layer" section: how the figures were taken and the Markdown table of them."""
    rows = ["| " + " | ".join([*HEADERS, "One operation is"]) + " |", "|" + "---|" * (len(HEADERS) + 1)]
    for figure in figures:
        cells = _cells(figure)
        rows.append("| " + " | ".join([*cells, figure.meaning]) + " |")
    return "\n".join(
        [
            "## Storage layer",
            "",
            "Every figure is one operation at a time (sequential awaits, no concurrency) against a fresh "
            f"in-memory Azurite on free ports: {plan.warmup} untimed warm-up operations, then {plan.count} timed "
            f"ones or {plan.budget:g} s, whichever ends first. Each dfx operation is timed in {ROUNDS} rounds that "
            "alternate with its raw counterpart, so a drift in the machine's speed hits both alike. *vs raw* is "
            "the dfx rate divided by that raw rate (checkpoint vs upsert, history read vs point read, put vs "
            "send, get+delete vs receive+delete). A checkpoint and a history read do more work than the single "
            "raw operation they are set against: read those two ratios as cost, not as overhead.",
            "",
            *rows,
            "",
        ]
    )


def document(
    figures: list[Figure], plan: Plan, machine: Machine, when: datetime, kept: list[str], host: str = ""
) -> str:
    """The whole BENCHMARKS.md: title, date, machine, reproduction, storage figures, then ``kept`` sections."""
    machine_rows = [
        ("CPUs (`os.cpu_count()`)", str(machine.cpus)),
        ("Python", machine.python),
        ("Node.js", machine.node),
        ("Azurite", f"{machine.azurite} (`node_modules/azurite`), in-memory persistence"),
        ("OS", machine.system),
    ]
    parts = [
        TITLE,
        "",
        f"Measured on {when:%Y-%m-%d %H:%M} UTC by `make bench`. Figures describe this machine on that day: "
        "compare runs made on the same machine, not across machines.",
        "",
        "## Machine",
        "",
        "| Fact | Value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in machine_rows),
        "",
        "## How to reproduce",
        "",
        "```sh",
        "make bench                          # full run: prints the table and rewrites this file",
        ".venv/bin/python -m bench --quick   # smoke test: fewer operations, prints only",
        ".venv/bin/python -m bench.cli       # the dfx inspect figures alone (--write: into this file)",
        "```",
        "",
        "The bench starts its own Azurite (in memory, on free ports) and stops it when done; nothing else "
        "needs to run. It never fails on a slow figure: it exits non-zero only when something crashes.",
        "",
        storage_section(figures, plan),
    ]
    parts += [host] if host else []
    parts += kept or ([] if "## Durable engine" in host else [ENGINE])
    return "\n".join(parts).rstrip() + "\n"


def kept_sections(existing: str) -> list[str]:
    """The ``## `` sections of an earlier BENCHMARKS.md that the bench does not write (later sessions' figures)."""
    matches = list(_SECTION.finditer(existing))
    kept = []
    for index, match in enumerate(matches):
        if match.group(1) in OWNED_SECTIONS:
            continue
        end = matches[index + 1].start() if index + 1 < len(matches) else len(existing)
        kept.append(existing[match.start() : end].rstrip() + "\n")
    return kept


def write_benchmarks(
    path: Path, figures: list[Figure], plan: Plan, machine: Machine, when: datetime, host: str = ""
) -> None:
    """Rewrite ``path`` with these figures, carrying over sections the bench does not own."""
    try:
        existing = path.read_text()
    except FileNotFoundError:
        existing = ""
    path.write_text(document(figures, plan, machine, when, kept_sections(existing), host))


def replace_section(path: Path, section: str) -> None:
    """Put ``section`` (a ``## `` section) in place of the one with its title in ``path``, or at the end."""
    title = section.split("\n", 1)[0]
    text = path.read_text() if path.exists() else TITLE + "\n"
    matches = list(_SECTION.finditer(text))
    for index, match in enumerate(matches):
        if f"## {match.group(1)}" == title:
            end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
            tail = text[end:]
            path.write_text(text[: match.start()] + section.rstrip() + "\n" + ("\n" + tail if tail else ""))
            return
    path.write_text(text.rstrip() + "\n\n" + section.rstrip() + "\n")
