"""The schedule an integration runs on (the brief's format), validated so a bad one names its field.

`Schedule` is the API's and the store's shape; `parse_schedule` turns raw JSON into one or raises a
`ConfigurationError`. The minimum interval is passed as validation context (`min_interval_hours`),
so the API can return the same errors as 422s: `Schedule.model_validate(raw, context={...})`.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, timedelta
from functools import cached_property
from itertools import pairwise
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from monday_snowflake.errors import ConfigurationError

ScheduleType = Literal["HOURLY", "DAILY", "WEEKLY", "MONTHLY"]

DEFAULT_MIN_INTERVAL_HOURS = 1.0
"""Runs of one schedule may not be planned closer together than this, unless configured otherwise."""

MIN_INTERVAL_CONTEXT_KEY = "min_interval_hours"
"""Validation-context key that overrides `DEFAULT_MIN_INTERVAL_HOURS`."""

Weekday = Annotated[int, Field(ge=0, le=6)]
DayOfMonth = Annotated[int, Field(ge=1, le=31)]

_ERRORS_WITHOUT_INPUT = {
    "missing",
    "model_type",
    "model_attributes_type",
    "days_required",
    "unknown_timezone",
}
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Schedule(BaseModel):
    """When an integration runs: hourly, daily, weekly or monthly, at a wall time in an IANA timezone."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    schedule_type: ScheduleType
    """HOURLY, DAILY, WEEKLY or MONTHLY."""
    hour: int = Field(default=0, ge=0, le=23, validate_default=True)
    """Local hour of the run (DAILY, WEEKLY, MONTHLY); must stay 0 for HOURLY."""
    minute: int = Field(default=0, ge=0, le=59)
    """Local minute of the run; for HOURLY, the minute past each run hour."""
    timezone: str = "UTC"
    """IANA timezone name the wall time is read in, e.g. `Europe/London`."""
    days_of_week: list[Weekday] = Field(default_factory=list, validate_default=True)
    """WEEKLY only (required): local weekdays, 0=Monday .. 6=Sunday."""
    days_of_month: list[DayOfMonth] = Field(default_factory=list, validate_default=True)
    """MONTHLY only (required): days 1-31; a day a month lacks runs on that month's last day."""
    every_n_hours: int = Field(default=1, ge=1, le=23, validate_default=True)
    """HOURLY only: run in local hours divisible by this (1 = every hour, 3 = 0, 3, 6, ... 21)."""

    @cached_property
    def zone(self) -> ZoneInfo:
        """The schedule's timezone."""
        return ZoneInfo(self.timezone)

    def run_days_in_month(self, year: int, month: int) -> list[int]:
        """MONTHLY: the days of `month` it runs on, days the month lacks moved to its last day, once each."""
        last = calendar.monthrange(year, month)[1]
        return sorted({min(day, last) for day in self.days_of_month})

    @field_validator("hour")
    @classmethod
    def _hour_unused_by_hourly(cls, hour: int, info: ValidationInfo) -> int:
        if hour != 0 and info.data.get("schedule_type") == "HOURLY":
            raise PydanticCustomError(
                "hour_not_allowed",
                "HOURLY schedules run at `minute` past every `every_n_hours`-th hour; hour must be 0",
            )
        return hour

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise PydanticCustomError(
                "unknown_timezone", "unknown timezone '{timezone}'", {"timezone": name}
            ) from None
        return name

    @field_validator("schedule_type")
    @classmethod
    def _daily_not_under_minimum(cls, schedule_type: ScheduleType, info: ValidationInfo) -> ScheduleType:
        minimum = _min_interval_hours(info)
        if schedule_type == "DAILY" and minimum > 24:
            raise _too_often("runs every 24 hours", minimum)
        return schedule_type

    @field_validator("days_of_week")
    @classmethod
    def _weekly_days(cls, days: list[int], info: ValidationInfo) -> list[int]:
        days = sorted(set(days))
        schedule_type = info.data.get("schedule_type")
        if schedule_type != "WEEKLY":
            if days and schedule_type is not None:
                raise _only_for("days_of_week", "WEEKLY", schedule_type)
            return days
        if not days:
            raise PydanticCustomError(
                "days_required", "a WEEKLY schedule needs at least one weekday (0=Monday .. 6=Sunday)"
            )
        gaps = [(b - a) % 7 or 7 for a, b in zip(days, days[1:] + days[:1], strict=True)]
        shortest = min(gaps)
        if shortest * 24 < _min_interval_hours(info):
            first = days[gaps.index(shortest)]
            second = _WEEKDAY_NAMES[(first + shortest) % 7]
            raise _too_often(
                f"runs on {_WEEKDAY_NAMES[first]} and {second}, {shortest * 24} hours apart",
                _min_interval_hours(info),
            )
        return days

    @field_validator("days_of_month")
    @classmethod
    def _monthly_days(cls, days: list[int], info: ValidationInfo) -> list[int]:
        days = sorted(set(days))
        schedule_type = info.data.get("schedule_type")
        if schedule_type != "MONTHLY":
            if days and schedule_type is not None:
                raise _only_for("days_of_month", "MONTHLY", schedule_type)
            return days
        if not days:
            raise PydanticCustomError("days_required", "a MONTHLY schedule needs at least one day (1-31)")
        shortest = _shortest_monthly_gap_days(days)
        if shortest * 24 < _min_interval_hours(info):
            raise _too_often(f"runs as little as {shortest * 24} hours apart", _min_interval_hours(info))
        return days

    @field_validator("every_n_hours")
    @classmethod
    def _hourly_interval(cls, every_n_hours: int, info: ValidationInfo) -> int:
        schedule_type = info.data.get("schedule_type")
        if schedule_type != "HOURLY":
            if every_n_hours != 1 and schedule_type is not None:
                raise _only_for("every_n_hours", "HOURLY", schedule_type)
            return every_n_hours
        last_hour = 23 - 23 % every_n_hours
        shortest = min(every_n_hours, 24 - last_hour)
        minimum = _min_interval_hours(info)
        if shortest < minimum:
            reason = "runs every hour" if every_n_hours == 1 else f"runs every {every_n_hours} hours"
            if shortest < every_n_hours:
                reason = f"runs {shortest} hours apart at {last_hour:02d}:00 and 00:00"
            raise _too_often(reason, minimum)
        return every_n_hours


def parse_schedule(
    raw: Mapping[str, Any], *, min_interval_hours: float = DEFAULT_MIN_INTERVAL_HOURS
) -> Schedule:
    """Validate a schedule from JSON; any problem is a `ConfigurationError` naming the field."""
    try:
        return Schedule.model_validate(raw, context={MIN_INTERVAL_CONTEXT_KEY: min_interval_hours})
    except ValidationError as error:
        problems = [_describe_error(detail) for detail in error.errors(include_url=False)]
        message = "invalid schedule: " + "; ".join(f"{field}: {text}" for field, text in problems)
        raise ConfigurationError(
            message,
            field=problems[0][0],
            errors=[{"field": field, "message": text} for field, text in problems],
        ) from error


def _describe_error(detail: Mapping[str, Any]) -> tuple[str, str]:
    """(field, message) for one pydantic error, e.g. ("days_of_month[0]", "... (got 0)")."""
    field = ""
    for part in detail["loc"]:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    text = str(detail["msg"])
    if detail["type"] not in _ERRORS_WITHOUT_INPUT:
        text += f" (got {detail['input']!r})"
    return field or "schedule", text


def _min_interval_hours(info: ValidationInfo) -> float:
    context = info.context if isinstance(info.context, Mapping) else {}
    return float(context.get(MIN_INTERVAL_CONTEXT_KEY, DEFAULT_MIN_INTERVAL_HOURS))


def _too_often(reason: str, minimum: float) -> PydanticCustomError:
    return PydanticCustomError(
        "interval_too_short",
        "{reason}, more often than the minimum interval of {minimum} hours",
        {"reason": reason, "minimum": f"{minimum:g}"},
    )


def _only_for(field: str, schedule_type: str, given: str) -> PydanticCustomError:
    return PydanticCustomError(
        "field_not_allowed",
        "{field} is only used by {schedule_type} schedules, not {given}",
        {"field": field, "schedule_type": schedule_type, "given": given},
    )


def _shortest_monthly_gap_days(days: list[int]) -> int:
    """Fewest days between two runs of a MONTHLY schedule, over a leap year and a common one."""
    probe = Schedule.model_construct(schedule_type="MONTHLY", days_of_month=days)
    runs = [
        date(year, month, day)
        for year in (2023, 2024)
        for month in range(1, 13)
        for day in probe.run_days_in_month(year, month)
    ]
    return min((b - a for a, b in pairwise(runs)), default=timedelta(days=28)).days
