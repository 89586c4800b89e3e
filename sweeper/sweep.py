"""One sweep pass: recover dead runners' work, deliver due reminders, and say which sessions need a runner.

Reminders need no model and no runner: the host claims them in a batch and ends them in the same
transaction, their text delivered to the session's outbox and their follow-up written. Everything else that
is due stays pending for the session's runner (started through a runtime, see the next layers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from inbox.enums import OutboxKind, Outcome, Status
from inbox.store.bulk import deliver_one_shot_reminders
from inbox.store.catchup import DEFAULT_MISFIRE_GRACE
from inbox.store.claims import BACKOFF, claim_due, reclaim_expired
from inbox.store.endings import RunReport, end_occurrence, post_outbox
from inbox.store.engine import transaction
from inbox.store.models import MessageIn

log = logging.getLogger("inbox.sweeper")
HOST_OWNER = "host"
REMINDER_BATCH = 500
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class PassReport:
    recovered: int = 0
    silent_owners: frozenset[str] = frozenset()  # runners whose leases expired: hung or gone
    delivered: int = 0
    waiting_sessions: dict[str, int] = field(default_factory=dict)  # session -> due rows needing a runner


def _deliver_reminders(db: Session, *, now: datetime, grace: timedelta, clock: Clock | None) -> int:
    """End due reminders with their text in the outbox: one-shots in bulk, recurring ones with their follow-ups."""
    bulk = deliver_one_shot_reminders(db, now=now, limit=REMINDER_BATCH, runner=HOST_OWNER)
    if bulk == REMINDER_BATCH:
        return bulk  # a full batch: the caller comes back for more
    due = claim_due(
        db, owner=HOST_OWNER, now=now, limit=REMINDER_BATCH - bulk, grace=grace, only_reminders=True, clock=clock
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
        )
        end_occurrence(db, row.id, RunReport(outcome=Outcome.COMPLETED, started_at=at, runner=HOST_OWNER), now=at)
    return bulk + len(due)


def _waiting_sessions(db: Session, now: datetime) -> dict[str, int]:
    query = (
        select(MessageIn.session, func.count())
        .where(MessageIn.status == Status.PENDING.value, col(MessageIn.process_after) <= now)
        .group_by(col(MessageIn.session))
    )
    return {session: int(count) for session, count in db.exec(query).all()}


def sweep_once(
    engine: Engine,
    *,
    now: datetime,
    grace: timedelta = DEFAULT_MISFIRE_GRACE,
    backoff: Sequence[timedelta] = BACKOFF,
    clock: Clock | None = None,
) -> PassReport:
    """One pass as of ``now``; ``clock`` (the loop's) stamps what is claimed once it is locked (see claim_due)."""
    with transaction(engine) as db:
        silent: set[str] = set()
        recovered = len(reclaim_expired(db, now=now, backoff=backoff, owners=silent))
    delivered = 0
    while True:  # batches in their own transactions so a large backlog does not hold the write lock long
        with transaction(engine) as db:
            count = _deliver_reminders(db, now=now, grace=grace, clock=clock)
        delivered += count
        if count < REMINDER_BATCH:
            break
    with transaction(engine) as db:
        waiting = _waiting_sessions(db, now)
    if recovered or delivered:
        log.info("sweep: %d recovered, %d reminders delivered", recovered, delivered)
    return PassReport(
        recovered=recovered, delivered=delivered, waiting_sessions=waiting, silent_owners=frozenset(silent)
    )


def next_due(engine: Engine, *, after: datetime) -> datetime | None:
    """When the next pending row comes due after ``after``: the loop sleeps until then (or its interval).

    Rows already due that the pass did not take are waiting for a runner, not for the host: counting them
    would wake the loop again at once, over and over.
    """
    with transaction(engine) as db:
        query = select(func.min(MessageIn.process_after)).where(
            MessageIn.status == Status.PENDING.value, col(MessageIn.process_after) > after
        )
        return db.exec(query).one()
