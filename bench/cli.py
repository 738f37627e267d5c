"""CLI figures: ``dfx inspect history`` of a 10,000-event instance, run as a user runs it (a new process each time).

Run this section alone with ``python -m bench.cli`` (it starts its own Azurite); ``--write`` also replaces
the section in BENCHMARKS.md, leaving the others as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from azure.data.tables.aio import TableClient

from bench.azurite import REPO_ROOT, running_azurite
from bench.orchestration import EVENTS_PER_CHECKPOINT, SyntheticOrchestration
from dfx.emulator.storage import StorageAccount, TaskHub
from dfx.emulator.storage.instances_table import checkpoint_columns
from dfx.model.history import (
    EventRaisedEvent,
    ExecutionCompletedEvent,
    HistoryEvent,
    OrchestrationStatus,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    utcnow,
)

HUB = "BenchCli"
INSTANCE = "bench-10k"
EXECUTION_ID = "e1"
EVENTS = 10_000
EVENTS_PER_APPEND = 1_000  # history.append splits these into entity-group transactions of 99 rows
TABLE_WIDTH = 160
TARGET_SECONDS = 2.0
SECTION_TITLE = "dfx inspect"


@dataclass
class CliFigures:
    """What the CLI bench measured; every list holds one value per run, in seconds."""

    events: int = EVENTS
    table: list[float] = field(default_factory=list)
    json: list[float] = field(default_factory=list)
    first_row: list[float] = field(default_factory=list)
    help: list[float] = field(default_factory=list)
    raw_query: list[float] = field(default_factory=list)
    rows_printed: int = 0

    @staticmethod
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")


async def seed_history(account: StorageAccount, events: int = EVENTS) -> None:
    """A completed instance with ``events`` history rows, written straight to storage as checkpoints would be."""
    async with TaskHub(account, HUB) as hub:
        await hub.create()
        started = utcnow()
        await hub.instances.write_pending(
            instance_id=INSTANCE, name="hello", execution_id=EXECUTION_ID, input='"x"', created_time=started
        )
        orchestration = SyntheticOrchestration(INSTANCE, EXECUTION_ID)
        etag: str | None = None
        first: list[HistoryEvent] = []

        def room() -> bool:  # for another episode and the 3-event ending
            return orchestration.events_written + EVENTS_PER_CHECKPOINT <= events - 3

        while room():
            start = orchestration.events_written
            batch: list[HistoryEvent] = []
            while len(batch) < EVENTS_PER_APPEND and room():
                batch += orchestration.next_checkpoint()
            first = first or batch
            etag = (await hub.history.append(INSTANCE, EXECUTION_ID, batch, start_index=start, etag=etag)).etag
        last = orchestration.events_written
        ending: list[HistoryEvent] = [
            OrchestratorStartedEvent(),
            *(EventRaisedEvent(name="ping", input=str(n)) for n in range(events - last - 3)),
            ExecutionCompletedEvent(event_id=-1, orchestration_status=OrchestrationStatus.Completed, result='"done"'),
            OrchestratorCompletedEvent(),
        ]
        await hub.history.append(INSTANCE, EXECUTION_ID, ending, start_index=last, etag=etag)
        columns = checkpoint_columns([*first, *ending], execution_id=EXECUTION_ID, custom_status=None, task_hub=HUB)
        await hub.instances.write_checkpoint(INSTANCE, columns)


async def raw_query_seconds(account: StorageAccount) -> float:
    """The plain table SDK's ``query_entities`` of the instance's whole partition, every row iterated."""
    async with TableClient.from_connection_string(account.connection_string(), table_name=f"{HUB}History") as table:
        began = time.perf_counter()
        count = len([e async for e in table.query_entities(f"PartitionKey eq '{INSTANCE}'")])
        seconds = time.perf_counter() - began
    if count != EVENTS + 1:
        raise RuntimeError(f"the raw query read {count} rows, not {EVENTS} and the sentinel")
    return seconds


def _dfx(account: StorageAccount, *args: str) -> list[str]:
    return [sys.executable, "-m", "dfx", *args, "--task-hub", HUB, "--connection", account.connection_string()]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": str(TABLE_WIDTH), "NO_COLOR": "1"}


def time_command(command: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds of one run, output to a file (as a redirect would), and the number of lines it wrote."""
    with tempfile.TemporaryFile("w+") as sink:
        began = time.perf_counter()
        done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, text=True, env=_env(), cwd=cwd)
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[2:5])} failed: {done.stderr.strip()[-500:]}")
        sink.seek(0)
        return seconds, sum(1 for _ in sink)


def time_to_first_row(command: list[str], cwd: Path) -> float:
    """Seconds from process start to the first row of ``--json`` arriving on the pipe."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env(), cwd=cwd)
    assert process.stdout is not None
    first: float | None = None
    for line in process.stdout:
        if first is None and line.startswith(b"  {"):
            first = time.perf_counter() - began
    if process.wait() != 0 or first is None:
        raise RuntimeError("dfx inspect history --json wrote no row")
    return first


def measure_cli(account: StorageAccount, *, runs: int, progress: Callable[[str], None]) -> CliFigures:
    """Seed the 10,000-event instance, then time each command ``runs`` times, in alternation."""
    figures = CliFigures()
    progress(f"seeding {EVENTS:,} history events")
    asyncio.run(seed_history(account))
    with tempfile.TemporaryDirectory(prefix="dfx-bench-cli-") as folder:
        cwd = Path(folder)  # no host.json or local.settings.json: only the options count
        for run in range(runs):
            progress(f"dfx inspect history ({EVENTS:,} events), run {run + 1} of {runs}")
            figures.raw_query.append(asyncio.run(raw_query_seconds(account)))
            seconds, lines = time_command(_dfx(account, "inspect", "history", INSTANCE), cwd)
            figures.table.append(seconds)
            figures.rows_printed = lines - 5  # title, three header lines and the bottom edge
            figures.json.append(time_command(_dfx(account, "inspect", "history", INSTANCE, "--json"), cwd)[0])
            figures.first_row.append(time_to_first_row(_dfx(account, "inspect", "history", INSTANCE, "--json"), cwd))
            began = time.perf_counter()
            subprocess.run([sys.executable, "-m", "dfx", "--help"], stdout=subprocess.DEVNULL, env=_env(), check=True)
            figures.help.append(time.perf_counter() - began)
    if figures.rows_printed != EVENTS:
        raise RuntimeError(f"the table showed {figures.rows_printed} rows, not {EVENTS}")
    return figures


def cli_section(figures: CliFigures, raw_point_reads: float | None = None) -> str:
    """The ``## dfx inspect`` section of BENCHMARKS.md."""
    median = CliFigures.median
    runs = len(figures.table)

    def cells(values: list[float]) -> str:
        return ", ".join(f"{v * 1000:.0f}" for v in values)

    raw = median(figures.raw_query)
    rows = [
        (f"`dfx inspect history` table ({figures.events:,} rows, {TABLE_WIDTH} columns, to a file)",
         median(figures.table), cells(figures.table)),
        ("`dfx inspect history --json` (one JSON array, streamed page by page)", median(figures.json),
         cells(figures.json)),
        ("`--json`: process start to the first row on the pipe", median(figures.first_row),
         cells(figures.first_row)),
        ("`dfx --help` (the CLI's cold start alone)", median(figures.help), cells(figures.help)),
        (f"raw: the table SDK's `query_entities` of the same partition, in process ({figures.events / raw:,.0f} "
         "rows/s)", raw, cells(figures.raw_query)),
    ]  # fmt: skip
    point = f" Azurite's raw point read rate in the same run: {raw_point_reads:.0f}/s." if raw_point_reads else ""
    lines = [
        f"## {SECTION_TITLE}",
        "",
        f"`dfx inspect history` of one instance with {figures.events:,} history events (synthetic 10-event "
        "episodes written straight to storage with `hub.history.append`), each command a new process as a "
        f"user runs it (imports included), {runs} runs in alternation, against the bench's in-memory Azurite. "
        f"Target from issue 6: the table in <= {TARGET_SECONDS:.0f} s, and `--json` streams. dfx reads history "
        "pages with its lean REST client (`HistoryTable.iter_row_pages`, the next page fetched while the current "
        "one is written) and draws the table line by line in rich's look (`dfx/cli/linetable.py`); rich's own "
        f"`Table` took 7-9 s for these rows.{point}",
        "",
        "| Figure | Median | Runs (ms) |",
        "|---|---:|---|",
        *(f"| {name} | {seconds * 1000:,.0f} ms | {runs_text} |" for name, seconds, runs_text in rows),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.cli``: this section alone, against an Azurite of its own."""
    from bench.report import replace_section

    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--write", action="store_true", help="replace the section in BENCHMARKS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dfx-bench-") as workdir, running_azurite(Path(workdir)) as account:
        figures = measure_cli(account, runs=args.runs, progress=lambda label: print(f"measuring {label}", flush=True))
    section = cli_section(figures)
    print(section)
    if args.write:
        stamp = f"_Measured on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `python -m bench.cli`._\n\n"
        title, _, body = section.partition("\n\n")
        replace_section(REPO_ROOT / "BENCHMARKS.md", f"{title}\n\n{stamp}{body}")
        print("wrote BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
