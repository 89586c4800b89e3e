"""Limits per tag (``inbox limit``, docs/limits.md): how many rows with a tag run at once, how many start per window.

A claim asks :class:`Room` how many more rows of each limited tag it may start, and takes them within that. What it
counts is read while the claim holds the limits: on PostgreSQL it locks their ``tag_limits`` rows (skipping those
another claimer holds: that claimer is filling them, so this one treats them as full), and reads the running rows
after the lock, when every claimer that held it before has committed; on SQLite the claim holds the write lock.
So hosts sharing a store never start more than the limit between them.

A row counts against a tag while it runs, whatever attempt it is on (a retry is a new start); a start counts
against a rate from the moment it is claimed for the rate's whole window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from inbox.enums import LIVE_STATUSES, Status
from inbox.errors import NotFound
from inbox.store.models import MessageIn
from inbox.store.tag_tables import TagLimit, TagStart, TaskTag
from inbox.store.tags import gate_of, limited, series_tagged

_LIVE = [status.value for status in LIVE_STATUSES]


def running_counts(db: Session, tags: Iterable[str]) -> dict[str, int]:
    """How many rows carrying each of ``tags`` run now (by their series' tags as they are now).

    Two indexed reads, the running rows first: they are few, while a tag may be on any number of series (a join
    left to SQLite's planner walked the tag's series instead). A series runs one row at a time."""
    wanted = set(tags)
    if not wanted:
        return {}
    running = select(MessageIn.series_id).where(
        MessageIn.status == Status.RUNNING.value, col(MessageIn.series_id).is_not(None)
    )
    series = sorted({series_id for series_id in db.exec(running).all() if series_id})
    counts: dict[str, int] = {}
    for start in range(0, len(series), 500):
        tagged = select(TaskTag.tag).where(col(TaskTag.series_id).in_(series[start : start + 500]))
        for tag in db.exec(tagged).all():
            if tag in wanted:
                counts[tag] = counts.get(tag, 0) + 1
    return counts


def _starts(db: Session, limit: TagLimit, now: datetime) -> int:
    """Starts of ``limit``'s tag within its rate window; older ones are forgotten."""
    if limit.rate_count is None or limit.rate_seconds is None:
        return 0
    since = now - timedelta(seconds=limit.rate_seconds)
    query = select(func.count()).where(TagStart.tag == limit.tag, col(TagStart.started_at) > since)
    return int(db.exec(query).one())


@dataclass
class Room:
    """What one claim may still start per limited tag (a tag it could not lock has none)."""

    left: dict[str, int] = field(default_factory=dict)
    rated: set[str] = field(default_factory=set)

    @classmethod
    def take_limits(cls, db: Session, *, now: datetime) -> Room:
        limits = list(db.exec(select(TagLimit).order_by(col(TagLimit.tag))).all())
        if not limits:
            return cls()
        held = {limit.tag for limit in limits}
        if db.get_bind().dialect.name == "postgresql":
            locking = select(TagLimit.tag).order_by(col(TagLimit.tag)).with_for_update(skip_locked=True)
            held = set(db.exec(locking).all())
        running = running_counts(db, held)
        room = cls(left=dict.fromkeys((limit.tag for limit in limits), 0))
        for limit in limits:
            if limit.tag not in held:
                continue
            bounds = []
            if limit.max_running is not None:
                bounds.append(limit.max_running - running.get(limit.tag, 0))
            if limit.rate_count is not None and limit.rate_seconds is not None:
                bounds.append(limit.rate_count - _starts(db, limit, now))
                room.rated.add(limit.tag)
                since = now - timedelta(seconds=limit.rate_seconds)
                db.execute(delete(TagStart).where(col(TagStart.tag) == limit.tag, col(TagStart.started_at) <= since))
            room.left[limit.tag] = max(min(bounds), 0)
        return room

    def lanes(self, limit: int) -> list[tuple[str, int]]:
        """The lanes a claim of ``limit`` rows reads, and how many rows each may give: the one of rows no limit
        holds, and one per limited tag with room."""
        return [("", limit)] + [(tag, min(limit, left)) for tag, left in sorted(self.left.items()) if left > 0]

    def fits(self, row: MessageIn) -> bool:
        return all(self.left[tag] > 0 for tag in row.tags or () if tag in self.left)

    def take(self, db: Session, row: MessageIn, *, now: datetime) -> None:
        for tag in row.tags or ():
            if tag in self.left:
                self.left[tag] -= 1
                if tag in self.rated:
                    db.add(TagStart(tag=tag, started_at=now))


def regate(db: Session, tag: str) -> int:
    """After ``tag``'s limit was set or removed: the lane of every live row carrying it, again. Returns how many
    rows moved."""
    limited_tags = limited(db)
    query = select(MessageIn).where(col(MessageIn.series_id).in_(series_tagged(tag)), col(MessageIn.status).in_(_LIVE))
    moved = 0
    for row in db.exec(query).all():
        gate = gate_of(row.tags, limited_tags)
        if row.gate != gate:
            row.gate, moved = gate, moved + 1
    return moved


def set_limit(
    db: Session,
    tag: str,
    *,
    max_running: int | None,
    rate: tuple[int, timedelta] | None,
    now: datetime,
    actor: str,
) -> TagLimit:
    """Set (or replace) ``tag``'s limit; rows waiting on it are claimed within the new bounds from now on."""
    row = db.get(TagLimit, tag, with_for_update=True) or TagLimit(tag=tag, created_at=now, created_by=actor)
    row.max_running = max_running
    row.rate_count, row.rate_seconds = (rate[0], rate[1].total_seconds()) if rate else (None, None)
    db.add(row)
    db.flush()
    regate(db, tag)
    return row


def remove_limit(db: Session, tag: str) -> TagLimit:
    row = db.get(TagLimit, tag, with_for_update=True)
    if row is None:
        raise NotFound("limit", tag)
    db.delete(row)
    db.execute(delete(TagStart).where(col(TagStart.tag) == tag))
    db.flush()
    regate(db, tag)
    return row


def listed(db: Session) -> list[TagLimit]:
    return list(db.exec(select(TagLimit).order_by(col(TagLimit.tag))).all())


def waits(db: Session, rows: Sequence[MessageIn], *, now: datetime) -> dict[str, str]:
    """For each of ``rows`` that is due and held back by a full limit: which, in words (by row id)."""
    held = [r for r in rows if r.gate and r.status == Status.PENDING and r.process_after <= now]
    if not held:
        return {}
    limits = {limit.tag: limit for limit in listed(db)}
    running = running_counts(db, limits)
    said: dict[str, str] = {}
    for row in held:
        for tag in sorted(set(row.tags or ()) & set(limits)):
            limit = limits[tag]
            if limit.max_running is not None and running.get(tag, 0) >= limit.max_running:
                said[row.id] = (
                    f"waiting on the limit of tag {tag}: {running.get(tag, 0)} of {limit.max_running} running"
                )
                break
            if limit.rate_count is not None and _starts(db, limit, now) >= limit.rate_count:
                said[row.id] = f"waiting on the limit of tag {tag}: {limit.rate_count} started in its window"
                break
    return said
