"""Schedules: cron, every, at and in; timezones and daylight-saving rules."""

from inbox.schedules.durations import format_duration, parse_duration
from inbox.schedules.schedule import (
    CronSchedule,
    EverySchedule,
    OneShot,
    Recurring,
    Schedule,
    choose,
    from_recurrence,
    parse_at,
    parse_cron,
    parse_every,
    upcoming,
)
from inbox.schedules.zones import load_zone, resolve_zone

__all__ = [
    "CronSchedule",
    "EverySchedule",
    "OneShot",
    "Recurring",
    "Schedule",
    "choose",
    "format_duration",
    "from_recurrence",
    "load_zone",
    "parse_at",
    "parse_cron",
    "parse_duration",
    "parse_every",
    "resolve_zone",
    "upcoming",
]
