"""Cron expressions evaluated in a timezone, with the daylight-saving rule of Debian cron.

cronsim reads an expression as Debian cron does (fields, aliases' expansions, how day-of-month and weekday
combine) and walks the naive wall clock; this module turns each matching wall time into real instants.
Debian cron sorts jobs in two kinds, and so does this module:

* a *wildcard* job, whose minute field or hour field starts with ``*`` (``*/10 2 * * *``, ``30 * * * *``),
  follows the clock: it fires at every real instant whose wall time matches. A wall time swallowed by a
  spring-forward gap is not made up; a wall time in a fall-back fold fires at both of its instants.
* every other job is a *fixed-time* job (``30 2 * * *``, ``0 1-23/2 * * *``): a wall time in a gap fires once
  at the end of the gap (``30 2 * * *`` in New York on 2026-03-08 fires at 03:00 EDT), a wall time in a fold
  fires once, at its first occurrence.

cronsim applies the same rule itself on aware datetimes, but there it skips real instants in zones whose
clocks move by other than a whole hour at a whole hour (Lord Howe, Chatham), so only its naive walk is used.
Next fire times are computed from the previous slot, never from "now" plus drift.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from inbox.errors import InvalidInput
from inbox.schedules.zones import wall_instants

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# A search window before the previous slot: wide enough to cover the largest DST shift (2 h in history).
_MARGIN = timedelta(hours=3)
# A series stores "cron EXPR" in a 200-character column.
MAX_LENGTH = 195
# Past this many wall-clock matches without a fire, the expression cannot fire (it is validated at creation).
_MAX_STEPS = 10_000


def normalize(expr: str) -> str:
    """Expand aliases and collapse whitespace; rejects anything that is not 5-field cron."""
    text = " ".join(expr.split())
    text = _ALIASES.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5:
        raise InvalidInput(
            "cron", f"{expr!r} must have 5 fields (minute hour day month weekday) or be an alias such as @daily"
        )
    if len(text) > MAX_LENGTH:
        raise InvalidInput("cron", f"is {len(text)} characters long; the limit is {MAX_LENGTH}")
    return text


def is_wildcard(expr: str) -> bool:
    """Debian cron's test: the minute or the hour field starts with ``*``; such a job follows real instants."""
    minute, hour = expr.split(" ")[:2]
    return minute.startswith("*") or hour.startswith("*")


@lru_cache(maxsize=4096)
def _checked(expr: str) -> str:
    text = normalize(expr)
    if not _fires(text):
        minute, hour, day, _, weekday = text.split(" ")
        # Valid fields in every month but not in the ones named: a date such as 31 February.
        impossible = _fires(f"{minute} {hour} {day} * {weekday}")
        reason = "never fires (no such date, e.g. 31 February)" if impossible else "is not a valid cron expression"
        raise InvalidInput("cron", f"{expr!r} {reason}")
    return text


def _fires(text: str) -> bool:
    try:
        next(CronSim(text, datetime(2000, 1, 1)))
    except CronSimError:  # bad syntax, or a day of the month that none of the months named has
        return False
    except StopIteration:  # cronsim looks 50 years ahead: past any calendar's cycle, so never
        return False
    return True


def validate(expr: str) -> str:
    """The normalized expression, or InvalidInput naming the field (bad syntax, impossible date)."""
    return _checked(expr)


def next_fire(expr: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first fire instant strictly after ``after`` (aware), in UTC."""
    text = _checked(expr)
    wildcard = is_wildcard(text)
    local = after.astimezone(zone)
    # Near a clock change a wall time earlier than ``after``'s may still come after it (a fold): look back.
    # Elsewhere no earlier wall time can, and starting at ``after`` spares minutely expressions 180 steps.
    look_back = timedelta(0) if _offset_steady(zone, after) else _MARGIN
    matches = CronSim(text, (local - look_back).replace(tzinfo=None))
    best: datetime | None = None
    for _ in range(_MAX_STEPS):
        wall = next(matches, None)
        if wall is None:
            break
        instants, kind = wall_instants(wall, zone)
        if kind == "gap" and wildcard:
            continue
        if kind == "fold" and not wildcard:
            instants = instants[:1]
        for instant in instants:
            if instant > after and (best is None or instant < best):
                best = instant
        # The earliest instant of later wall times never decreases, so once it passes ``best`` we are done.
        if best is not None and instants[0] > best:
            return best
        if best is not None and kind == "normal":
            return best
    if best is not None:
        return best
    raise InvalidInput("cron", f"{expr!r} does not fire within the search window")


def _offset_steady(zone: ZoneInfo, instant: datetime) -> bool:
    """No clock change within the margin around ``instant``."""
    offsets = {(instant + delta).astimezone(zone).utcoffset() for delta in (-_MARGIN, timedelta(0), _MARGIN)}
    return len(offsets) == 1


def fire_times(expr: str, zone: ZoneInfo, after: datetime, count: int) -> list[datetime]:
    times: list[datetime] = []
    current = after
    for _ in range(count):
        current = next_fire(expr, zone, current)
        times.append(current)
    return times
