"""The http tasks the host runs itself (sweeper.host_requests), claimed and ended set-based where the case is plain.

**Claims.** The general claim (claims.claim_due) weighs each row: its tags' limits, catch-up, active hours, and on
PostgreSQL a lock per series. A one-shot with no window of its own (filters.PLAIN_HOST_REQUESTS) needs none of that
when no limit has room to give (so only the lane of unlimited rows is read) and no session has active hours; then
its claim is the due walk of claim_due, in the same order (inbox.store.due: priority raised by waiting, then the
oldest), and one ``UPDATE … WHERE id IN``. On PostgreSQL, or when the case is not plain, :func:`claim_plain_requests`
says so (None) and the caller claims through claim_due; rows it leaves (a recurring task, one in a window) are the
general claim's next.

**Ends.** A one-shot whose request went through (``completed`` with the answer's text, or ``silent``) and that
nothing waits on (no update, pause or cancel asked for while it ran) ends as ``end_occurrence`` would end it: its row
completed, its run recorded, its text in the outbox as a reply, the tasks after it told; it has no follow-up and no
run of failures to alert on. A batch is ended with one ``UPDATE … RETURNING`` and the multi-row inserts of
inbox.store.batch_ends. The update re-checks every condition, the lease included, so a row that changed since it was
claimed is left running for the general path (sweeper.results.record_held), which the caller runs next, in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import tuple_, update
from sqlmodel import Session, col

from inbox.enums import OutboxKind, Outcome, Status
from inbox.store.batch_ends import BatchEnd, record_batch_ends
from inbox.store.due import due_candidates
from inbox.store.endings import ended_columns
from inbox.store.hours import session_windows
from inbox.store.limits import Room
from inbox.store.models import MessageIn, kind_author_of
from inbox.task_rows import kind_of

PLAIN_OUTCOMES = frozenset({Outcome.COMPLETED, Outcome.SILENT})  # both end the row completed, with no reason
_TABLE = MessageIn.__table__  # type: ignore[attr-defined]


class ClaimedRequest(NamedTuple):
    """What the host needs of a claimed http task to make its request and record its end: a few columns, not the
    whole model (building a MessageIn costs more than claiming the row)."""

    id: str
    session: str
    series_id: str | None
    tries: int
    deliver: str | None
    timeout_s: float | None
    remind: bool
    created_by: str
    content: dict[str, Any]

    @property
    def do(self) -> str:
        return kind_of(self.remind, self.content)

    @property
    def kind_author(self) -> str:
        return kind_author_of(self.content, self.created_by)

    @classmethod
    def of(cls, row: MessageIn) -> ClaimedRequest:
        return cls(*(getattr(row, name) for name in cls._fields))


_CLAIMED = [_TABLE.c[name] for name in ClaimedRequest._fields]


def claim_plain_requests(
    db: Session, *, owner: str, now: datetime, limit: int, lease: timedelta
) -> list[ClaimedRequest] | None:
    """Mark up to ``limit`` due plain host requests running for ``owner``, in claim order; None when the plain
    case does not hold and claim_due must weigh the rows."""
    if db.get_bind().dialect.name != "sqlite" or not db.get_bind().dialect.update_returning:
        return None  # PostgreSQL: claim_due's series locks keep two claimers from starting one series twice
    if Room.take_limits(db, now=now).lanes(limit)[1:] or session_windows(db):
        return None
    with due_candidates(db, [("", limit)], now=now, session=None, work="plain_http") as merged:
        ids = [candidate.id for _, candidate in zip(range(limit), merged, strict=False)]
    if not ids:
        return []
    claimed = (
        update(_TABLE)
        .where(_TABLE.c.id.in_(ids), _TABLE.c.status == Status.PENDING.value)
        .values(status=Status.RUNNING.value, lease_owner=owner, lease_expires_at=now + lease, updated_at=now)
        .returning(*_CLAIMED)
    )
    rows = {row[0]: ClaimedRequest._make(row) for row in db.connection().execute(claimed)}
    return [rows[row_id] for row_id in ids if row_id in rows]  # in claim order


def end_plain_requests(db: Session, ends: Sequence[BatchEnd], *, owner: str, now: datetime) -> set[str]:
    """End the occurrences of ``ends`` (each an attempt ``tries + 1`` that ``owner`` holds, with an outcome of
    PLAIN_OUTCOMES) that are still plain; returns the ids ended. The others are untouched."""
    if not ends or not db.get_bind().dialect.update_returning:  # SQLite before 3.35: all by the general path
        return set()
    assert all(end.outcome in PLAIN_OUTCOMES for end in ends)
    statement = (
        update(_TABLE)
        .where(
            _TABLE.c.id.in_([end.id for end in ends]),  # the primary key finds them; the pairs check the attempt
            tuple_(_TABLE.c.id, _TABLE.c.tries).in_([(end.id, end.tries) for end in ends]),
            _TABLE.c.status == Status.RUNNING.value,
            _TABLE.c.lease_owner == owner,
            _TABLE.c.recurrence.is_(None),
            _TABLE.c.next_status.is_(None),
            col(MessageIn.content)["pending_update"].as_string().is_(None),
        )
        .values(ended_columns(Outcome.COMPLETED, None, now=now))
        .returning(_TABLE.c.id)
    )
    ended = set(db.connection().execute(statement).scalars())
    record_batch_ends(db, [end for end in ends if end.id in ended], now=now, runner=owner, kind=OutboxKind.REPLY)
    return ended
