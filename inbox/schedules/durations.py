"""Durations as people type them: ``30s``, ``5m``, ``2h``, ``1d``, ``1w``, combined as ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

from inbox.errors import InvalidInput

# The longest duration taken, and so the furthest ahead a schedule reaches: past it, the fire times a
# schedule implies would leave the years a datetime can hold. A longer value is a typo, not a plan.
MAX_DURATION = timedelta(days=36_500)
MAX_DURATION_TEXT = "100 years (36500d)"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"(?:\d+[smhdw])+")


def parse_duration(text: str, *, field: str = "duration") -> timedelta:
    """Parse ``1h30m`` into a timedelta; zero, negative and malformed durations are rejected."""
    compact = text.strip().lower().replace(" ", "")
    if compact.isdigit():
        raise InvalidInput(field, f"{text!r} has no unit; write e.g. {compact}s, {compact}m or {compact}h")
    if not _WHOLE.fullmatch(compact):
        raise InvalidInput(field, f"{text!r} is not a duration; use forms like 30s, 5m, 2h, 1d, 1h30m")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(compact))
    if seconds <= 0:
        raise InvalidInput(field, f"{text!r} must be longer than zero")
    if seconds > MAX_DURATION.total_seconds():
        raise InvalidInput(field, f"{text!r} is longer than the limit of {MAX_DURATION_TEXT}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The canonical short form: ``timedelta(seconds=5400)`` -> ``1h30m``."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
