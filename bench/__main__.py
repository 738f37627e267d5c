"""``python -m bench``: start a private Azurite, measure raw and dfx storage rates, print and record them."""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.markdown import Markdown

from bench.azurite import REPO_ROOT, running_azurite
from bench.cli import cli_section, measure_cli
from bench.engine import engine_section, measure_engine
from bench.host import host_section, measure_host
from bench.machine import this_machine
from bench.report import rich_table, write_benchmarks
from bench.suite import run_suite
from bench.timing import FULL, QUICK
from bench.triggers import measure_triggers, trigger_section
from dfx.errors import DfxError

DEFAULT_OUTPUT = REPO_ROOT / "BENCHMARKS.md"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: {QUICK.count} operations per figure, and BENCHMARKS.md is left alone unless --output",
    )
    parser.add_argument("--output", type=Path, help=f"where to write the Markdown report (default {DEFAULT_OUTPUT})")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit, so the ``finally`` that stops Azurite still runs."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; the exit code is 0 unless something failed (a slow figure never does)."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    plan = QUICK if args.quick else FULL
    output = args.output if args.output is not None or args.quick else DEFAULT_OUTPUT
    console = Console()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="dfx-bench-") as workdir,
        console.status("starting Azurite") as status,
    ):

        def progress(label: str) -> None:
            status.update(f"measuring {label}")
            console.print(f"[dim]measuring {label}[/]")

        try:
            with running_azurite(Path(workdir)) as account:
                results = asyncio.run(run_suite(account, plan, progress))
            engine = measure_engine(Path(workdir), quick=args.quick, progress=progress)
            with running_azurite(Path(workdir)) as account:
                host = measure_host(account, runs=3 if args.quick else 7, requests=200 if args.quick else 2000,
                                    progress=progress)  # fmt: skip
            with running_azurite(Path(workdir)) as account:
                triggers = measure_triggers(account, quick=args.quick, progress=progress)
            with running_azurite(Path(workdir)) as account:
                cli = measure_cli(account, runs=2 if args.quick else 5, progress=progress)
        except (DfxError, RuntimeError) as exc:
            console.print(f"[red]bench failed:[/] {exc}", highlight=False)
            hint = getattr(exc, "hint", None)
            if hint:
                console.print(hint, highlight=False)
            return 1
    console.print(rich_table(results))
    raw_upsert = results[0].rate.per_second if results else 0.0
    raw_point_read = results[1].rate.per_second if len(results) > 1 else None
    console.print(Markdown(host_section(host)))
    console.print(Markdown(engine_section(engine, raw_upsert)))
    raw_receive_delete = results[3].rate.per_second if len(results) > 3 else None
    console.print(Markdown(trigger_section(triggers, raw_receive_delete)))
    console.print(Markdown(cli_section(cli, raw_point_read)))
    if output is not None:
        sections = "\n".join([
            host_section(host), engine_section(engine, raw_upsert), trigger_section(triggers, raw_receive_delete),
            cli_section(cli, raw_point_read),
        ])  # fmt: skip
        write_benchmarks(output, results, plan, this_machine(), datetime.now(timezone.utc), sections)
        console.print(f"wrote {output}")
    console.print(f"bench took {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
