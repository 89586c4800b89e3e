"""The three kinds of schedule a task can have, as frozen value objects.

A recurring schedule is stored on each occurrence row as its ``recurrence`` text (``cron 0 9 * * 1-5`` or
``every 1h30m``) together with the row's ``timezone``; a one-shot has no recurrence. ``next_after(slot)``
gives the slot after a previous slot, so the series never drifts: for ``every``, slot k = anchor + k·every.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from inbox.errors import InvalidInput
from inbox.schedules import cron
from inbox.schedules.durations import MAX_DURATION, MAX_DURATION_TEXT, format_duration, parse_duration
from inbox.schedules.zones import local_instant


@dataclass(frozen=True)
class CronSchedule:
    expr: str

    @property
    def recurrence(self) -> str:
        return f"cron {self.expr}"

    def first_after(self, now: datetime, zone: ZoneInfo) -> datetime:
        return cron.next_fire(self.expr, zone, now)

    def next_after(self, slot: datetime, zone: ZoneInfo) -> datetime:
        return cron.next_fire(self.expr, zone, slot)

    def describe(self) -> str:
        return self.recurrence


@dataclass(frozen=True)
class EverySchedule:
    """Fixed elapsed time between slots (1d is 24 hours, whatever the clocks do); use cron for wall time."""

    interval: timedelta

    @property
    def recurrence(self) -> str:
        return f"every {format_duration(self.interval)}"

    def first_after(self, now: datetime, zone: ZoneInfo) -> datetime:
        return now + self.interval

    def next_after(self, slot: datetime, zone: ZoneInfo) -> datetime:
        return slot + self.interval

    def describe(self) -> str:
        return self.recurrence


@dataclass(frozen=True)
class OneShot:
    when: datetime  # aware UTC

    @property
    def recurrence(self) -> None:
        return None

    def first_after(self, now: datetime, zone: ZoneInfo) -> datetime:
        return self.when

    def next_after(self, slot: datetime, zone: ZoneInfo) -> datetime | None:
        return None

    def describe(self) -> str:
        return f"at {self.when.isoformat()}"


Recurring = CronSchedule | EverySchedule
Schedule = CronSchedule | EverySchedule | OneShot


def parse_cron(expr: str) -> CronSchedule:
    return CronSchedule(cron.validate(expr))


def parse_every(text: str) -> EverySchedule:
    return EverySchedule(parse_duration(text, field="every"))


def parse_instant(text: str, zone: ZoneInfo, *, field: str = "at") -> datetime:
    """ISO 8601 as an aware UTC instant, past or future; with an offset or Z it is that instant, naive is
    wall-clock time in ``zone``."""
    raw = text.strip()
    try:
        parsed = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in ("z", "Z") else raw)
    except ValueError:
        raise InvalidInput(
            field, f"{text!r} is not an ISO 8601 time such as 2026-12-01T09:00 or 2026-12-01T09:00:00+01:00"
        ) from None
    try:
        return parsed.astimezone(UTC) if parsed.tzinfo else local_instant(parsed, zone)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is in the year 10000 in UTC
        raise InvalidInput(field, f"{text!r} is outside the years a time can have (1 to 9999)") from None


def parse_at(text: str, zone: ZoneInfo, now: datetime, *, field: str = "at") -> OneShot:
    """A future instant (see :func:`parse_instant`), at most :data:`MAX_DURATION` ahead."""
    return _future(parse_instant(text, zone, field=field), now, field)


def parse_in(text: str, now: datetime) -> OneShot:
    return OneShot(now + parse_duration(text, field="in"))


def _future(when: datetime, now: datetime, field: str) -> OneShot:
    if when <= now:
        raise InvalidInput(field, f"{when.isoformat()} is in the past (it is now {now.isoformat(timespec='seconds')})")
    if when - now > MAX_DURATION:
        raise InvalidInput(field, f"{when.isoformat()} is more than {MAX_DURATION_TEXT} ahead")
    return OneShot(when)


def from_recurrence(text: str) -> Recurring:
    """Inverse of ``.recurrence`` for what the store holds."""
    kind, _, rest = text.partition(" ")
    if kind == "cron":
        return parse_cron(rest)
    if kind == "every":
        return parse_every(rest)
    raise InvalidInput("recurrence", f"unknown recurrence {text!r}")


def choose(
    *,
    cron_expr: str | None,
    every: str | None,
    at: str | None,
    in_: str | None,
    zone: ZoneInfo,
    now: datetime,
) -> Schedule:
    """Exactly one of the four options, parsed; otherwise InvalidInput naming the options."""
    given = {
        name: value
        for name, value in (("cron", cron_expr), ("every", every), ("at", at), ("in", in_))
        if value is not None
    }
    if len(given) != 1:
        names = ", ".join(given) or "none"
        options = ("cron", "every", "at", "in")
        raise InvalidInput("schedule", f"give exactly one of {', '.join(options)} (got {names})", mentions=options)
    if cron_expr is not None:
        return parse_cron(cron_expr)
    if every is not None:
        return parse_every(every)
    if at is not None:
        return parse_at(at, zone, now)
    assert in_ is not None
    return parse_in(in_, now)


def upcoming(schedule: Schedule, zone: ZoneInfo, first: datetime, count: int) -> list[datetime]:
    """``first`` and the fire times after it: ``count`` in all (fewer for a one-shot)."""
    times = [first]
    while len(times) < count:
        following = schedule.next_after(times[-1], zone)
        if following is None:
            break
        times.append(following)
    return times
