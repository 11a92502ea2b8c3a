"""Schedules: validation, next run across DST and month ends, cron expressions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.schedule import Schedule, cron_expression, describe, next_run, parse_schedule

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KATHMANDU = ZoneInfo("Asia/Kathmandu")


def schedule(**fields: Any) -> Schedule:
    return parse_schedule(fields)


def runs(sched: Schedule, start: datetime, count: int) -> list[datetime]:
    out: list[datetime] = []
    moment = start
    for _ in range(count):
        moment = next_run(sched, moment)
        out.append(moment)
    return out


def runs_until(sched: Schedule, start: datetime, end: datetime) -> list[datetime]:
    out: list[datetime] = []
    moment = next_run(sched, start)
    while moment < end:
        out.append(moment)
        moment = next_run(sched, moment)
    return out


def local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


def local_times(moments: list[datetime], zone: ZoneInfo) -> list[str]:
    return [local(moment, zone) for moment in moments]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- DAILY across DST -------------------------------------------------------------------------------


def test_daily_0230_new_york_spring_forward_runs_once_shifted_to_0330_edt() -> None:
    daily = schedule(schedule_type="DAILY", hour=2, minute=30, timezone="America/New_York")
    got = runs(daily, datetime(2024, 3, 9, 12, tzinfo=NEW_YORK), 3)
    assert local_times(got, NEW_YORK) == [
        "2024-03-10T03:30:00-04:00",
        "2024-03-11T02:30:00-04:00",
        "2024-03-12T02:30:00-04:00",
    ]
    assert got[0] == utc(2024, 3, 10, 7, 30)
    assert all(run.tzinfo is UTC for run in got)


def test_daily_0230_new_york_fall_back_day_runs_once_at_0230_est() -> None:
    daily = schedule(schedule_type="DAILY", hour=2, minute=30, timezone="America/New_York")
    got = runs(daily, datetime(2024, 11, 2, 12, tzinfo=NEW_YORK), 2)
    assert local_times(got, NEW_YORK) == ["2024-11-03T02:30:00-05:00", "2024-11-04T02:30:00-05:00"]


def test_daily_0130_new_york_fall_back_runs_once_at_first_occurrence() -> None:
    daily = schedule(schedule_type="DAILY", hour=1, minute=30, timezone="America/New_York")
    got = runs(daily, datetime(2024, 11, 2, 12, tzinfo=NEW_YORK), 2)
    assert local_times(got, NEW_YORK) == ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"]
    # Asked between the two 01:30s, the next run is the next day's: the repeat does not run.
    between = utc(2024, 11, 3, 6, 0)  # 01:00 EST, after 01:30 EDT
    assert local(next_run(daily, between), NEW_YORK) == "2024-11-04T01:30:00-05:00"


def test_daily_europe_london_both_transitions() -> None:
    daily = schedule(schedule_type="DAILY", hour=1, minute=30, timezone="Europe/London")
    spring = next_run(daily, datetime(2024, 3, 30, 12, tzinfo=LONDON))
    assert local(spring, LONDON) == "2024-03-31T02:30:00+01:00"  # 01:30 GMT does not exist
    autumn = runs(daily, datetime(2024, 10, 26, 12, tzinfo=LONDON), 2)
    assert local_times(autumn, LONDON) == ["2024-10-27T01:30:00+01:00", "2024-10-28T01:30:00+00:00"]


def test_daily_lord_howe_thirty_minute_shift() -> None:
    at_0215 = schedule(schedule_type="DAILY", hour=2, minute=15, timezone="Australia/Lord_Howe")
    # DST starts 2024-10-06 02:00 -> 02:30: 02:15 does not exist, the run moves 30 minutes forward.
    start = runs(at_0215, datetime(2024, 10, 5, 12, tzinfo=LORD_HOWE), 2)
    assert local_times(start, LORD_HOWE) == ["2024-10-06T02:45:00+11:00", "2024-10-07T02:15:00+11:00"]
    # DST ends 2024-04-07 02:00 -> 01:30: 02:15 happens once.
    end = runs(at_0215, datetime(2024, 4, 6, 12, tzinfo=LORD_HOWE), 2)
    assert local_times(end, LORD_HOWE) == ["2024-04-07T02:15:00+10:30", "2024-04-08T02:15:00+10:30"]
    # 01:45 happens twice that day (+11:00, then +10:30): one run, at the first.
    at_0145 = schedule(schedule_type="DAILY", hour=1, minute=45, timezone="Australia/Lord_Howe")
    repeated = runs(at_0145, datetime(2024, 4, 6, 12, tzinfo=LORD_HOWE), 2)
    assert local_times(repeated, LORD_HOWE) == [
        "2024-04-07T01:45:00+11:00",
        "2024-04-08T01:45:00+10:30",
    ]


def test_daily_run_in_a_gap_at_the_end_of_the_day_moves_back_to_stay_on_its_day() -> None:
    nuuk = ZoneInfo("America/Nuuk")
    daily = schedule(schedule_type="DAILY", hour=23, minute=30, timezone="America/Nuuk")
    got = runs(daily, datetime(2024, 3, 29, 12, tzinfo=nuuk), 3)
    assert local_times(got, nuuk) == [
        "2024-03-29T23:30:00-02:00",
        "2024-03-30T22:30:00-02:00",  # 23:00 -> 00:00: moving forward would land on the 31st
        "2024-03-31T23:30:00-01:00",
    ]


def test_daily_kathmandu_quarter_hour_offset() -> None:
    daily = schedule(schedule_type="DAILY", hour=2, minute=30, timezone="Asia/Kathmandu")
    run = next_run(daily, utc(2024, 6, 1, 0, 0))
    assert run == utc(2024, 6, 1, 20, 45)
    assert local(run, KATHMANDU) == "2024-06-02T02:30:00+05:45"


@pytest.mark.parametrize(
    ("zone", "hour", "minute"),
    [
        ("America/New_York", 2, 30),
        ("America/New_York", 1, 30),
        ("Europe/London", 1, 30),
        ("Australia/Lord_Howe", 2, 15),
        ("Australia/Lord_Howe", 1, 45),
        ("Asia/Kathmandu", 0, 0),
        ("America/Havana", 0, 30),  # clocks jump at midnight: 00:30 does not exist on the spring day
        ("America/Santiago", 23, 30),  # clocks go back at midnight: 23:30 happens twice
        ("America/Nuuk", 23, 30),  # clocks jump from 23:00 to 00:00 on 2024-03-30
        ("UTC", 0, 0),
    ],
)
def test_daily_over_a_year_runs_exactly_once_every_local_day(zone: str, hour: int, minute: int) -> None:
    tz = ZoneInfo(zone)
    daily = schedule(schedule_type="DAILY", hour=hour, minute=minute, timezone=zone)
    start = datetime(2024, 1, 1, tzinfo=tz) - timedelta(seconds=1)
    got = runs_until(daily, start, datetime(2025, 1, 1, tzinfo=tz))
    days = [run.astimezone(tz).date() for run in got]
    assert days == [date(2024, 1, 1) + timedelta(days=i) for i in range(366)]
    on_time = [run for run in got if (run.astimezone(tz).hour, run.astimezone(tz).minute) == (hour, minute)]
    assert len(got) - len(on_time) <= 1  # only the spring-forward day may be shifted
    assert all(run.astimezone(tz).fold == 0 for run in got)


# --- HOURLY across DST ------------------------------------------------------------------------------


def test_hourly_new_york_fall_back_repeated_hour_runs_twice() -> None:
    hourly = schedule(schedule_type="HOURLY", minute=30, timezone="America/New_York")
    got = runs(hourly, datetime(2024, 11, 3, 0, 0, tzinfo=NEW_YORK), 4)
    assert local_times(got, NEW_YORK) == [
        "2024-11-03T00:30:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:30:00-05:00",
        "2024-11-03T02:30:00-05:00",
    ]
    assert [b - a for a, b in pairwise(got)] == [timedelta(hours=1)] * 3


def test_hourly_new_york_spring_forward_missing_hour_is_absent() -> None:
    hourly = schedule(schedule_type="HOURLY", minute=30, timezone="America/New_York")
    got = runs(hourly, datetime(2024, 3, 10, 0, 0, tzinfo=NEW_YORK), 3)
    assert local_times(got, NEW_YORK) == [
        "2024-03-10T00:30:00-05:00",
        "2024-03-10T01:30:00-05:00",
        "2024-03-10T03:30:00-04:00",
    ]


def test_hourly_every_two_hours_new_york_runs_on_even_local_hours_across_both_transitions() -> None:
    hourly = schedule(schedule_type="HOURLY", every_n_hours=2, minute=30, timezone="America/New_York")
    autumn = runs(hourly, datetime(2024, 11, 3, 0, 0, tzinfo=NEW_YORK), 2)
    assert local_times(autumn, NEW_YORK) == ["2024-11-03T00:30:00-04:00", "2024-11-03T02:30:00-05:00"]
    spring = runs(hourly, datetime(2024, 3, 10, 0, 0, tzinfo=NEW_YORK), 2)
    assert local_times(spring, NEW_YORK) == ["2024-03-10T00:30:00-05:00", "2024-03-10T04:30:00-04:00"]


def test_hourly_europe_london_fall_back_runs_repeated_hour_twice() -> None:
    hourly = schedule(schedule_type="HOURLY", minute=0, timezone="Europe/London")
    got = runs(hourly, datetime(2024, 10, 27, 0, 30, tzinfo=LONDON), 3)
    assert local_times(got, LONDON) == [
        "2024-10-27T01:00:00+01:00",
        "2024-10-27T01:00:00+00:00",
        "2024-10-27T02:00:00+00:00",
    ]


def test_hourly_lord_howe_never_runs_twice_within_an_hour() -> None:
    hourly = schedule(schedule_type="HOURLY", minute=45, timezone="Australia/Lord_Howe")
    # Clocks go back 30 minutes at 02:00: 01:45 happens twice, half an hour apart; it runs once.
    autumn = runs(hourly, datetime(2024, 4, 7, 0, 0, tzinfo=LORD_HOWE), 3)
    assert local_times(autumn, LORD_HOWE) == [
        "2024-04-07T00:45:00+11:00",
        "2024-04-07T01:45:00+11:00",
        "2024-04-07T02:45:00+10:30",
    ]
    # Clocks go forward 30 minutes at 02:00: 02:45 comes half an hour after 01:45 and is skipped.
    spring = runs(hourly, datetime(2024, 10, 6, 1, 0, tzinfo=LORD_HOWE), 2)
    assert local_times(spring, LORD_HOWE) == ["2024-10-06T01:45:00+10:30", "2024-10-06T03:45:00+11:00"]


def test_hourly_lord_howe_quarter_past_is_unaffected_by_the_half_hour_shifts() -> None:
    hourly = schedule(schedule_type="HOURLY", minute=15, timezone="Australia/Lord_Howe")
    spring = runs(hourly, datetime(2024, 10, 6, 1, 0, tzinfo=LORD_HOWE), 2)
    # 02:15 is in the gap (02:00 -> 02:30): absent.
    assert local_times(spring, LORD_HOWE) == ["2024-10-06T01:15:00+10:30", "2024-10-06T03:15:00+11:00"]
    autumn = runs(hourly, datetime(2024, 4, 7, 1, 0, tzinfo=LORD_HOWE), 2)
    assert local_times(autumn, LORD_HOWE) == ["2024-04-07T01:15:00+11:00", "2024-04-07T02:15:00+10:30"]


def test_hourly_kathmandu_minute_is_local() -> None:
    hourly = schedule(schedule_type="HOURLY", every_n_hours=3, minute=0, timezone="Asia/Kathmandu")
    got = runs(hourly, utc(2024, 6, 1, 0, 0), 3)
    assert got == [utc(2024, 6, 1, 0, 15), utc(2024, 6, 1, 3, 15), utc(2024, 6, 1, 6, 15)]
    assert [run.astimezone(KATHMANDU).hour for run in got] == [6, 9, 12]


@pytest.mark.parametrize(
    ("zone", "minute"),
    [
        ("America/New_York", 30),
        ("Europe/London", 0),
        ("Australia/Lord_Howe", 15),
        ("Australia/Lord_Howe", 45),
        ("Asia/Kathmandu", 0),
    ],
)
def test_hourly_over_a_year_keeps_every_hour_and_never_runs_within_an_hour(zone: str, minute: int) -> None:
    tz = ZoneInfo(zone)
    hourly = schedule(schedule_type="HOURLY", minute=minute, timezone=zone)
    got = runs_until(hourly, datetime(2024, 1, 1, tzinfo=tz), datetime(2025, 1, 1, tzinfo=tz))
    gaps = {b - a for a, b in pairwise(got)}
    assert min(gaps) >= timedelta(hours=1)
    assert max(gaps) <= timedelta(hours=2)
    assert all(run.astimezone(tz).minute == minute for run in got)
    assert abs(len(got) - 366 * 24) <= 2


def test_hourly_every_five_hours_wraps_at_midnight() -> None:
    hourly = schedule(schedule_type="HOURLY", every_n_hours=5, minute=0)
    got = runs(hourly, utc(2024, 6, 1, 0, 0), 6)
    assert [run.hour for run in got] == [5, 10, 15, 20, 0, 5]


# --- WEEKLY and MONTHLY -----------------------------------------------------------------------------


def test_weekly_runs_on_listed_local_weekdays() -> None:
    weekly = schedule(
        schedule_type="WEEKLY", hour=23, minute=0, timezone="Asia/Kathmandu", days_of_week=[2, 0]
    )
    got = runs(weekly, utc(2024, 6, 3, 0, 0), 4)  # Monday 2024-06-03 05:45 in Kathmandu
    assert local_times(got, KATHMANDU) == [
        "2024-06-03T23:00:00+05:45",
        "2024-06-05T23:00:00+05:45",
        "2024-06-10T23:00:00+05:45",
        "2024-06-12T23:00:00+05:45",
    ]


def test_weekly_over_a_year_runs_once_on_each_listed_weekday() -> None:
    weekly = schedule(
        schedule_type="WEEKLY", hour=2, minute=30, timezone="America/New_York", days_of_week=[6, 1]
    )
    start = datetime(2024, 1, 1, tzinfo=NEW_YORK)
    got = runs_until(weekly, start, datetime(2025, 1, 1, tzinfo=NEW_YORK))
    days = [run.astimezone(NEW_YORK).date() for run in got]
    expected = [
        date(2024, 1, 1) + timedelta(days=i)
        for i in range(366)
        if (date(2024, 1, 1) + timedelta(days=i)).weekday() in (1, 6)
    ]
    assert days == expected


@pytest.mark.parametrize(
    ("days_of_month", "year", "expected"),
    [
        ([31], 2024, [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]),
        ([31], 2023, [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]),
        ([30], 2024, [30, 29, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30]),
        ([29], 2023, [29, 28, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29]),
    ],
)
def test_monthly_day_a_month_lacks_runs_on_its_last_day(
    days_of_month: list[int], year: int, expected: list[int]
) -> None:
    monthly = schedule(schedule_type="MONTHLY", hour=2, minute=30, days_of_month=days_of_month)
    got = runs_until(monthly, utc(year, 1, 1), utc(year + 1, 1, 1))
    assert [(run.month, run.day) for run in got] == list(enumerate(expected, start=1))


@pytest.mark.parametrize(("year", "last_day"), [(2023, 28), (2024, 29)])
def test_monthly_days_landing_on_the_same_date_run_once(year: int, last_day: int) -> None:
    monthly = schedule(schedule_type="MONTHLY", days_of_month=[31, 29, 30, 28])
    got = runs_until(monthly, utc(year, 2, 1), utc(year, 3, 1))
    expected = [utc(year, 2, 28)] if last_day == 28 else [utc(year, 2, 28), utc(year, 2, 29)]
    assert got == expected


def test_monthly_in_a_timezone_uses_the_local_date() -> None:
    monthly = schedule(
        schedule_type="MONTHLY", hour=0, minute=30, timezone="America/New_York", days_of_month=[1, 15]
    )
    got = runs(monthly, utc(2024, 1, 31, 12, 0), 3)
    assert local_times(got, NEW_YORK) == [
        "2024-02-01T00:30:00-05:00",
        "2024-02-15T00:30:00-05:00",
        "2024-03-01T00:30:00-05:00",
    ]


# --- next_run contract, cron, describe --------------------------------------------------------------


def test_next_run_is_strictly_after() -> None:
    daily = schedule(schedule_type="DAILY", hour=2, minute=30)
    assert next_run(daily, utc(2024, 6, 1, 2, 30)) == utc(2024, 6, 2, 2, 30)
    assert next_run(daily, utc(2024, 6, 1, 2, 30) - timedelta(microseconds=1)) == utc(2024, 6, 1, 2, 30)


def test_next_run_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run(schedule(schedule_type="DAILY"), datetime(2024, 6, 1))


@pytest.mark.parametrize(
    ("fields", "cron"),
    [
        ({"schedule_type": "DAILY", "hour": 2, "minute": 30}, "30 2 * * *"),
        ({"schedule_type": "WEEKLY", "hour": 2, "minute": 30, "days_of_week": [0, 2]}, "30 2 * * 1,3"),
        ({"schedule_type": "WEEKLY", "hour": 9, "days_of_week": [6, 5, 0]}, "0 9 * * 0,1,6"),
        ({"schedule_type": "MONTHLY", "hour": 2, "minute": 30, "days_of_month": [15, 1]}, "30 2 1,15 * *"),
        ({"schedule_type": "HOURLY", "minute": 30, "every_n_hours": 3}, "30 */3 * * *"),
        ({"schedule_type": "HOURLY", "minute": 5}, "5 * * * *"),
    ],
)
def test_cron_expression(fields: dict[str, Any], cron: str) -> None:
    assert cron_expression(parse_schedule(fields)) == cron


def test_describe_gives_next_run_in_utc_and_local_time() -> None:
    daily = schedule(schedule_type="DAILY", hour=2, minute=30, timezone="America/New_York")
    assert describe(daily, utc(2024, 3, 9, 12, 0)) == {
        "next_run_utc": "2024-03-10T07:30:00+00:00",
        "next_run_local": "2024-03-10T03:30:00-04:00",
        "timezone": "America/New_York",
        "cron": "30 2 * * *",
    }


# --- validation -------------------------------------------------------------------------------------


def test_defaults_and_normalised_day_lists() -> None:
    weekly = schedule(schedule_type="WEEKLY", days_of_week=[3, 1, 3])
    assert (weekly.hour, weekly.minute, weekly.timezone, weekly.every_n_hours) == (0, 0, "UTC", 1)
    assert weekly.days_of_week == [1, 3]
    assert Schedule.model_validate(weekly.model_dump()) == weekly


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"schedule_type": "DAILY", "timezone": "Mars/Base"}, "timezone", "unknown timezone 'Mars/Base'"),
        ({"schedule_type": "DAILY", "timezone": "../etc/passwd"}, "timezone", "unknown timezone"),
        ({"schedule_type": "DAILY", "timezone": ""}, "timezone", "unknown timezone"),
        (
            {"schedule_type": "MONTHLY", "days_of_month": [0]},
            "days_of_month[0]",
            "greater than or equal to 1",
        ),
        (
            {"schedule_type": "MONTHLY", "days_of_month": [1, 32]},
            "days_of_month[1]",
            "less than or equal to 31",
        ),
        ({"schedule_type": "WEEKLY", "days_of_week": [7]}, "days_of_week[0]", "less than or equal to 6"),
        ({"schedule_type": "DAILY", "hour": 24}, "hour", "less than or equal to 23"),
        ({"schedule_type": "DAILY", "minute": 60}, "minute", "less than or equal to 59"),
        ({"schedule_type": "HOURLY", "every_n_hours": 0}, "every_n_hours", "greater than or equal to 1"),
        ({"schedule_type": "WEEKLY"}, "days_of_week", "at least one weekday"),
        ({"schedule_type": "WEEKLY", "days_of_week": []}, "days_of_week", "at least one weekday"),
        ({"schedule_type": "MONTHLY"}, "days_of_month", "at least one day"),
        ({"schedule_type": "DAILY", "color": "red"}, "color", "Extra inputs are not permitted"),
        ({"schedule_type": "YEARLY"}, "schedule_type", "'HOURLY', 'DAILY', 'WEEKLY' or 'MONTHLY'"),
        ({}, "schedule_type", "Field required"),
        ({"schedule_type": "DAILY", "hour": True}, "hour", "valid integer"),
        ({"schedule_type": "DAILY", "days_of_week": [1]}, "days_of_week", "only used by WEEKLY"),
        ({"schedule_type": "WEEKLY", "days_of_week": [1], "days_of_month": [1]}, "days_of_month", "MONTHLY"),
        ({"schedule_type": "DAILY", "every_n_hours": 2}, "every_n_hours", "only used by HOURLY"),
        ({"schedule_type": "HOURLY", "hour": 3}, "hour", "hour must be 0"),
    ],
)
def test_invalid_schedule_is_a_configuration_error_naming_the_field(
    fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_schedule(fields)
    assert caught.value.details["field"] == field
    assert f"{field}: " in str(caught.value)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "minimum", "field", "words"),
    [
        ({"schedule_type": "HOURLY", "every_n_hours": 1}, 2, "every_n_hours", "runs every hour"),
        ({"schedule_type": "HOURLY", "every_n_hours": 5}, 5, "every_n_hours", "4 hours apart at 20:00"),
        ({"schedule_type": "HOURLY", "every_n_hours": 1}, 1.5, "every_n_hours", "minimum interval of 1.5"),
        ({"schedule_type": "DAILY"}, 25, "schedule_type", "runs every 24 hours"),
        ({"schedule_type": "WEEKLY", "days_of_week": [0, 1]}, 25, "days_of_week", "Monday and Tuesday"),
        ({"schedule_type": "WEEKLY", "days_of_week": [0, 6]}, 25, "days_of_week", "Sunday and Monday"),
        ({"schedule_type": "MONTHLY", "days_of_month": [30, 31]}, 25, "days_of_month", "24 hours apart"),
    ],
)
def test_interval_under_the_minimum_is_rejected(
    fields: dict[str, Any], minimum: float, field: str, words: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_schedule(fields, min_interval_hours=minimum)
    assert caught.value.details["field"] == field
    assert "minimum interval" in str(caught.value)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "minimum"),
    [
        ({"schedule_type": "HOURLY", "every_n_hours": 2}, 2),
        ({"schedule_type": "HOURLY", "every_n_hours": 6}, 6),
        ({"schedule_type": "DAILY"}, 24),
        ({"schedule_type": "WEEKLY", "days_of_week": [0, 2]}, 48),
        ({"schedule_type": "MONTHLY", "days_of_month": [1, 31]}, 24),
        ({"schedule_type": "MONTHLY", "days_of_month": [15]}, 24 * 28),
    ],
)
def test_interval_at_the_minimum_is_accepted(fields: dict[str, Any], minimum: float) -> None:
    assert parse_schedule(fields, min_interval_hours=minimum).schedule_type == fields["schedule_type"]


def test_model_validation_names_the_field_for_api_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        Schedule.model_validate({"schedule_type": "DAILY", "timezone": "Mars/Base", "hour": 24})
    errors = {error["loc"]: error for error in caught.value.errors()}
    assert errors[("timezone",)]["msg"] == "unknown timezone 'Mars/Base'"
    assert errors[("timezone",)]["type"] == "unknown_timezone"
    assert ("hour",) in errors


def test_model_applies_the_default_minimum_interval_and_takes_another_as_context() -> None:
    hourly = {"schedule_type": "HOURLY", "every_n_hours": 1}
    assert Schedule.model_validate(hourly).every_n_hours == 1
    with pytest.raises(ValidationError) as caught:
        Schedule.model_validate(hourly, context={"min_interval_hours": 3})
    assert caught.value.errors()[0]["loc"] == ("every_n_hours",)
    assert caught.value.errors()[0]["type"] == "interval_too_short"
