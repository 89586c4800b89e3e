"""``inbox next``: fire times of a schedule, computed without the store, so previewing loads no database code."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from inbox import validation as check
from inbox.errors import InvalidInput
from inbox.schedules.schedule import parse_cron, parse_every, upcoming


def preview(
    *, cron: str | None = None, every: str | None = None, zone: ZoneInfo, start: datetime, count: int = 5
) -> list[datetime]:
    """The fire times after ``start``, in ``zone``; writes nothing."""
    check.positive_int(count, field="count", maximum=1000)
    if (cron is None) == (every is None):
        raise InvalidInput("schedule", "give exactly one of cron or every", mentions=("cron", "every"))
    plan = parse_cron(cron) if cron is not None else parse_every(every or "")
    first = plan.first_after(start, zone)
    return [t.astimezone(zone) for t in upcoming(plan, zone, first, count)]
