"""Who takes due work: claiming rows under a lease, renewing it, and recovering expired leases.

A claim marks due rows ``running`` with the claimant's name and a lease expiry. A runner renews the lease
while it works; a lease that expires means the runner died: the row goes back to ``pending`` with one more
try and a backoff, or ends ``failed`` once its tries are spent. Nothing is lost, nothing silently completed.
Two occurrences of one series are never running together: a series with a running row is not claimed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from inbox.defaults import BACKOFF, DEFAULT_LEASE, DEFAULT_MISFIRE_GRACE
from inbox.enums import Outcome, Status
from inbox.errors import Conflict, InboxError, NotFound
from inbox.store.catchup import apply_catch_up
from inbox.store.due import Candidate, Work, due_candidates
from inbox.store.endings import Ending, RunReport, end_occurrence, record_run
from inbox.store.hours import hold_back
from inbox.store.limits import Room
from inbox.store.models import MessageIn


def backoff_for(tries: int, backoff: Sequence[timedelta] = BACKOFF) -> timedelta:
    return backoff[min(max(tries, 1), len(backoff)) - 1]


def _lock_series(db: Session, series: set[str]) -> set[str]:
    """PostgreSQL: the series of ``series`` this transaction may start an occurrence of.

    Two claimers can each lock a different due row of one series (a run-now beside its next slot) and, not seeing
    each other's uncommitted ``running`` row, start both. So a claimer also takes a transaction-scoped advisory
    lock per series (skipping series another claimer holds) and then looks again for a running row, which any
    claimer that held the lock before it has committed by now. (SQLite needs none of this: a claim holds the
    database's write lock from its first statement.)
    """
    if not series:
        return set()
    locked = db.execute(
        text(
            "SELECT s FROM unnest(CAST(:ids AS text[])) AS s "
            "WHERE pg_try_advisory_xact_lock(hashtext('inbox.series.' || s))"
        ),
        {"ids": sorted(series)},
    )
    mine = {str(value) for value in locked.scalars()}
    running = select(MessageIn.series_id).where(
        col(MessageIn.series_id).in_(mine), MessageIn.status == Status.RUNNING.value
    )
    return mine - {str(value) for value in db.exec(running).all()}


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
        if candidate.series_id is not None:
            if candidate.series_id in seen_series or candidate.series_id in refused:
                continue  # one occurrence per series at a time, even within a batch or across claimers
            seen_series.add(candidate.series_id)
        room.take(candidate.tags)
        chosen.append(candidate)
    return chosen


def _replay(read: list[Candidate], rest: Iterator[Candidate]) -> Iterator[Candidate]:
    """The candidates ``read`` so far, then the ``rest``, kept in ``read`` as they come."""
    yield from read
    for candidate in rest:
        read.append(candidate)
        yield candidate


def _choose_startable(db: Session, candidates: Iterator[Candidate], room: Room, limit: int) -> list[Candidate]:
    """PostgreSQL: :func:`_choose`, with the series locks of :func:`_lock_series` taken for the rows chosen only,
    not for every candidate (up to ``limit`` per lane and priority: 275 of them for 10 rows with 10 limits open).
    A series another claimer holds or runs is refused and the choice made again without it, from the same room.
    Candidates are decoded only as far as a choice reads (the first 10 to 20 of those 275, most often)."""
    left = dict(room.left)
    read: list[Candidate] = []
    refused: set[str] = set()
    asked: set[str] = set()
    while True:
        room.left = dict(left)
        chosen = _choose(_replay(read, candidates), room, limit, refused=refused)
        series = {row.series_id for row in chosen if row.series_id is not None} - asked
        if not series:
            return chosen
        asked |= series
        refused |= series - _lock_series(db, series)
        if not refused & series:
            return chosen


def claim_due(
    db: Session,
    *,
    owner: str,
    now: datetime,
    session: str | None = None,
    limit: int = 10,
    lease: timedelta = DEFAULT_LEASE,
    grace: timedelta = DEFAULT_MISFIRE_GRACE,
    work: Work = "any",
    clock: Callable[[], datetime] | None = None,
    held: list[MessageIn] | None = None,
) -> list[MessageIn]:
    """Mark up to ``limit`` due rows running for ``owner``, in claim order (inbox.store.due: priority, raised by
    waiting, then the oldest); catch-up is applied to each first, and a row outside its active hours is ended
    ``skipped`` instead (inbox.store.hours; ``held``, when given, collects those). ``work`` narrows what is taken
    (inbox.store.due.Work).

    With ``clock``, the claim (its lease and the run's start) is stamped with a time read once the due rows are
    locked: ``now`` may have been read before another host's ending committed the very row claimed here, and a
    run must not seem to start before the occurrence it follows ended.
    """
    postgres = db.get_bind().dialect.name == "postgresql"
    room = Room.take_limits(db, now=now)
    with due_candidates(db, room.lanes(limit), now=now, session=session, work=work) as merged:
        if postgres:
            chosen = [row.id for row in _choose_startable(db, merged, room, limit)]
        else:
            chosen = [row.id for row in _choose(merged, room, limit, refused=set())]
    loaded = {row.id: row for row in db.exec(select(MessageIn).where(col(MessageIn.id).in_(chosen)))} if chosen else {}
    stamp = max(now, clock()) if clock is not None else now
    ready: list[MessageIn] = []
    for row_id in chosen:
        row = loaded[row_id]
        apply_catch_up(db, row, now=now, grace=grace)
        if row.process_after > now:
            room.give_back(row.tags)
            continue  # catch-up moved it to a future slot
        ready.append(row)
    kept, outside = hold_back(db, ready, now=now)
    for row in outside:
        room.give_back(row.tags)
    if held is not None:
        held.extend(outside)
    claimed: list[MessageIn] = []
    for row in kept:
        row.status = Status.RUNNING
        row.lease_owner = owner
        row.lease_expires_at = stamp + lease
        row.updated_at = stamp
        claimed.append(row)
    room.record_starts(db, [row.tags for row in claimed], now=stamp)
    db.flush()
    return claimed


def holds(row: MessageIn | None, owner: str, attempt: int | None) -> bool:
    """Whether ``owner`` still holds ``row`` for ``attempt`` (None: any attempt)."""
    if row is None or row.status != Status.RUNNING or row.lease_owner != owner:
        return False
    return attempt is None or row.tries + 1 == attempt


class OtherSession(InboxError):
    """The row belongs to another session than the one the runner asking serves."""


class NotHeld(Conflict):
    """The runner asking does not hold the row's lease (for that attempt): never did, or it was taken back."""


def held_row(
    db: Session, message_id: str, *, session: str, owner: str, attempt: int | None, lock: bool = True
) -> MessageIn:
    """The row ``owner`` (a runner of ``session``) works on, while it still holds it for ``attempt``.

    With ``lock`` the row stays locked until the transaction ends, so a take-back (reclaim, release) waits for
    what is done under the lease, or, having come first, is seen here.
    """
    query = select(MessageIn).where(MessageIn.id == message_id)
    row = db.exec(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("message", message_id)
    if row.session != session:
        raise OtherSession(f"message {message_id} belongs to another session; this runner serves {session!r}")
    if not holds(row, owner, attempt):
        which = f" attempt {attempt}" if attempt is not None else ""
        raise NotHeld(f"lease lost: message {message_id}{which} is not this runner's")
    return row


def renew(
    db: Session,
    message_id: str,
    *,
    owner: str,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
    attempt: int | None = None,
) -> bool:
    """Extend a lease; False when the row is no longer this owner's for this attempt (it was taken back)."""
    row = db.get(MessageIn, message_id, with_for_update=True)
    if row is None or not holds(row, owner, attempt):
        return False
    row.lease_expires_at = now + lease
    return True


def fail_attempt(
    db: Session,
    message_id: str,
    report: RunReport,
    *,
    now: datetime,
    backoff: Sequence[timedelta] = BACKOFF,
    not_before: timedelta | None = None,
) -> Ending | MessageIn:
    """A transient failure: retry later with backoff while tries remain, else end the occurrence failed.

    ``not_before`` (a provider's Retry-After) lengthens the wait when it asks for more than the backoff.
    """
    row = db.get(MessageIn, message_id, with_for_update=True)
    assert row is not None
    if row.tries + 1 > row.retries:
        return end_occurrence(db, message_id, report, now=now)
    record_run(db, row, report, now=now)
    row.tries += 1
    # A pause or cancel asked for while the attempt ran takes effect now instead of a retry.
    held = {Status.PAUSED.value: Status.PAUSED, Status.CANCELLED.value: Status.CANCELLED}
    row.status = held.get(row.next_status or "", Status.PENDING)
    row.next_status = None
    row.lease_owner = None
    row.lease_expires_at = None
    wait = backoff_for(row.tries, backoff)
    row.process_after = now + max(wait, not_before or wait)
    row.reason = report.error
    row.updated_at = now
    return row


def _interrupt(
    db: Session, rows: Sequence[MessageIn], why: str, *, now: datetime, backoff: Sequence[timedelta]
) -> list[MessageIn]:
    for row in rows:
        report = RunReport(
            outcome=Outcome.INTERRUPTED,
            started_at=row.updated_at,
            runner=row.lease_owner,
            error=why.format(runner=row.lease_owner),
        )
        fail_attempt(db, row.id, report, now=now, backoff=backoff)
    db.flush()
    return list(rows)


def reclaim_expired(
    db: Session,
    *,
    now: datetime,
    limit: int = 100,
    backoff: Sequence[timedelta] = BACKOFF,
    owners: set[str] | None = None,
    expired_before: datetime | None = None,
) -> list[MessageIn]:
    """Rows whose runner stopped renewing: retried with backoff, or ended ``failed`` after the last try.

    ``owners``, when given, collects the lease owners that went silent (the host stops those runners). A lease
    counts as expired when it expired before ``expired_before`` (default ``now``): a host that could not reach
    the store for a while gives the runners the time they lost to renew."""
    cutoff = now if expired_before is None else min(now, expired_before)
    query = (
        select(MessageIn)
        .where(MessageIn.status == Status.RUNNING.value, col(MessageIn.lease_expires_at) < cutoff)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    why = "lease expired: runner {runner} stopped renewing (no heartbeat)"
    rows = db.exec(query).all()
    if owners is not None:
        owners.update(row.lease_owner for row in rows if row.lease_owner)
    return _interrupt(db, rows, why, now=now, backoff=backoff)


def release_owner(
    db: Session, owner: str, cause: str, *, now: datetime, backoff: Sequence[timedelta] = BACKOFF
) -> list[MessageIn]:
    """A runner that is known to be dead (its process or container ended): its rows are retried now,
    with the cause recorded, instead of waiting for their leases to expire."""
    query = select(MessageIn).where(MessageIn.status == Status.RUNNING.value, MessageIn.lease_owner == owner)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return _interrupt(db, db.exec(query).all(), f"runner {{runner}} died: {cause}", now=now, backoff=backoff)


def release_host(db: Session, host_id: str, *, now: datetime) -> list[MessageIn]:
    """A host shutting down hands back what its runners still held once its grace ran out: each row is retried
    at once (by any host), its interrupted attempt recorded, rather than waiting for its lease to expire."""
    query = select(MessageIn).where(
        MessageIn.status == Status.RUNNING.value, col(MessageIn.lease_owner).startswith(f"{host_id}/")
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    why = "host shutting down: runner {runner} was stopped before it finished"
    return _interrupt(db, db.exec(query).all(), why, now=now, backoff=(timedelta(0),))
