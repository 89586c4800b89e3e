"""Cron expressions evaluated in a timezone, with the daylight-saving rules of Debian cron.

croniter matches wall-clock times; this module turns each match into real instants:

* a wall time inside a spring-forward gap does not exist. An expression with a fixed hour fires once at the
  end of the gap (``30 2 * * *`` in New York on 2026-03-08 fires at 03:00 EDT). An expression whose hour
  field is ``*`` or a step has no such time to make up: it fires only at the instants that exist.
* a wall time inside a fall-back fold happens twice. A fixed hour fires once, at the first occurrence;
  a ``*`` or step hour fires at both instants.

Next fire times are computed from the previous slot, never from "now" plus drift.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

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
    if not croniter.is_valid(text):
        raise InvalidInput("cron", f"{expr!r} is not a valid cron expression")
    return text


def hour_floats(expr: str) -> bool:
    """True when the hour field is ``*`` or a step: such expressions follow real instants through DST."""
    hour = expr.split(" ")[1]
    return hour.startswith("*") or "/" in hour


@lru_cache(maxsize=4096)
def _checked(expr: str) -> str:
    text = normalize(expr)
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except (CroniterBadDateError, CroniterBadCronError, CroniterError):
        raise InvalidInput("cron", f"{expr!r} never fires (no such date, e.g. 31 February)") from None
    return text


def validate(expr: str) -> str:
    """The normalized expression, or InvalidInput naming the field (bad syntax, impossible date)."""
    return _checked(expr)


def next_fire(expr: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first fire instant strictly after ``after`` (aware), in UTC."""
    text = _checked(expr)
    floats = hour_floats(text)
    local = after.astimezone(zone)
    # Near a clock change a wall time earlier than ``after``'s may still come after it (a fold): look back.
    # Elsewhere no earlier wall time can, and starting at ``after`` spares minutely expressions 180 steps.
    look_back = timedelta(0) if _offset_steady(zone, after) else _MARGIN
    start_wall = (local - look_back).replace(tzinfo=None)
    matches = croniter(text, start_wall)
    best: datetime | None = None
    for _ in range(_MAX_STEPS):
        wall: datetime = matches.get_next(datetime)
        instants, kind = wall_instants(wall, zone)
        if kind == "gap" and floats:
            continue
        if kind == "fold" and not floats:
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


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)
