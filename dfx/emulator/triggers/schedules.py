"""Timer schedules as the Functions host reads them: NCRONTAB expressions and TimeSpan intervals (pure).

An NCRONTAB expression has six fields, seconds first (``0 */5 * * * *``), or the classic five; the host's
time zone is UTC unless ``WEBSITE_TIME_ZONE`` (or ``TZ``) names another. A TimeSpan (``00:05:00``,
``1.00:00:00``) is an interval between runs. ``%NAME%`` takes the schedule from an app setting. croniter
computes occurrences: it reads both cron forms (``second_at_beginning`` for NCRONTAB's seconds field), and
with ``day_or=False`` a day must match both the day-of-month and the day-of-week field, as in NCrontab.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from dfx.errors import DfxError

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")
_SETTING = re.compile(r"^%([^%]+)%$")
TIME_ZONE_SETTINGS = ("WEBSITE_TIME_ZONE", "TZ")


class ScheduleError(DfxError):
    """A timer schedule that cannot be read."""

    hint = (
        "Use six NCRONTAB fields, seconds first ('0 */5 * * * *' is every five minutes), or a TimeSpan "
        "such as '00:05:00'."
    )


@dataclass(frozen=True)
class CronSchedule:
    """Occurrences of an NCRONTAB expression in a time zone."""

    expression: str
    zone: tzinfo
    with_seconds: bool

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (aware), in UTC."""
        local = moment.astimezone(self.zone)
        found = croniter(self.expression, local, day_or=False, second_at_beginning=self.with_seconds).get_next(datetime)
        return found.astimezone(timezone.utc)

    def __str__(self) -> str:
        return self.expression


@dataclass(frozen=True)
class IntervalSchedule:
    """A fixed interval between runs (a TimeSpan schedule)."""

    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment.astimezone(timezone.utc) + self.interval

    def __str__(self) -> str:
        total = int(self.interval.total_seconds())
        days, rest = divmod(total, 86400)
        clock = f"{rest // 3600:02}:{rest % 3600 // 60:02}:{rest % 60:02}"
        return f"{days}.{clock}" if days else clock


Schedule = CronSchedule | IntervalSchedule


def time_zone(values: Mapping[str, str]) -> tzinfo:
    """The zone schedules run in: ``WEBSITE_TIME_ZONE`` or ``TZ`` (IANA names), else UTC."""
    for name in TIME_ZONE_SETTINGS:
        text = (values.get(name) or "").strip()
        if text:
            try:
                return ZoneInfo(text)
            except (ZoneInfoNotFoundError, ValueError):
                raise ScheduleError(
                    f"{name} {text!r} is not a time zone this machine knows.",
                    hint="Use an IANA name such as 'Europe/Berlin' or 'America/New_York' (as Linux plans do).",
                ) from None
    return timezone.utc


def parse_schedule(text: str, values: Mapping[str, str], zone: tzinfo = timezone.utc) -> Schedule:
    """Read a timer trigger's ``schedule``; ``%NAME%`` is looked up in ``values`` (the app settings)."""
    raw = (text or "").strip()
    setting = _SETTING.match(raw)
    if setting:
        name = setting.group(1)
        if name not in values:
            raise ScheduleError(
                f"The schedule names the app setting {name!r}, which is not set.",
                hint=f"Add {name} to local.settings.json's Values (or the environment).",
            )
        raw = values[name].strip()
    timespan = _TIMESPAN.match(raw)
    if timespan:
        days, hours, minutes, seconds, fraction = timespan.groups()
        interval = timedelta(
            days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0),
            microseconds=int((fraction or "0").ljust(7, "0")[:6]),
        )  # fmt: skip
        if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59 or interval <= timedelta(0):
            raise ScheduleError(f"{raw!r} is not a positive TimeSpan (hours 0-23, minutes and seconds 0-59).")
        return IntervalSchedule(interval)
    fields = raw.split()
    if len(fields) not in (5, 6):
        raise ScheduleError(f"{raw!r} is not an NCRONTAB expression: it has {len(fields)} fields, not 6 (or 5).")
    with_seconds = len(fields) == 6
    if not croniter.is_valid(raw, second_at_beginning=with_seconds):
        raise ScheduleError(f"{raw!r} is not a valid NCRONTAB expression.")
    return CronSchedule(" ".join(fields), zone, with_seconds)
