"""The outbox's delivery side in the store: the columns a new row starts with, claiming rows to send under a
lease, and recording what each attempt came to.

A deliverer claims due rows in one transaction: it stamps them with its name, counts the attempt and moves
``next_attempt_at`` to the end of its lease. So no other deliverer (of this host or another on the store) takes
them while it sends, and if it dies before recording, they come due again when the lease ends and are sent again,
with the same ``Idempotency-Key`` (their id). A result is recorded only by the claim it belongs to (its owner and
attempt number): a deliverer that outlived its lease cannot overwrite the result of the one that took over.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlmodel import Session

from inbox.enums import DeliveryStatus, OutboxKind
from inbox.store.channels import channel_for
from inbox.store.engine import DELIVERABLE
from inbox.store.models import MessageOut
from inbox.store.queries import series_names

_OUT: Table = MessageOut.__table__  # type: ignore[attr-defined]
MAX_DELIVERY_ERROR = 2000
CANDIDATES_PER_CLAIM = 2


def delivery_columns(channel: str | None, *, now: datetime) -> dict[str, Any]:
    """How a new outbox row stands with delivery: pending at once on a channel, else the outbox only."""
    if channel is None:
        return {"channel": None, "delivery": DeliveryStatus.NONE.value, "next_attempt_at": None, "attempts": 0}
    return {"channel": channel, "delivery": DeliveryStatus.PENDING.value, "next_attempt_at": now, "attempts": 0}


def post_outbox(
    db: Session,
    *,
    session: str,
    kind: OutboxKind,
    text: str,
    now: datetime,
    in_reply_to: str | None = None,
    series_id: str | None = None,
    deliver: str | None = None,
) -> MessageOut:
    """Write one outbox row; ``deliver`` is the ``deliver`` of the task it comes from (None: its session's
    channel; ``none``: the outbox only)."""
    channel = channel_for(db, session, deliver)
    message = MessageOut(
        session=session,
        kind=kind,
        text=text,
        in_reply_to=in_reply_to,
        series_id=series_id,
        created_at=now,
        **delivery_columns(channel, now=now),
    )
    db.add(message)
    if channel is not None:
        db.info[DELIVERABLE] = True  # the deliverers are rung once this commits
    return message


@dataclass(frozen=True)
class Claimed:
    """One outbox row a deliverer holds for one attempt: what it sends."""

    id: str
    session: str
    kind: str
    text: str
    created_at: datetime
    in_reply_to: str | None
    series_id: str | None
    channel: str
    attempt: int  # this attempt's number, from 1
    task_name: str | None = None


_CLAIMED = (
    _OUT.c.id,
    _OUT.c.session,
    _OUT.c.kind,
    _OUT.c.text,
    _OUT.c.created_at,
    _OUT.c.in_reply_to,
    _OUT.c.series_id,
    _OUT.c.channel,
    _OUT.c.attempts,
)


def claim_deliveries(
    db: Session,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    per_channel: int | None = None,
    in_hand: Mapping[str, int] | None = None,
) -> list[Claimed]:
    """Up to ``limit`` due rows, oldest due first, claimed for ``owner`` until ``now + lease``; with
    ``per_channel``, no channel gets more than that counting what the claimant already holds of it (``in_hand``):
    channels that are full are not looked at, so they never hold up the others."""
    if limit < 1:
        return []
    held = Counter(in_hand or {})
    due = [_OUT.c.delivery == DeliveryStatus.PENDING.value, _OUT.c.next_attempt_at <= now]
    full = sorted(channel for channel, count in held.items() if per_channel is not None and count >= per_channel)
    wanted = [*due, _OUT.c.channel.not_in(full)] if full else due
    # Candidates first, unlocked and more than wanted, so that a channel with little room leaves room for others.
    looked = limit * CANDIDATES_PER_CLAIM if per_channel is not None else limit
    candidates = db.execute(
        select(_OUT.c.id, _OUT.c.channel).where(*wanted).order_by(_OUT.c.next_attempt_at, _OUT.c.id).limit(looked)
    ).all()
    chosen: list[str] = []
    for row_id, channel in candidates:
        if len(chosen) == limit:
            break
        if per_channel is None or held[channel or ""] < per_channel:
            held[channel or ""] += 1
            chosen.append(row_id)
    if chosen and db.get_bind().dialect.name == "postgresql":
        # Locked and checked again: another host may have claimed some since they were looked at; it wins those.
        locked = select(_OUT.c.id).where(_OUT.c.id.in_(chosen), *due).with_for_update(skip_locked=True)
        chosen = list(db.execute(locked).scalars())
    if not chosen:
        return []
    # One conditional update: a row another claimant took meanwhile no longer matches and is left to it.
    claim = (
        update(_OUT)
        .where(_OUT.c.id.in_(chosen), *due)
        .values(delivery_owner=owner, next_attempt_at=now + lease, attempts=_OUT.c.attempts + 1)
    )
    if db.get_bind().dialect.update_returning:
        rows = sorted(db.execute(claim.returning(*_CLAIMED)).all(), key=lambda row: row.id)
    else:  # SQLite before 3.35
        db.execute(claim)
        rows = list(db.execute(select(*_CLAIMED).where(_OUT.c.id.in_(chosen)).order_by(_OUT.c.id)).all())
    names = series_names(db, [row.series_id for row in rows if row.series_id])
    return [
        Claimed(
            id=row.id,
            session=row.session,
            kind=row.kind,
            text=row.text,
            created_at=row.created_at,
            in_reply_to=row.in_reply_to,
            series_id=row.series_id,
            channel=row.channel or "",
            attempt=row.attempts,
            task_name=names.get(row.series_id or ""),
        )
        for row in rows
    ]


class Verdict(StrEnum):
    """What one attempt came to."""

    DELIVERED = "delivered"
    RETRY = "retry"  # a failure worth trying again (5xx, 408, 429, a timeout, a refused connection, …)
    FAIL = "fail"  # a refusal that trying again will not change (another 4xx, a refused address, …)


@dataclass(frozen=True)
class Attempted:
    """The result of one claimed attempt, to record."""

    id: str
    attempt: int
    verdict: Verdict
    error: str | None = None
    retry_after: timedelta | None = None  # the receiver's Retry-After, when it asked for a longer wait


@dataclass(frozen=True)
class Recorded:
    """What recording a batch of attempts changed."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    lost: int = 0  # results dropped: the claim was no longer the recorder's (its lease ran out and was taken)


def record_deliveries(
    db: Session, results: Sequence[Attempted], *, owner: str, now: datetime, backoff: Sequence[timedelta]
) -> Recorded:
    """Record attempts ``owner`` made; a failure worth retrying waits ``backoff[attempt - 1]`` (or the receiver's
    Retry-After if longer) while attempts remain (``len(backoff) + 1`` in all), else the row has failed."""
    fenced = (
        _OUT.c.id == bindparam("b_id"),
        _OUT.c.delivery_owner == owner,
        _OUT.c.attempts == bindparam("b_attempt"),
        _OUT.c.delivery == DeliveryStatus.PENDING.value,
    )
    done: dict[str, list[dict[str, Any]]] = {"delivered": [], "retry": [], "failed": []}
    for result in results:
        key = {"b_id": result.id, "b_attempt": result.attempt}
        error = _clip(result.error)
        if result.verdict == Verdict.DELIVERED:
            done["delivered"].append(key)
        elif result.verdict == Verdict.RETRY and result.attempt <= len(backoff):
            wait = max(backoff[result.attempt - 1], result.retry_after or timedelta(0))
            done["retry"].append({**key, "b_error": error, "b_next": now + wait})
        else:
            if result.verdict == Verdict.RETRY:
                error = _clip(f"gave up after {result.attempt} attempts; the last: {result.error}")
            done["failed"].append({**key, "b_error": error})
    changed = dict.fromkeys(done, 0)
    statements: dict[str, dict[str, Any]] = {
        "delivered": {"delivery": DeliveryStatus.DELIVERED.value, "delivered_at": now, "next_attempt_at": None},
        "retry": {"next_attempt_at": bindparam("b_next")},
        "failed": {"delivery": DeliveryStatus.FAILED.value, "next_attempt_at": None},
    }
    for name, params in done.items():
        if not params:
            continue
        values = {**statements[name], "delivery_owner": None}
        values["delivery_error"] = bindparam("b_error") if name != "delivered" else None
        cursor = db.connection().execute(update(_OUT).where(*fenced).values(values), params)
        changed[name] = cursor.rowcount if cursor.rowcount >= 0 else len(params)
    total = sum(len(params) for params in done.values())
    return Recorded(changed["delivered"], changed["retry"], changed["failed"], total - sum(changed.values()))


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_DELIVERY_ERROR:
        return text
    return text[: MAX_DELIVERY_ERROR - 1] + "…"


def next_delivery_due(db: Session) -> datetime | None:
    """When the next pending row comes due (it may be now), from the index of what is to be sent."""
    found: datetime | None = db.execute(
        select(func.min(_OUT.c.next_attempt_at)).where(_OUT.c.delivery == DeliveryStatus.PENDING.value)
    ).scalar_one()
    return found
