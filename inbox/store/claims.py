"""Who takes due work: claiming rows under a lease, renewing it, and recovering expired leases.

A claim marks due rows ``running`` with the claimant's name and a lease expiry. A runner renews the lease
while it works; a lease that expires means the runner died: the row goes back to ``pending`` with one more
try and a backoff, or ends ``failed`` once its tries are spent. Nothing is lost, nothing silently completed.
Two occurrences of one series are never running together: a series with a running row is not claimed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from inbox.defaults import BACKOFF, DEFAULT_LEASE, DEFAULT_MISFIRE_GRACE
from inbox.enums import Outcome, Status
from inbox.errors import Conflict, InboxError, NotFound
from inbox.store.catchup import apply_catch_up
from inbox.store.due import Work, due_candidates
from inbox.store.endings import Ending, RunReport, end_occurrence, record_run
from inbox.store.hours import hold_back
from inbox.store.limits import Room
from inbox.store.models import MessageIn
from inbox.store.taking import Lease, take


def backoff_for(tries: int, backoff: Sequence[timedelta] = BACKOFF) -> timedelta:
    return backoff[min(max(tries, 1), len(backoff)) - 1]


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
    ahead: timedelta = timedelta(0),
) -> list[MessageIn]:
    """Mark up to ``limit`` due rows running for ``owner``, in claim order (inbox.store.due: priority, raised by
    waiting, then the oldest); catch-up is applied to each first, and a row outside its active hours is ended
    ``skipped`` instead (inbox.store.hours; ``held``, when given, collects those). ``work`` narrows what is taken
    (inbox.store.due.Work).

    With ``clock``, the claim (its lease and the run's start) is stamped with a time read once the due rows are
    locked: ``now`` may have been read before another host's ending committed the very row claimed here, and a
    run must not seem to start before the occurrence it follows ended.

    With ``ahead`` (a runner's claim: inbox.defaults.CLAIM_AHEAD), a runner's own rows due within ``ahead`` of
    ``now`` are claimed too, early: they hold their lease and count as running from now, and the runner starts
    them at their due time through the start gate (inbox.store.early). Never a reminder the host delivers.
    """
    postgres = db.get_bind().dialect.name == "postgresql"
    room = Room.take_limits(db, now=now)
    horizon = now + ahead if ahead > timedelta(0) else None
    with due_candidates(db, room.lanes(limit), now=now, session=session, work=work, horizon=horizon) as merged:
        stamp = max(now, clock()) if clock is not None else now  # the rows read are locked by now
        taken = take(db, merged, room, limit, Lease(owner, stamp, stamp + lease), postgres=postgres)
    started = [row.status == Status.RUNNING for row in taken]  # plain rows (PostgreSQL): claimed as taken
    weighed: list[MessageIn] = []
    for row in (row for row, done in zip(taken, started, strict=True) if not done):
        due = row.process_after
        apply_catch_up(db, row, now=now, grace=grace)
        if row.process_after != due and row.process_after > now:
            room.give_back(row.tags)
            continue  # catch-up moved it to a future slot
        weighed.append(row)
    kept, outside = hold_back(db, weighed, now=now)
    for row in outside:
        room.give_back(row.tags)
    if held is not None:
        held.extend(outside)
    for row in kept:
        row.status = Status.RUNNING
        row.lease_owner = owner
        row.lease_expires_at = stamp + lease
        row.updated_at = stamp
    room.record_starts(db, [row.tags for row in kept], now=stamp)  # the plain rows' starts were logged as taken
    db.flush()
    kept_now = {id(row) for row in kept}  # by identity: an ORM attribute costs more to read
    return [row for row, done in zip(taken, started, strict=True) if done or id(row) in kept_now]


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
