"""One sweep pass: recover dead runners' work, deliver due reminders, and say which sessions need a runner.

Reminders need no model and no runner: the host claims them in a batch and ends them in the same
transaction, their text delivered to the session's outbox and their follow-up written. Script-less ``http`` tasks
need no runner either: the pass only says whether any is due, and the host's dispatcher (sweeper.host_requests)
runs them in its own thread, so a slow target never holds the pass. Everything else that is due stays pending for
the session's runner (started through a runtime, see the next layers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from inbox.defaults import BACKOFF, CLAIM_AHEAD, DEFAULT_MISFIRE_GRACE
from inbox.enums import OutboxKind, Outcome, Status
from inbox.logs import context
from inbox.store.claims import claim_due, reclaim_expired
from inbox.store.endings import RunReport, describe_row, end_occurrence, post_outbox
from inbox.store.engine import read_transaction, transaction
from inbox.store.filters import FOR_A_RUNNER, HOST_REQUESTS, PENDING_HTTP
from inbox.store.hours import may_hold_back, skip_outside
from inbox.store.models import MessageIn
from inbox.store.reminders import any_due_reminder, deliver_one_shot_reminders, deliver_recurring_reminders
from inbox.store.waiting import waiting_sessions

log = logging.getLogger("inbox.sweeper")
HOST_OWNER = "host"
REMINDER_BATCH = 500
Clock = Callable[[], datetime]
# PostgreSQL locks rows, not the database: other claimers skip a batch's rows instead of waiting for it, so
# its batches can be larger, and each commit (a WAL flush) then stands for more reminders: 10,000 series due
# at once fan out in 1.5 s instead of 2.1 s. On SQLite a batch holds the only write lock, so it stays short.
PG_REMINDER_BATCH = 2000


def reminder_batch(engine: Engine) -> int:
    return PG_REMINDER_BATCH if engine.dialect.name == "postgresql" else REMINDER_BATCH


@dataclass(frozen=True)
class PassReport:
    recovered: int = 0
    silent_owners: frozenset[str] = frozenset()  # runners whose leases expired: hung or gone
    delivered: int = 0
    waiting_sessions: dict[str, int] = field(default_factory=dict)  # session -> due rows for a runner, up to 10
    host_requests: bool = False  # due http tasks the host runs itself (sweeper.host_requests)
    seconds: float = 0.0  # how long the pass took (set by the loop that timed it)


def _deliver_reminders(db: Session, *, now: datetime, grace: timedelta, batch: int, clock: Clock | None) -> int:
    """End due reminders with their text in the outbox and their follow-ups written: set-based where the case is
    plain (inbox.store.reminders), then one by one for what needs catch-up or carries an update.

    With ``clock``, their runs are stamped with a time read once this transaction holds the store (on SQLite the
    write lock, taken as it begins): ``now`` was read before the pass, and a row it ends may be the follow-up of an
    occurrence another host ended after that, whose run must not seem to end after this one started."""
    if clock is not None:
        db.connection()  # begins the transaction (SQLite: BEGIN IMMEDIATE) before the clock is read
        now = max(now, clock())
    bulk = deliver_one_shot_reminders(db, now=now, limit=batch, runner=HOST_OWNER)
    if bulk < batch:
        bulk += deliver_recurring_reminders(db, now=now, limit=batch - bulk, runner=HOST_OWNER, grace=grace)
    if bulk == batch or not any_due_reminder(db, now=now):
        return bulk  # a full batch (the caller comes back for more), or none left for the general path
    held: list[MessageIn] = []  # outside their active hours: ended skipped, and counted so the caller comes back
    due = claim_due(
        db, owner=HOST_OWNER, now=now, limit=batch - bulk, grace=grace, work="reminders", clock=clock, held=held
    )
    for row in due:
        at = row.updated_at  # when it was claimed: not before the ending of the occurrence it follows
        post_outbox(
            db,
            session=row.session,
            kind=OutboxKind.REMINDER,
            text=row.text,
            now=at,
            in_reply_to=row.id,
            series_id=row.series_id,
            deliver=row.deliver,
        )
        end_occurrence(db, row.id, RunReport(outcome=Outcome.COMPLETED, started_at=at, runner=HOST_OWNER), now=at)
    return bulk + len(due) + len(held)


def _waiting_sessions(db: Session, now: datetime) -> dict[str, int]:
    """Sessions with due rows a runner could claim now (inbox.store.waiting), each with how many, up to 10.

    Not the script-free reminders the host delivers itself, nor the http tasks it runs itself (inbox.store.filters):
    such a reminder can still be due after the pass (another sweeper holds it, or its series is busy), and
    counting it would start a runner per session for nothing, which then competes with the sweepers for it. Nor
    rows waiting on a full tag limit, for which a runner would claim nothing.

    Rows due within CLAIM_AHEAD count already: a runner claims them that early (inbox.store.claims.claim_due), so
    the bell rings before their time and the claim is done by then.
    """
    return waiting_sessions(db, now=now + CLAIM_AHEAD, work=FOR_A_RUNNER)


def _host_requests_due(db: Session, now: datetime) -> bool:
    pending_http = PENDING_HTTP[db.get_bind().dialect.name]  # the http tasks' index: not every due row is read
    query = select(MessageIn.id).where(pending_http, col(MessageIn.process_after) <= now, HOST_REQUESTS)
    return db.exec(query.limit(1)).first() is not None


def sweep_once(
    engine: Engine,
    *,
    now: datetime,
    grace: timedelta = DEFAULT_MISFIRE_GRACE,
    backoff: Sequence[timedelta] = BACKOFF,
    clock: Clock | None = None,
    expired_before: datetime | None = None,
) -> PassReport:
    """One pass as of ``now``; ``clock`` (the loop's) stamps what is claimed once it is locked (see claim_due).
    Leases that expired before ``expired_before`` (default ``now``) are taken back."""
    with transaction(engine) as db:
        silent: set[str] = set()
        reclaimed = reclaim_expired(db, now=now, backoff=backoff, owners=silent, expired_before=expired_before)
        recovered = len(reclaimed)
    for row in reclaimed:
        fate = "failed (no tries left)" if row.status == "failed" else "to be retried"
        log.warning(
            "%s: its runner stopped renewing the lease (no heartbeat); %s", describe_row(row), fate, extra=context(row)
        )
    with read_transaction(engine) as db:  # before any claim: due work outside its active hours wakes no runner
        windowed = may_hold_back(db, now=now)
    held = 0
    if windowed:
        with transaction(engine) as db:
            held = len(skip_outside(db, now=now, grace=grace))
    if held:
        log.info("sweep: %d occurrences outside their active hours skipped", held)
    delivered, batch = 0, reminder_batch(engine)
    while True:  # batches in their own transactions so a large backlog does not hold the write lock long
        with transaction(engine) as db:
            count = _deliver_reminders(db, now=now, grace=grace, batch=batch, clock=clock)
        delivered += count
        if count == 0:
            break  # also after a short batch: under catch-up "all" an ending can leave the next missed slot due
    with read_transaction(engine) as db:  # only read: the claims runners make meanwhile need not wait for it
        waiting = _waiting_sessions(db, now)
        requests = _host_requests_due(db, now)
    if recovered or delivered:
        log.info("sweep: %d recovered, %d reminders delivered", recovered, delivered)
    return PassReport(
        recovered=recovered,
        delivered=delivered,
        waiting_sessions=waiting,
        host_requests=requests,
        silent_owners=frozenset(silent),
    )


def next_due(engine: Engine, *, after: datetime, ahead: timedelta = CLAIM_AHEAD) -> datetime | None:
    """When the loop's next pass is due after ``after``: ``ahead`` before the next row a runner does (its bell rings
    then, and the runner claims it early: inbox.store.claims.claim_due), at the due time of the next row the host
    does itself (a reminder it delivers, an http task it runs). The loop sleeps until then (or its interval).

    Rows already due that the pass did not take are waiting for a runner, not for the host: counting them would
    wake the loop again at once, over and over; so are a runner's rows due within ``ahead`` of ``after``, whose
    bell this pass rang. Three reads, each a range of the due index no longer than ``ahead`` beyond its first row:
    the first row due after ``after + ahead``; the first runner's row within ``ahead`` of it (whose pass is due
    before it); and the first row of the host's due within ``ahead`` of ``after``.
    """
    pending = (MessageIn.status == Status.PENDING.value,)
    due_at = col(MessageIn.process_after)
    with transaction(engine) as db:
        first = db.exec(select(func.min(MessageIn.process_after)).where(*pending, due_at > after + ahead)).one()
        plans: list[datetime] = [] if first is None else [first]
        if first is not None:
            query = select(MessageIn.process_after).where(*pending, due_at >= first, due_at <= first + ahead)
            runner = db.exec(query.where(FOR_A_RUNNER).order_by(due_at).limit(1)).first()
            if runner is not None:
                plans.append(runner - ahead)
        near = select(MessageIn.process_after).where(*pending, due_at > after, due_at <= after + ahead, ~FOR_A_RUNNER)
        host = db.exec(near.order_by(due_at).limit(1)).first()
        if host is not None:
            plans.append(host)
        return min(plans, default=None)
