"""Active hours: the daily window of wall-clock time in which a task's occurrences may run (``08:00-22:00``).

A window is read on the local clock of the task's own zone, so it follows daylight-saving time: ``08:00-22:00`` in
Europe/Paris is 06:00-20:00 UTC in summer and 07:00-21:00 UTC in winter. Its start is inside, its end is not
(``08:00-22:00`` holds 08:00 and 21:59, not 22:00). A start later than the end crosses midnight: ``22:00-06:00``
holds 23:30 and 05:59. Equal start and end would say nothing (always or never), so they are refused.

Pure: what to do with an occurrence outside its window is the store's (inbox.store.hours).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from inbox.errors import InvalidInput

FIELD = "active_hours"
_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class ActiveHours:
    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, clock: time) -> bool:
        """Whether a wall-clock time (seconds count: 21:59:59 is inside 08:00-22:00) is in the window."""
        clock = clock.replace(tzinfo=None, fold=0)
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end  # crosses midnight

    def holds(self, instant: datetime, zone: ZoneInfo) -> bool:
        """Whether ``instant`` (aware) falls in the window on ``zone``'s clock."""
        return self.contains(instant.astimezone(zone).time())


def parse_active_hours(text: str, *, field: str = FIELD) -> ActiveHours:
    """``HH:MM-HH:MM`` (hours 0-23, minutes 0-59, start and end different) as a window; else a refusal naming
    ``field``."""
    found = _WINDOW.fullmatch(text.strip())
    if found is None:
        raise InvalidInput(field, f"{text!r} is not a window of hours; give HH:MM-HH:MM, e.g. 08:00-22:00")
    start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
    for hours, minutes in ((start_h, start_m), (end_h, end_m)):
        if hours > 23 or minutes > 59:
            raise InvalidInput(field, f"{hours:02d}:{minutes:02d} is not a time of day (00:00 to 23:59)")
    window = ActiveHours(time(start_h, start_m), time(end_h, end_m))
    if window.start == window.end:
        raise InvalidInput(field, f"{text.strip()!r} starts where it ends; give a window such as 08:00-22:00")
    return window


def normalized(text: str, *, field: str = FIELD) -> str:
    """The window as stored and shown: ``8:00 - 22:00`` becomes ``08:00-22:00``."""
    return str(parse_active_hours(text, field=field))
