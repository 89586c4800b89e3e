"""The per-series daily token budget: a series that spent more than its budget in 24 hours pauses itself.

It pauses with the reason ``budget: …`` and tells its session once, in the system outbox; the person resumes
it when the spending is understood. The window is the last 24 hours of runs, so a resume the next day is not
paused again by yesterday's spending.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from inbox.enums import Status
from inbox.store.alerts import tell_paused
from inbox.store.models import MessageIn, Run

WINDOW = timedelta(hours=24)


def tokens_last_day(db: Session, series_id: str, *, now: datetime) -> int:
    query = select(func.coalesce(func.sum(col(Run.input_tokens) + col(Run.output_tokens)), 0)).where(
        Run.series_id == series_id, col(Run.ended_at) > now - WINDOW
    )
    return int(db.exec(query).one())


def enforce(db: Session, follow_up: MessageIn | None, *, limit: int, now: datetime) -> bool:
    """Pause ``follow_up`` when its series is over ``limit`` tokens in 24 h; True when it did."""
    if follow_up is None or follow_up.series_id is None or follow_up.status != Status.PENDING:
        return False
    used = tokens_last_day(db, follow_up.series_id, now=now)
    if used <= limit:
        return False
    follow_up.status = Status.PAUSED
    follow_up.reason = f"budget: {used} tokens in 24 h, over the daily budget of {limit} (INBOX_SERIES_DAILY_TOKENS)"
    remedy = f"Resume it with: inbox resume {follow_up.series_id}"
    tell_paused(db, follow_up, reason=follow_up.reason, remedy=remedy, now=now)
    return True
