"""Timer schedules read as the Functions host reads them: NCRONTAB (six or five fields) and TimeSpans."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dfx.emulator.triggers.schedules import (
    CronSchedule,
    IntervalSchedule,
    ScheduleError,
    parse_schedule,
    time_zone,
)

UTC = timezone.utc


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("*/1 * * * * *", at(2026, 1, 1, 0, 0, 0), at(2026, 1, 1, 0, 0, 1)),
        ("0 */5 * * * *", at(2026, 1, 1, 0, 7, 30), at(2026, 1, 1, 0, 10, 0)),
        ("0 30 9 * * 1-5", at(2026, 1, 2, 12, 0, 0), at(2026, 1, 5, 9, 30, 0)),  # Friday noon -> Monday
        ("*/15 * * * *", at(2026, 1, 1, 0, 7, 30), at(2026, 1, 1, 0, 15, 0)),  # five fields: minutes first
        ("0 0 0 13 * 5", at(2026, 1, 1), at(2026, 2, 13)),  # the 13th *and* a Friday, as NCrontab matches
    ],
)
def test_ncrontab_occurrences(schedule: str, after: datetime, expected: datetime):
    assert parse_schedule(schedule, {}).next_after(after) == expected


def test_a_time_zone_setting_moves_occurrences_and_follows_daylight_saving():
    berlin = time_zone({"WEBSITE_TIME_ZONE": "Europe/Berlin"})
    daily = parse_schedule("0 0 9 * * *", {}, berlin)
    assert daily.next_after(at(2026, 1, 10, 12)) == at(2026, 1, 11, 8)  # CET, UTC+1
    assert daily.next_after(at(2026, 7, 10, 12)) == at(2026, 7, 11, 7)  # CEST, UTC+2
    assert time_zone({"TZ": "America/New_York"}) != UTC
    assert time_zone({}) == UTC


@pytest.mark.parametrize(
    ("text", "interval"),
    [("00:05:00", timedelta(minutes=5)), ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
     ("00:00:01.5", timedelta(seconds=1.5)), ("12:00", timedelta(hours=12))],
)  # fmt: skip
def test_timespans_are_intervals(text: str, interval: timedelta):
    schedule = parse_schedule(text, {})
    assert schedule == IntervalSchedule(interval)
    assert schedule.next_after(at(2026, 1, 1)) == at(2026, 1, 1) + interval


def test_a_setting_reference_reads_the_schedule_from_app_settings():
    assert isinstance(parse_schedule("%NIGHTLY%", {"NIGHTLY": "0 0 2 * * *"}), CronSchedule)
    with pytest.raises(ScheduleError, match="'NIGHTLY', which is not set"):
        parse_schedule("%NIGHTLY%", {})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "0 fields"), ("* * *", "3 fields"), ("61 * * * * *", "not a valid NCRONTAB"),
     ("00:00:00", "not a positive TimeSpan"), ("25:00:00", "not a positive TimeSpan"),
     ("every day", "2 fields")],
)  # fmt: skip
def test_bad_schedules_are_one_clear_error(text: str, fragment: str):
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text, {})
    assert fragment in info.value.message and "\n" not in info.value.message


def test_an_unknown_time_zone_names_the_setting():
    with pytest.raises(ScheduleError, match="WEBSITE_TIME_ZONE 'Eastern Standard Time'"):
        time_zone({"WEBSITE_TIME_ZONE": "Eastern Standard Time"})
