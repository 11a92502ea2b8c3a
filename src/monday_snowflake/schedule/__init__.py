"""Schedules: validated schedule types, their next run time across DST, and the equivalent cron."""

from monday_snowflake.schedule.model import (
    DEFAULT_MIN_INTERVAL_HOURS,
    MIN_INTERVAL_CONTEXT_KEY,
    Schedule,
    ScheduleType,
    parse_schedule,
)
from monday_snowflake.schedule.rules import cron_expression, describe, next_run

__all__ = [
    "DEFAULT_MIN_INTERVAL_HOURS",
    "MIN_INTERVAL_CONTEXT_KEY",
    "Schedule",
    "ScheduleType",
    "cron_expression",
    "describe",
    "next_run",
    "parse_schedule",
]
