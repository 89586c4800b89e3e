"""Which timezone a task lives in, and turning wall-clock times into instants.

Resolution order (first that is set wins): the explicit ``tz`` (``--tz``), ``INBOX_TZ``, ``TZ`` (each from the
environment, then from ``$INBOX_HOME/.env``, see inbox.config), the system zone (tzlocal), UTC. The resolved
IANA name is stored on the task, so a later change of the host's zone does not move it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inbox.errors import InvalidInput


def load_zone(name: str, *, field: str = "timezone") -> ZoneInfo:
    cleaned = name.strip().removeprefix(":")
    if cleaned.startswith("/"):
        # TZ=:/usr/share/zoneinfo/Europe/Paris style: take the IANA name after zoneinfo/.
        cleaned = cleaned.split("zoneinfo/", 1)[-1]
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise InvalidInput(field, f"unknown timezone {name!r}; use an IANA name such as Europe/Paris") from None


def _system_zone_name() -> str | None:
    try:
        import tzlocal

        name = tzlocal.get_localzone_name()
    except Exception:  # tzlocal raises assorted errors on odd hosts; the system zone is only a fallback
        return None
    return name if isinstance(name, str) and name else None


def resolve_zone(explicit: str | None, configured: Sequence[tuple[str, str | None]] = ()) -> ZoneInfo:
    """Apply the resolution order; a zone named anywhere in it must exist.

    ``configured``: (where it was set, zone name) pairs after the explicit ``tz``, first wins.
    """
    for field, value in [("tz", explicit), *configured]:
        if value:
            return load_zone(value, field=field)
    system = _system_zone_name()
    if system:
        try:
            return load_zone(system)
        except InvalidInput:
            pass
    return ZoneInfo("UTC")


def zone_name(zone: ZoneInfo) -> str:
    return zone.key


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first real instant after a spring-forward gap that swallowed ``wall`` (naive)."""
    lo = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)  # read with the later offset: before the jump
    hi = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # read with the earlier offset: after the jump
    lo, hi = min(lo, hi), max(lo, hi)
    # Binary search the transition to the second; gaps are rare and at most a few hours long.
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset():
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


def wall_instants(wall: datetime, zone: ZoneInfo) -> tuple[list[datetime], str]:
    """The UTC instants a naive wall-clock time stands for, and what kind of time it is.

    Returns ``([instant], "normal")``, ``([first, second], "fold")`` for a time that happens twice, or
    ``([end_of_gap], "gap")`` for a time that does not exist.
    """
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    u_first, u_second = first.astimezone(UTC), second.astimezone(UTC)
    if u_first == u_second:
        return [u_first], "normal"
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return [_end_of_gap(wall, zone)], "gap"
    return sorted([u_first, u_second]), "fold"


def local_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall time as one instant: its first occurrence in a fold, the end of the gap in a gap."""
    return wall_instants(wall, zone)[0][0]
