"""How the dashboard says things: schedules in words, instants in the viewer's zone, durations, short texts."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cron_descriptor import ExpressionDescriptor, Options

from inbox.schedules.durations import parse_duration

UTC_ZONE = ZoneInfo("UTC")
NONE = "\u2013"  # an en dash: no value
_UNITS = (("week", 604_800), ("day", 86_400), ("hour", 3600), ("minute", 60), ("second", 1))


def schedule_in_words(recurrence: str | None, on: list[str] | None = None) -> str:
    """``cron 0 9 * * 1-5`` is "At 09:00, Monday through Friday"; ``every 1h30m`` is "Every 1 hour 30 minutes";
    no recurrence is "Once". The stored text stays the authority: what cannot be put in words is shown as is.
    Event patterns (``on``) are added as they are: "Every 1 hour, or on mail.*"; "On mail.*" alone."""
    if on:
        patterns = ", ".join(on)
        return f"{schedule_in_words(recurrence)}, or on {patterns}" if recurrence else f"On {patterns}"
    if not recurrence:
        return "Once"
    kind, _, rest = recurrence.partition(" ")
    if kind == "every":
        try:
            return "Every " + duration_in_words(parse_duration(rest))
        except ValueError:
            return recurrence
    if kind == "cron":
        return _cron_words(rest)
    return recurrence


@functools.lru_cache(maxsize=4096)
def _cron_words(expr: str) -> str:
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        return str(ExpressionDescriptor(expr, options).get_description())
    except Exception:  # an expression cronsim takes but the describer does not (e.g. "L"): show it as written
        return f"cron {expr}"


def duration_in_words(delta: timedelta) -> str:
    """``1 hour 30 minutes``, ``1 day``: the largest units, at most two of them."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in _UNITS:
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts[:2]) or "0 seconds"


def short_duration(seconds: float | None) -> str:
    """A run's length: ``120 ms``, ``4.2 s``, ``3 min 5 s``, ``2 h 10 min``."""
    if seconds is None:
        return NONE
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def local_time(instant: datetime | None, zone: ZoneInfo, now: datetime) -> str:
    """An instant as the viewer reads it, in ``zone``: the time alone today, the day too within the year."""
    if instant is None:
        return NONE
    here = instant.astimezone(zone)
    today = now.astimezone(zone).date()
    if here.date() == today:
        return here.strftime("%H:%M:%S")
    if abs((here.date() - today).days) < 180:
        return here.strftime("%a %d %b %H:%M")
    return here.strftime("%Y-%m-%d %H:%M")


def relative(instant: datetime | None, now: datetime) -> str:
    """``in 5 min``, ``3 h ago``: how far an instant is from now, roughly."""
    if instant is None:
        return ""
    seconds = (instant - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        amount = f"{int(span)} s"
    elif span < 3600:
        amount = f"{int(span // 60)} min"
    elif span < 86_400:
        amount = f"{span / 3600:.0f} h"
    else:
        amount = f"{span / 86_400:.0f} d"
    return f"in {amount}" if seconds >= 0 else f"{amount} ago"


def first_line(text: str, limit: int = 80) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def zone_named(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    """The zone a browser says it is in (an IANA name), or ``fallback`` when it names none we know."""
    if not name or len(name) > 64:
        return fallback
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return fallback
