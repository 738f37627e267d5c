"""Timer functions fire on their schedule, at startup, and past due after a missed run, as the host runs them."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from dfx.emulator.storage import StorageAccount
from dfx.emulator.storage.clients import StorageClients
from dfx.emulator.storage.webjobs import HostBlobs, host_id
from dfx.emulator.triggers.schedules import parse_schedule
from tests.e2e.conftest import APPS, HostLauncher, call, copy_app, eventually

pytestmark = pytest.mark.azurite
NIGHTLY = "0 0 2 * * *"
STAMP = re.compile(r"^\[(\S+)Z\] ")


def stamped(lines: list[str], text: str) -> list[datetime]:
    return [datetime.fromisoformat(m.group(1)) for line in lines if text in line and (m := STAMP.match(line))]


def test_a_one_second_timer_fires_every_second_and_run_on_startup_fires_at_start(start_host: HostLauncher):
    host = start_host(APPS / "timer_app", "--no-watch", env={"NIGHTLY": NIGHTLY})
    started = stamped(host.lines, "Host started")[0]
    host.wait_for("tick past_due=False", timeout=3)
    eventually(lambda: len(stamped(host.lines, "Executing 'Functions.every_second'")) >= 4, timeout=6)
    ticks = stamped(host.lines, "Executing 'Functions.every_second'")
    assert ticks[0] - started < timedelta(seconds=1.5)
    assert all(abs(t.microsecond - 0) < 200_000 or t.microsecond > 950_000 for t in ticks)  # on the second
    assert host.output.count("Executing 'Functions.at_startup'") == 1
    assert "startup past_due=False status={}" in host.output  # use_monitor=False: no status
    assert "every_second: timerTrigger (*/1 * * * * *)" in host.output


async def test_a_run_missed_while_no_host_was_up_fires_once_past_due_and_starts_an_orchestration(
    start_host: HostLauncher, account: StorageAccount, tmp_path
):
    app = copy_app(APPS / "timer_app", tmp_path / "timer_app")
    schedule = parse_schedule(NIGHTLY, {})
    now = datetime.now(timezone.utc)
    last = schedule.next_after(now - timedelta(days=3))
    async with StorageClients(account) as clients:
        blobs = HostBlobs(clients, host_id(app))
        missed = {"Last": last, "Next": schedule.next_after(last), "LastUpdated": last}
        await blobs.write_timer_status("Host.Functions.nightly", missed)
        host = start_host(app, "--no-watch", copy=False, env={"NIGHTLY": NIGHTLY})
        line = host.lines[host.wait_for("nightly past_due=True started")]
        instance_id = line.rsplit(" ", 1)[1]
        status = eventually(
            lambda: (
                (r := call("GET", f"{host.url}/runtime/webhooks/durabletask/instances/{instance_id}")).status == 200
                and r.json()
            )
        )
        assert status["runtimeStatus"] == "Completed" and status["output"] == {"past_due": True}
        kept = await blobs.read_timer_status("Host.Functions.nightly")
    assert kept is not None and kept["Last"] is not None and kept["Last"] > now - timedelta(seconds=5)
    assert kept["Next"] == schedule.next_after(kept["Last"])
    time.sleep(0.2)
    assert host.output.count("Executing 'Functions.nightly'") == 1


def test_a_schedule_that_cannot_be_read_puts_its_function_in_error_and_the_others_run(start_host: HostLauncher):
    host = start_host(APPS / "timer_app", "--no-watch", env={"NIGHTLY": "every night"})
    host.wait_for("The 'nightly' function is in error: 'every night' is not an NCRONTAB expression")
    host.wait_for("tick past_due=False", timeout=3)
    assert "Traceback" not in host.output


def test_the_admin_api_runs_a_timer_or_queue_function_once(start_host: HostLauncher):
    host = start_host(APPS / "timer_app", "--no-watch", env={"NIGHTLY": NIGHTLY})
    reply = call("POST", f"{host.url}/admin/functions/at_startup", b'{"input": ""}')
    assert reply.status == 202, reply.text
    eventually(lambda: host.output.count("Executing 'Functions.at_startup'") == 2)
    assert "Reason='This function was programmatically called via the host APIs.'" in host.output
    assert call("POST", f"{host.url}/admin/functions/ON_ORDER", b'{"input": "42 apples"}').status == 202
    host.wait_for("order 42 apples dequeue_count=0")
    assert call("POST", f"{host.url}/admin/functions/nope", b'{"input": ""}').status == 404
    assert call("POST", f"{host.url}/admin/functions/report", b'{"input": ""}').status == 400
    assert call("POST", f"{host.url}/admin/functions/on_order", b"not json").status == 400
