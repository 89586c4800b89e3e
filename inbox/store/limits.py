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
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Delete,
    Select,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlmodel import Session, col
from sqlmodel import select as select_rows

from inbox.enums import LIVE_STATUSES, Status
from inbox.errors import NotFound
from inbox.ids import new_id
from inbox.store.models import MessageIn
from inbox.store.tag_tables import TagLimit, TagStart, TaskTag
from inbox.store.tags import gate_of, limited, series_tagged

_LIVE = [status.value for status in LIVE_STATUSES]


_LIMITS_TABLE = TagLimit.__table__  # type: ignore[attr-defined]
_STARTS_TABLE = TagStart.__table__  # type: ignore[attr-defined]
_TAGS_TABLE = TaskTag.__table__  # type: ignore[attr-defined]
_MESSAGES = MessageIn.__table__  # type: ignore[attr-defined]
# Built once: a claim runs them every time, and building them cost more than running them.
_ALL_LIMITS = select(
    _LIMITS_TABLE.c.tag, _LIMITS_TABLE.c.max_running, _LIMITS_TABLE.c.rate_count, _LIMITS_TABLE.c.rate_seconds
).order_by(_LIMITS_TABLE.c.tag)
_LOCK_LIMITS = select(_LIMITS_TABLE.c.tag).order_by(_LIMITS_TABLE.c.tag).with_for_update(skip_locked=True)
# PostgreSQL: every limit, and whether this claim holds it, in one statement (a claim's round trips to the server
# were as much of its cost as the server's work).
_HELD = _LOCK_LIMITS.subquery("held")
_HELD_LIMITS = (
    select(*_ALL_LIMITS.selected_columns, _HELD.c.tag.is_not(None))
    .select_from(_LIMITS_TABLE.outerjoin(_HELD, _HELD.c.tag == _LIMITS_TABLE.c.tag))
    .order_by(_LIMITS_TABLE.c.tag)
)
_RUNNING_SERIES = select(_MESSAGES.c.series_id).where(
    _MESSAGES.c.status == Status.RUNNING.value, _MESSAGES.c.series_id.is_not(None)
)
_TAGS_OF = select(_TAGS_TABLE.c.tag).where(_TAGS_TABLE.c.series_id.in_(bindparam("ids", expanding=True)))
_COUNT_STARTS = (
    select(_STARTS_TABLE.c.tag, func.count())
    .where(_STARTS_TABLE.c.tag.in_(bindparam("tags", expanding=True)))
    .group_by(_STARTS_TABLE.c.tag)
)
CHUNK = 500


def _in_windows(count: int, *, within: bool) -> ColumnElement[bool]:
    """The starts of ``count`` rated tags (bound as t0, t1, ...) within (or, not ``within``, before) their windows,
    each starting at s0, s1, ..."""
    at = _STARTS_TABLE.c.started_at
    terms = []
    for index in range(count):
        since = bindparam(f"s{index}", type_=at.type)
        terms.append(and_(_STARTS_TABLE.c.tag == bindparam(f"t{index}"), at > since if within else at <= since))
    return or_(*terms)


@cache
def _forget_starts(count: int) -> Delete:
    """The starts of ``count`` rated tags that fell out of their windows: one statement for all of them."""
    return delete(_STARTS_TABLE).where(_in_windows(count, within=False))


@cache
def _count_window_starts(count: int) -> Select[str, int]:
    """Starts of ``count`` rated tags within their windows, read without forgetting the older ones."""
    query = select(_STARTS_TABLE.c.tag, func.count()).where(_in_windows(count, within=True))
    return query.group_by(_STARTS_TABLE.c.tag)


@cache
def _counts_query(rated: int) -> Select[Any] | CompoundSelect[Any]:
    """PostgreSQL: in one statement, the running rows of every tag and the starts of ``rated`` tags within their
    windows (forgetting the older starts), each row naming which it counts: a claim's round trips to the server
    were as much of its cost as the server's work. The running series are read first, as one array, and their tags
    looked up by key: as a join, the planner could walk every series of the limited tags instead (with the
    statistics of a backlog, it did: docs/benchmarks.md, "Claims")."""
    running = (
        select(literal("running"), _TAGS_TABLE.c.tag, func.count())
        .where(_TAGS_TABLE.c.series_id == any_(func.array(_RUNNING_SERIES.scalar_subquery())))
        .group_by(_TAGS_TABLE.c.tag)
    )
    if not rated:
        return running
    starts = (
        select(literal("starts"), _STARTS_TABLE.c.tag, func.count())
        .where(_in_windows(rated, within=True))
        .group_by(_STARTS_TABLE.c.tag)
    )
    return union_all(running, starts).add_cte(_forget_starts(rated).cte("forgotten"))


def _held_counts(
    db: Session, held: set[str], windows: dict[str, float], now: datetime
) -> tuple[dict[str, int], dict[str, int]]:
    """PostgreSQL: :func:`running_counts` of ``held`` and :func:`_recent_starts` of ``windows``, in one round trip."""
    if not held:
        return {}, {}
    counts: dict[str, dict[str, int]] = {"running": {}, "starts": {}}
    for which, tag, count in db.connection().execute(_counts_query(len(windows)), _window_params(windows, now)):
        if tag in held:
            counts[which][tag] = int(count)
    return counts["running"], counts["starts"]


def _window_params(windows: dict[str, float], now: datetime) -> dict[str, object]:
    params: dict[str, object] = {}
    for index, (tag, seconds) in enumerate(sorted(windows.items())):
        params.update({f"t{index}": tag, f"s{index}": now - timedelta(seconds=seconds)})
    return params


def running_counts(db: Session, tags: Iterable[str]) -> dict[str, int]:
    """How many rows carrying each of ``tags`` run now (by their series' tags as they are now).

    Two indexed reads, the running rows first: they are few, while a tag may be on any number of series (a join
    left to SQLite's planner walked the tag's series instead). A series runs one row at a time."""
    wanted = set(tags)
    if not wanted:
        return {}
    connection = db.connection()
    series = sorted({series_id for series_id in connection.execute(_RUNNING_SERIES).scalars() if series_id})
    counts: dict[str, int] = {}
    for start in range(0, len(series), CHUNK):
        for tag in connection.execute(_TAGS_OF, {"ids": series[start : start + CHUNK]}).scalars():
            if tag in wanted:
                counts[tag] = counts.get(tag, 0) + 1
    return counts


def _recent_starts(db: Session, windows: dict[str, float], now: datetime) -> dict[str, int]:
    """Starts of each tag within its window (tag to seconds); older ones are forgotten first."""
    if not windows:
        return {}
    connection = db.connection()
    connection.execute(_forget_starts(len(windows)), _window_params(windows, now))
    return {tag: int(count) for tag, count in connection.execute(_COUNT_STARTS, {"tags": sorted(windows)})}


def _starts_since(db: Session, tag: str, now: datetime, seconds: float) -> int:
    since = now - timedelta(seconds=seconds)
    query = select_rows(func.count()).where(TagStart.tag == tag, col(TagStart.started_at) > since)
    return int(db.exec(query).one())


def _left(limits: Sequence[Any], held: set[str], running: dict[str, int], starts: dict[str, int]) -> dict[str, int]:
    """How many more rows of each limited tag may start (none for a tag not ``held``)."""
    left = {}
    for tag, max_running, rate_count, rate_seconds in limits:
        bounds = [] if max_running is None else [max_running - running.get(tag, 0)]
        if rate_count and rate_seconds:
            bounds.append(rate_count - starts.get(tag, 0))
        left[tag] = max(min(bounds), 0) if tag in held and bounds else 0
    return left


def open_lanes(db: Session, *, now: datetime) -> list[str]:
    """The lanes a claim would read now: the one of rows no limit holds (``""``) and each limited tag with room.
    Only read (no lock taken, no start forgotten), for a caller that asks what is waiting rather than claiming it.
    """
    connection = db.connection()
    limits = connection.execute(_ALL_LIMITS).all()
    if not limits:
        return [""]
    tags = {tag for tag, *_ in limits}
    windows = {tag: seconds for tag, _, count, seconds in limits if count and seconds}
    starts: dict[str, int] = {}
    if windows:
        found = connection.execute(_count_window_starts(len(windows)), _window_params(windows, now))
        starts = {tag: int(count) for tag, count in found}
    left = _left(limits, tags, running_counts(db, tags), starts)
    return ["", *sorted(tag for tag, room in left.items() if room > 0)]


@dataclass
class Room:
    """What one claim may still start per limited tag (a tag it could not lock has none)."""

    left: dict[str, int] = field(default_factory=dict)
    rated: set[str] = field(default_factory=set)

    @classmethod
    def take_limits(cls, db: Session, *, now: datetime) -> Room:
        connection = db.connection()
        if connection.dialect.name == "postgresql":
            rows = connection.execute(_HELD_LIMITS).all()
            limits = [row[:4] for row in rows]
            held = {row[0] for row in rows if row[4]}
        else:
            limits = list(connection.execute(_ALL_LIMITS).all())
            held = {tag for tag, *_ in limits}
        if not limits:
            return cls()
        windows = {tag: seconds for tag, _, count, seconds in limits if tag in held and count and seconds}
        if connection.dialect.name == "postgresql":
            running, starts = _held_counts(db, held, windows, now)
        else:
            running, starts = running_counts(db, held), _recent_starts(db, windows, now)
        return cls(left=_left(limits, held, running, starts), rated=set(windows))

    def lanes(self, limit: int) -> list[tuple[str, int]]:
        """The lanes a claim of ``limit`` rows reads, and how many rows each may give: the one of rows no limit
        holds, and one per limited tag with room."""
        return [("", limit)] + [(tag, min(limit, left)) for tag, left in sorted(self.left.items()) if left > 0]

    def fits(self, tags: Sequence[str] | None) -> bool:
        return all(self.left[tag] > 0 for tag in tags or () if tag in self.left)

    def take(self, tags: Sequence[str] | None, step: int = 1) -> None:
        for tag in tags or ():
            if tag in self.left:
                self.left[tag] -= step

    def give_back(self, tags: Sequence[str] | None) -> None:
        self.take(tags, -1)

    def rated_tags(self, tags: Sequence[str] | None) -> list[str]:
        """Which of a row's ``tags`` log a start when it is claimed."""
        return [tag for tag in tags or () if tag in self.rated]

    def record_starts(self, db: Session, started: Sequence[Sequence[str] | None], *, now: datetime) -> None:
        """Log the starts of rate-limited tags among ``started`` (each a claimed row's tags)."""
        rows = [{"id": new_id(), "tag": tag, "started_at": now} for tags in started for tag in self.rated_tags(tags)]
        if rows:
            db.execute(insert(_STARTS_TABLE), rows)


def regate(db: Session, tag: str) -> int:
    """After ``tag``'s limit was set or removed: the lane of every live row carrying it, again. Returns how many
    rows moved."""
    limited_tags = limited(db)
    query = select_rows(MessageIn).where(
        col(MessageIn.series_id).in_(series_tagged(tag)), col(MessageIn.status).in_(_LIVE)
    )
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


def get(db: Session, tag: str) -> TagLimit | None:
    """``tag``'s limit as it stands (locked on PostgreSQL: it is about to change), or None."""
    return db.get(TagLimit, tag, with_for_update=True)


def listed(db: Session) -> list[TagLimit]:
    return list(db.exec(select_rows(TagLimit).order_by(col(TagLimit.tag))).all())


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
            if (
                limit.rate_count
                and limit.rate_seconds
                and _starts_since(db, tag, now, limit.rate_seconds) >= limit.rate_count
            ):
                said[row.id] = f"waiting on the limit of tag {tag}: {limit.rate_count} started in its window"
                break
    return said
