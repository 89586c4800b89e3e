"""What a claim takes of its candidates (inbox.store.due): chosen in claim order within the room its limits leave,
one occurrence per series, and marked running.

On PostgreSQL a *plain* row (no recurrence, not an extra occurrence), one neither catch-up (inbox.store.catchup) nor
active hours (inbox.store.hours) weighs, is marked running for the claim's lease by one ``UPDATE ... RETURNING`` for
all of them, instead of being loaded and then written (a round trip less, and no unit of work to flush). Any other
row, and every row on SQLite, is loaded for the claim to weigh and write. Either way the row was locked when it was
read: by PostgreSQL's locking read, or by SQLite's write lock, which a claim holds from its first statement (so on
SQLite the lane read's check that the series has nothing running still holds).

PostgreSQL: two claimers can each hold a different due row of one series (a run-now beside its next slot) and,
not seeing each other's uncommitted ``running`` row, start both. So a claimer also takes a transaction-scoped
advisory lock per series it chose (skipping series another claimer holds: the lane read takes them for its first
rows in claim order, inbox.store.due, and a statement here any others), and the statement that takes the rows,
begun after the locks, checks again that their series have no running row: any claimer that held a lock before
has committed by then. A series refused either way is left out and the choice made again, from the same room:
every row already taken stays chosen (leaving a row out only frees room for the rows after it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, bindparam, func, insert, select, text, update
from sqlmodel import Session, col
from sqlmodel import select as select_rows

from inbox.enums import Status
from inbox.ids import new_id
from inbox.store.due import SERIES_LOCK, Candidate
from inbox.store.filters import IDLE_SERIES
from inbox.store.limits import Room
from inbox.store.models import MessageIn
from inbox.store.tag_tables import TagStart

_TABLE = MessageIn.__table__  # type: ignore[attr-defined]
_STARTS = TagStart.__table__  # type: ignore[attr-defined]
# PostgreSQL: the rows bound as ``ids`` whose series has no running row (looked at after the series locks), marked
# running for a lease and returned as they are now; with the starts (inbox.store.limits) of the rows it claims logged
# in the same statement, bound as the arrays ``start_ids``, ``start_rows`` and ``start_tags``. Built once: building
# them took a quarter of what running them does.
_claimed = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(bindparam("ids", expanding=True)), IDLE_SERIES)
    .values(
        status=Status.RUNNING.value,
        lease_owner=bindparam("owner"),
        lease_expires_at=bindparam("expires", type_=_TABLE.c.lease_expires_at.type),
        updated_at=bindparam("stamp", type_=_TABLE.c.updated_at.type),
    )
    .returning(*_TABLE.c)
    .cte("claimed")
)
_started = (
    func.unnest(
        bindparam("start_ids", type_=ARRAY(String)),
        bindparam("start_rows", type_=ARRAY(String)),
        bindparam("start_tags", type_=ARRAY(String)),
    )
    .table_valued("id", "row_id", "tag")
    .render_derived("started")
)
_LOG_STARTS = insert(_STARTS).from_select(
    ["id", "tag", "started_at"],
    select(_started.c.id, _started.c.tag, bindparam("stamp", type_=_STARTS.c.started_at.type)).where(
        _started.c.row_id.in_(select(_claimed.c.id))
    ),
)
_CLAIM = select_rows(MessageIn).from_statement(select(_claimed))
_CLAIM_AND_LOG = select_rows(MessageIn).from_statement(select(_claimed).add_cte(_LOG_STARTS.cte("logged")))
_LOCK_SERIES = text(f"SELECT s FROM unnest(CAST(:ids AS text[])) AS s WHERE {SERIES_LOCK.format(series='s')}")
# The rows a claim marks running come back as the database now holds them, even one this session loaded before.
_FRESH = {"populate_existing": True}


@dataclass(frozen=True)
class Lease:
    owner: str
    stamp: datetime  # when the claim took the rows: their runs start then
    expires: datetime


def _choose(candidates: Iterable[Candidate], room: Room, limit: int, *, refused: set[str]) -> list[Candidate]:
    """Up to ``limit`` of ``candidates``, in claim order, within ``room`` (taken from it): one occurrence per series,
    none of a series in ``refused``. Reads no further than it needs."""
    chosen: list[Candidate] = []
    seen_series: set[str] = set()
    for candidate in candidates:
        if len(chosen) == limit:
            break  # the rest (read from other priorities and lanes) stay pending: this claim is full
        if not room.fits(candidate.tags):
            continue  # a limit of one of its tags is full (or another claimer is filling it): it waits
        series = candidate.series_id or candidate.id  # a row of no series stands for itself
        if series in seen_series or series in refused:
            continue  # one occurrence per series at a time, even within a batch or across claimers
        seen_series.add(series)
        room.take(candidate.tags)
        chosen.append(candidate)
    return chosen


def _replay(read: list[Candidate], rest: Iterator[Candidate]) -> Iterator[Candidate]:
    """The candidates ``read`` so far, then the ``rest``, kept in ``read`` as they come."""
    yield from read
    for candidate in rest:
        read.append(candidate)
        yield candidate


def _take_rows(
    db: Session, chosen: list[Candidate], lease: Lease, room: Room, *, postgres: bool
) -> dict[str, MessageIn]:
    """The rows of ``chosen`` whose series has no running row: on PostgreSQL the plain ones marked running for
    ``lease`` (the starts of their rate-limited tags logged), the others loaded as they are. SQLite loads them all
    (the claim writes them): ten single-row updates cost it half what one update of ten rows does."""
    taken: dict[str, MessageIn] = {}
    plain = [candidate for candidate in chosen if candidate.plain] if postgres else []
    if plain:
        params: dict[str, Any] = {
            "ids": [row.id for row in plain],
            "owner": lease.owner,
            "expires": lease.expires,
            "stamp": lease.stamp,
        }
        starts = [(row.id, tag) for row in plain for tag in room.rated_tags(row.tags)]
        if starts:
            ids = [new_id() for _ in starts]
            params.update(start_ids=ids, start_rows=[row for row, _ in starts], start_tags=[tag for _, tag in starts])
        claimed = db.execute(_CLAIM_AND_LOG if starts else _CLAIM, params, execution_options=_FRESH).scalars().all()
        if claimed:
            db.info["wake"] = True  # as after any write of inbound rows (inbox.store.engine): no flush tells it here
        taken.update((row.id, row) for row in claimed)
    weighed = [candidate.id for candidate in chosen if not (postgres and candidate.plain)]
    if weighed:
        load = select_rows(MessageIn).where(col(MessageIn.id).in_(weighed))
        load = load.where(IDLE_SERIES) if postgres else load  # SQLite: its lane read saw them idle, under its lock
        taken.update((row.id, row) for row in db.exec(load))
    return taken


def take(
    db: Session, candidates: Iterator[Candidate], room: Room, limit: int, lease: Lease, *, postgres: bool
) -> list[MessageIn]:
    """Up to ``limit`` of ``candidates`` taken (see the module's docstring), in claim order, within ``room`` (taken
    from it). Candidates are decoded only as far as a choice reads (the first 10 to 20 of up to 275 read for 10
    rows with 10 limits open, most often)."""
    left = dict(room.left)
    read: list[Candidate] = []
    refused: set[str] = set()
    locked: set[str] = set()
    taken: dict[str, MessageIn] = {}
    while True:
        room.left = dict(left)
        chosen = _choose(_replay(read, candidates), room, limit, refused=refused)
        if postgres:
            locked |= {row.series_id for row in chosen if row.series_lock and row.series_id}  # by the lane read
            denied = {row.series_id for row in chosen if row.series_lock is False and row.series_id}
            series = {row.series_id for row in chosen if row.series_id is not None} - locked - denied
            if series:
                held = {str(value) for value in db.execute(_LOCK_SERIES, {"ids": sorted(series)}).scalars()}
                locked |= held
                denied |= series - held
            if denied:
                refused |= denied  # another claimer is starting an occurrence of it
                continue
        fresh = [row for row in chosen if row.id not in taken]
        taken.update(_take_rows(db, fresh, lease, room, postgres=postgres))
        lost = {row.series_id or row.id for row in fresh if row.id not in taken}
        if not lost:
            return [taken[row.id] for row in chosen]
        refused |= lost  # an occurrence of its series is running
