"""Failure alerts: a series failing again and again tells its channel, without flooding it.

After ``ALERT_AFTER`` failed occurrences in a row a series writes one ``system`` outbox row (delivered through
its channel like any other), then at most one every ``ALERT_EVERY`` while it keeps failing, and one "recovered"
notice when an occurrence ends without failing again. ``alerted_at`` on the series' rows remembers the last alert,
carried from each occurrence to its follow-up as ``consecutive_failures`` is. Written in the transaction that ends
the occurrence, so an alert is written once per ending, whatever several hosts do.

A series the host pauses by itself (too many failures, the token budget, a cancelled upstream) tells its session
the same way, once, saying why and what brings it back (:func:`tell_paused`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from inbox.enums import FAILED_OUTCOMES, OutboxKind, Outcome
from inbox.store import audit
from inbox.store.models import MessageIn, Run
from inbox.store.outbox import post_outbox

ALERT_AFTER = 3
ALERT_EVERY = timedelta(hours=1)
ALERT_REASON_CHARS = 300


def alert_after_ending(
    db: Session,
    row: MessageIn,
    run: Run,
    follow_up: MessageIn | None,
    *,
    what: str,
    now: datetime,
    held_back: bool = False,
) -> None:
    """Alert (or say it recovered) for ``row``'s series, whose occurrence ``row`` just ended with ``run``;
    ``what`` names the task as notices do. ``held_back``: the occurrence did not run (outside its active hours)."""
    if not row.recurrence or row.series_id is None:
        return  # one-shots and messages have no run of failures
    alerted = row.alerted_at
    if run.outcome in FAILED_OUTCOMES:
        failures = row.consecutive_failures + 1
        if failures >= ALERT_AFTER and (alerted is None or now - alerted >= ALERT_EVERY):
            reason = (run.error or "no reason was given")[:ALERT_REASON_CHARS].rstrip(".")
            _post(
                db,
                row,
                now,
                f"Alert: {what} has failed {failures} times in a row; the last ({run.outcome}): "
                f"{reason}. See: inbox runs {row.series_id}",
            )
            alerted = now
    elif run.outcome != Outcome.MISSED and not held_back and alerted is not None:  # a slot not run says nothing
        after = f" after {row.consecutive_failures} failed runs in a row" if row.consecutive_failures else ""
        _post(db, row, now, f"Recovered: {what} ran without failing ({run.outcome}){after}.")
        alerted = None
    row.alerted_at = alerted
    if follow_up is not None:
        follow_up.alerted_at = alerted


def _post(db: Session, row: MessageIn, now: datetime, text: str) -> None:
    post_outbox(
        db,
        session=row.session,
        kind=OutboxKind.SYSTEM,
        text=text,
        now=now,
        in_reply_to=row.id,
        series_id=row.series_id,
        deliver=row.deliver,
    )


def tell_paused(db: Session, row: MessageIn, *, reason: str, remedy: str, now: datetime) -> None:
    """The host paused ``row``'s series by itself: the audit trail records it, and one ``system`` outbox row tells
    its session why and what to do (``remedy``), through the series' channel."""
    audit.host_paused(db, row, reason=reason, now=now)
    post_outbox(
        db,
        session=row.session,
        kind=OutboxKind.SYSTEM,
        now=now,
        series_id=row.series_id,
        text=f"Task {row.name or row.series_id} was paused: {reason}. {remedy}",
        deliver=row.deliver,
    )
