"""Trigger figures: a queue function draining 1,000 messages, and how late a one-second timer fires."""

from __future__ import annotations

import base64
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from azure.storage.queue import QueueClient

from bench.azurite import REPO_ROOT, free_ports
from bench.host import _start_app, _stop
from dfx.emulator.storage import StorageAccount

APP = REPO_ROOT / "bench" / "apps" / "trigger_app"
STAMP = re.compile(r"\[(\S+)Z\] Executed 'Functions\.noop'")
FIRED = re.compile(r"Executing 'Functions\.tick' \(Reason='Timer fired at (\S+)'")


@dataclass
class TriggerFigures:
    messages: int = 0
    queue_per_second: float = 0.0
    lateness_ms: list[float] = field(default_factory=list)


def measure_triggers(account: StorageAccount, *, quick: bool, progress: Callable[[str], None]) -> TriggerFigures:
    """Fill the queue, start the app, time the drain from its log; then collect the timer's ticks."""
    figures = TriggerFigures(messages=100 if quick else 1000)
    queue = QueueClient.from_connection_string(account.connection_string(), "bench-in")
    queue.create_queue()
    body = base64.b64encode(b'{"order": 1}').decode()
    progress(f"filling a queue with {figures.messages} messages")
    for _ in range(figures.messages):
        queue.send_message(body)
    progress(f"a queue function draining {figures.messages} messages")
    with tempfile.TemporaryFile("w+") as log:
        process = _start_app(account, APP, free_ports(1)[0], log, "--no-watch")
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                log.seek(0)
                stamps = STAMP.findall(log.read())
                if len(stamps) >= figures.messages:
                    break
                time.sleep(0.2)
            else:
                log.seek(0)
                errors = [line.strip() for line in log if "rror" in line or "ailed" in line][:5]
                raise RuntimeError(
                    f"the queue function ran {len(stamps)} of {figures.messages} messages in 120 s; {errors}"
                )
            log.seek(0)
            first = next(
                m.group(1) for line in log if (m := re.match(r"^\[(\S+)Z\] Executing 'Functions\.noop'", line))
            )
            last = max(datetime.fromisoformat(stamp) for stamp in stamps)
            took = (last - datetime.fromisoformat(first)).total_seconds()
            figures.queue_per_second = figures.messages / max(took, 1e-6)
            ticks = 5 if quick else 60
            progress(f"{ticks} one-second timer ticks")
            log.seek(0)
            already = sum(1 for line in log if FIRED.search(line))
            time.sleep(ticks + 1.5)
            log.seek(0)
            fired = [datetime.fromisoformat(m.group(1)) for line in log if (m := FIRED.search(line))][already:]
            figures.lateness_ms = [f.microsecond / 1000 for f in fired[:ticks]]
        finally:
            _stop(process, log)
    return figures


def trigger_section(figures: TriggerFigures, raw_receive_delete: float | None) -> str:
    """The ``## Triggers`` section of BENCHMARKS.md."""
    ratio = f"{figures.queue_per_second / raw_receive_delete:.2f}x raw receive+delete" if raw_receive_delete else ""
    lateness = sorted(figures.lateness_ms)
    median = statistics.median(lateness) if lateness else float("nan")
    p95 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.95))] if lateness else float("nan")
    return "\n".join([
        "## Triggers",
        "",
        "`dfx start bench/apps/trigger_app`: a no-op queue function (host.json defaults: batchSize 16) and a "
        "one-second timer, on a fresh Azurite.",
        "",
        "| Figure | Value | Target | Beside |",
        "|---|---:|---|---|",
        f"| queue trigger: {figures.messages} messages put before the start, first run to last | "
        f"{figures.queue_per_second:.0f} messages/s | >= 0.8x raw | {ratio} |",
        f"| timer lateness over {len(lateness)} one-second ticks (fired after the second) | "
        f"{median:.1f} ms median, {p95:.1f} ms p95 | <= 50 ms | |",
        "",
    ])  # fmt: skip
