"""The timer extension's rules: past-due detection, when status is kept, the TimerInfo JSON, the host id."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from dfx.emulator.storage.webjobs import _stable_hash, host_id
from dfx.emulator.triggers.schedules import parse_schedule
from dfx.emulator.triggers.timer import check_past_due, monitored, timer_json

NIGHTLY = parse_schedule("0 0 2 * * *", {})
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def test_no_status_yet_is_not_past_due_and_records_the_next_run():
    past_due, status = check_past_due(NIGHTLY, None, NOW)
    assert not past_due
    assert status == {"Last": None, "Next": datetime(2026, 12, 5, 2, tzinfo=timezone.utc), "LastUpdated": NOW}


def test_a_next_run_that_went_by_is_past_due():
    last = datetime(2026, 12, 2, 2, tzinfo=timezone.utc)
    past_due, status = check_past_due(
        NIGHTLY, {"Last": last, "Next": NIGHTLY.next_after(last), "LastUpdated": last}, NOW
    )
    assert past_due and status["Last"] == last


def test_a_changed_schedule_is_not_past_due_and_restarts_from_now():
    last = datetime(2026, 12, 2, 2, tzinfo=timezone.utc)
    stale = {"Last": last, "Next": datetime(2026, 12, 2, 9, tzinfo=timezone.utc), "LastUpdated": last}
    past_due, status = check_past_due(NIGHTLY, stale, NOW)
    assert not past_due and status["Next"] == datetime(2026, 12, 5, 2, tzinfo=timezone.utc)


def test_status_is_not_kept_for_schedules_that_fire_more_than_once_a_minute():
    assert not monitored(parse_schedule("*/10 * * * * *", {}), True)
    assert not monitored(parse_schedule("00:00:30", {}), True)
    assert monitored(parse_schedule("0 */5 * * * *", {}), True)
    assert monitored(parse_schedule("00:05:00", {}), True)
    assert not monitored(NIGHTLY, False)


def test_timer_info_json_has_the_hosts_field_names():
    assert json.loads(timer_json(None, True)) == {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None,
                                                  "IsPastDue": True}  # fmt: skip
    shown = json.loads(timer_json({"Last": None, "Next": NOW, "LastUpdated": NOW}, False))["ScheduleStatus"]
    assert shown == {"Last": "0001-01-01T00:00:00+00:00", "Next": "2026-12-04T12:00:00+00:00",
                     "LastUpdated": "2026-12-04T12:00:00+00:00"}  # fmt: skip


def test_the_host_id_follows_core_tools_and_its_override():
    assert _stable_hash("a") == 23 * 31 + 97
    assert -(2**31) <= _stable_hash("x" * 40) < 2**31  # wraps to 32 bits
    made = host_id(Path("/apps/shop"), {})
    assert made == made.lower() and len(made) <= 32 and not made.endswith("-") and "-" in made
    assert host_id(Path("/apps/shop"), {"AzureFunctionsWebHost__hostid": "shop-prod"}) == "shop-prod"
