"""When a schedule runs next, and the cron expression that says the same thing.

Schedules are read on the local clock of their timezone. Across DST transitions no day is skipped and
no day runs twice (a local date that never happens, like Pacific/Apia's 2011-12-30, has no run):

- DAILY, WEEKLY and MONTHLY run once on each run day, at `hour:minute` local time.
  - Spring-forward, the wall time does not exist (02:30 in America/New_York on the second Sunday of
    March): the run moves forward by the length of the gap, keeping its distance from the start of the
    day: 02:30 becomes 03:30 EDT (Australia/Lord_Howe's 30-minute gap: 02:15 becomes 02:45). When
    that would cross midnight (America/Nuuk jumps from 23:00 to 00:00), it moves back by the gap
    instead (23:30 becomes 22:30), so the day still has its run.
  - Fall-back, the wall time happens twice (01:30 in America/New_York on the first Sunday of
    November): the run happens once, at the first occurrence (fold=0, 01:30 EDT). A 02:30 run is
    untouched that day: 02:30 happens once, at 02:30 EST, 25 real hours after the day before's run.
- WEEKLY runs on the listed local weekdays (0=Monday). MONTHLY runs on the listed days; a day the
  month lacks (31 in April, 29-31 in February) runs on the month's last day, and listed days that land
  on the same date run once.
- HOURLY runs at `minute` past every local hour divisible by `every_n_hours` (every_n_hours=3 runs at
  00, 03, ... 21 local; with 5 the day's last run, 20:00, is 4 hours before the next day's 00:00).
  - Spring-forward: a wall time in the gap does not exist and is simply not run; the next run is at
    its usual wall time, so the real time between runs shrinks by the shift (every 3 hours in New York:
    00:30 EST to 03:30 EDT is two real hours).
  - Fall-back: a repeated wall time runs at both occurrences when they are at least `every_n_hours`
    real hours apart (every hour in New York: 01:30 EDT and 01:30 EST are two real hours, both run);
    otherwise only at the first (Lord_Howe's 30-minute overlap, or n >= 2).
  - Two HOURLY runs are never less than one real hour apart: a run that would follow the previous one
    sooner (only possible after a shift of under an hour: hourly at :45 in Lord_Howe, 01:45 then
    02:45 half an hour later on the day clocks go forward) is skipped.
- Offsets that are not whole hours (Asia/Kathmandu is +05:45) change nothing: `minute` is local.

The minimum interval (see `parse_schedule`) is checked against these local-clock intervals; real gaps
differ by the DST shift on transition days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monday_snowflake.schedule.model import Schedule

_ONE_HOUR = timedelta(hours=1)
_SEARCH_DAYS = 400
"""Longest stretch of local days searched for a run (a MONTHLY run is never more than 31 days away)."""


def next_run(schedule: Schedule, after: datetime) -> datetime:
    """The first run strictly after `after` (an aware datetime), as an aware UTC datetime."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("after must be timezone-aware")
    after = after.astimezone(UTC)
    if schedule.schedule_type == "HOURLY":
        return _next_hourly_run(schedule, after)
    # Start a day early: a run moved forward by a gap may land on the next local day.
    first_day = after.astimezone(schedule.zone).date() - timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        if _runs_on(schedule, day):
            run = _daily_instant(day, schedule.hour, schedule.minute, schedule.zone)
            if run > after:
                return run
    raise AssertionError(f"no run of {schedule!r} within {_SEARCH_DAYS} days")  # pragma: no cover


def cron_expression(schedule: Schedule) -> str:
    """The 5-field cron expression for the schedule, read in its own timezone (Cloud Scheduler style).

    Cron cannot say "the last day of months that lack this day": `30 2 31 * *` skips April, where this
    schedule runs on the 30th. Cron runners also handle DST transitions their own way.
    """
    minute = schedule.minute
    if schedule.schedule_type == "HOURLY":
        hours = "*" if schedule.every_n_hours == 1 else f"*/{schedule.every_n_hours}"
        return f"{minute} {hours} * * *"
    if schedule.schedule_type == "DAILY":
        return f"{minute} {schedule.hour} * * *"
    if schedule.schedule_type == "WEEKLY":
        weekdays = ",".join(str(day) for day in sorted((day + 1) % 7 for day in schedule.days_of_week))
        return f"{minute} {schedule.hour} * * {weekdays}"
    days = ",".join(str(day) for day in sorted(schedule.days_of_month))
    return f"{minute} {schedule.hour} {days} * *"


def describe(schedule: Schedule, now: datetime) -> dict[str, str]:
    """What the API shows for a schedule: next run in UTC and local time (ISO 8601), timezone, cron."""
    run = next_run(schedule, now)
    return {
        "next_run_utc": run.isoformat(),
        "next_run_local": run.astimezone(schedule.zone).isoformat(),
        "timezone": schedule.timezone,
        "cron": cron_expression(schedule),
    }


def _runs_on(schedule: Schedule, day: date) -> bool:
    if schedule.schedule_type == "WEEKLY":
        return day.weekday() in schedule.days_of_week
    if schedule.schedule_type == "MONTHLY":
        return day.day in schedule.run_days_in_month(day.year, day.month)
    return True


def _daily_instant(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    """`hour:minute` on local `day`, resolved as the module docstring says.

    fold=0 picks the first of a repeated time and reads a time in a gap with the offset from before
    the gap, which moves it forward by the gap; fold=1 reads it with the offset after, moving it back.
    """
    wall = datetime.combine(day, time(hour, minute), tzinfo=zone)
    run = wall.astimezone(UTC)
    if run.astimezone(zone).date() != day:
        run = wall.replace(fold=1).astimezone(UTC)
    return run


def _next_hourly_run(schedule: Schedule, after: datetime) -> datetime:
    n = schedule.every_n_hours
    # Start a few local hours before `after`, so the candidate before the answer is known too.
    local = after.astimezone(schedule.zone).replace(tzinfo=None, fold=0)
    start = local.replace(minute=0, second=0, microsecond=0) - timedelta(hours=n + 3)
    min_repeat_gap = timedelta(hours=n)
    previous: datetime | None = None
    for run, first_occurrence in _hourly_wall_times(schedule, start):
        keep = previous is None or run - previous >= _ONE_HOUR
        if first_occurrence is not None and run - first_occurrence < min_repeat_gap:
            keep = False
        previous = run
        if keep and run > after:
            return run
    raise AssertionError(f"no run of {schedule!r} within {_SEARCH_DAYS} days")  # pragma: no cover


def _hourly_wall_times(schedule: Schedule, start: datetime) -> Iterator[tuple[datetime, datetime | None]]:
    """Every instant the local clock shows an HOURLY run time, in order, from naive local `start` on;
    paired with the first occurrence of the wall time when this instant is its repeat after a fall-back."""
    wall = start
    for _ in range(_SEARCH_DAYS):
        found: list[tuple[datetime, datetime | None]] = []
        for _ in range(24):
            if wall.hour % schedule.every_n_hours == 0:
                occurrences = _occurrences(wall.replace(minute=schedule.minute), schedule.zone)
                found.extend((run, occurrences[0] if i else None) for i, run in enumerate(occurrences))
            wall += _ONE_HOUR
        # Sorted a day at a time: instants of consecutive wall times interleave around a fall-back.
        yield from sorted(found, key=lambda pair: pair[0])


def _occurrences(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the local clock shows naive `wall`: none in a gap, two in an overlap."""
    first = wall.replace(tzinfo=zone)
    second = first.replace(fold=1)
    if first.utcoffset() == second.utcoffset():
        return [first.astimezone(UTC)]
    instants = [moment.astimezone(UTC) for moment in (first, second)]
    # In a gap, each reading lands on a different wall time; in an overlap, both show `wall`.
    return sorted(instant for instant in instants if instant.astimezone(zone).replace(tzinfo=None) == wall)
