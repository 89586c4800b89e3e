"""Aggregates of the run history and the queue, for the dashboard's stats page and ``GET /metrics``.

Every query walks an index range: runs by ``ended_at`` (``ix_runs_ended``) within a window, inbound rows by
``status`` (``ix_messages_in_status_due``). Durations are counted into fixed buckets in SQL, so a window of
100,000 runs is one pass in the database and a handful of numbers back, never the runs themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, Float, case, cast, func
from sqlmodel import Session, col, select

from inbox.enums import Outcome, Status
from inbox.store.models import MessageIn, MessageOut, Run

# Upper bounds (seconds) of the duration buckets: a reminder takes milliseconds, a model call seconds, a long
# agent run minutes.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
SUCCESS = frozenset({Outcome.COMPLETED, Outcome.SILENT})


@dataclass(frozen=True)
class RunTotals:
    """The runs that ended within a window."""

    by_outcome: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    duration_sum_s: float = 0.0
    # (upper bound in seconds, runs at most that long), cumulative, the last bound infinite
    duration_buckets: tuple[tuple[float, int], ...] = ()

    @property
    def count(self) -> int:
        return sum(self.by_outcome.values())

    @property
    def succeeded(self) -> int:
        return sum(n for outcome, n in self.by_outcome.items() if outcome in SUCCESS)

    @property
    def success_rate(self) -> float | None:
        counted = self.count - self.by_outcome.get(Outcome.SKIPPED, 0) - self.by_outcome.get(Outcome.MISSED, 0)
        return self.succeeded / counted if counted else None

    def duration_quantile(self, q: float) -> float | None:
        """The upper bound of the bucket the ``q`` quantile falls in (an estimate no lower than the truth)."""
        total = self.count
        if not total:
            return None
        wanted = q * total
        for bound, cumulative in self.duration_buckets:
            if cumulative >= wanted:
                return bound
        return None


def _seconds(start: Any, end: Any, dialect: str) -> ColumnElement[float]:
    """``end - start`` in seconds, in SQL."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return cast((func.julianday(end) - func.julianday(start)) * 86400.0, Float)


def run_totals(db: Session, *, since: datetime, until: datetime | None = None) -> RunTotals:
    """Runs by outcome, tokens and durations of the runs that ended in ``[since, until)``."""
    dialect = db.get_bind().dialect.name
    ended = col(Run.ended_at)
    duration = _seconds(col(Run.started_at), ended, dialect)
    window = [ended >= since] + ([ended < until] if until is not None else [])
    bucket_columns = [func.sum(case((duration <= bound, 1), else_=0)) for bound in DURATION_BUCKETS]
    rows = db.exec(
        select(  # type: ignore[call-overload]
            Run.outcome,
            func.count(),
            func.sum(Run.input_tokens),
            func.sum(Run.output_tokens),
            func.sum(duration),
            *bucket_columns,
        )
        .where(*window)
        .group_by(col(Run.outcome))
    ).all()
    by_outcome: dict[str, int] = {}
    buckets = [0] * len(DURATION_BUCKETS)
    tokens_in = tokens_out = 0
    total_s = 0.0
    for outcome, count, spent_in, spent_out, seconds, *counts in rows:
        by_outcome[str(outcome)] = int(count)
        tokens_in += int(spent_in or 0)
        tokens_out += int(spent_out or 0)
        total_s += float(seconds or 0.0)
        buckets = [have + int(more or 0) for have, more in zip(buckets, counts, strict=True)]
    cumulative = (*zip(DURATION_BUCKETS, buckets, strict=True), (float("inf"), sum(by_outcome.values())))
    return RunTotals(by_outcome, tokens_in, tokens_out, total_s, cumulative)


@dataclass(frozen=True)
class DayTokens:
    day: date
    runs: int
    failures: int
    input_tokens: int
    output_tokens: int


FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.TIMEOUT, Outcome.INTERRUPTED, Outcome.SCRIPT_ERROR})


def per_day(db: Session, *, since: datetime) -> list[DayTokens]:
    """Runs, failures and model tokens per UTC day since ``since``, oldest day first."""
    dialect = db.get_bind().dialect.name
    ended = col(Run.ended_at)
    day = func.date(ended) if dialect == "sqlite" else cast(ended, Date)
    failed = case((col(Run.outcome).in_([o.value for o in FAILED_OUTCOMES]), 1), else_=0)
    rows = db.exec(
        select(  # type: ignore[call-overload]
            day, func.count(), func.sum(failed), func.sum(Run.input_tokens), func.sum(Run.output_tokens)
        )
        .where(ended >= since)
        .group_by(day)
        .order_by(day)
    ).all()
    return [
        DayTokens(
            day=value if isinstance(value, date) else date.fromisoformat(str(value)),
            runs=int(count),
            failures=int(failures or 0),
            input_tokens=int(spent_in or 0),
            output_tokens=int(spent_out or 0),
        )
        for value, count, failures, spent_in, spent_out in rows
    ]


def status_counts(db: Session) -> dict[str, int]:
    """Inbound rows (chat messages and task occurrences) by status: one index range count per status."""
    counts = {}
    for status in Status:
        query = select(func.count()).select_from(MessageIn).where(MessageIn.status == status.value)
        counts[status.value] = int(db.exec(query).one())
    return counts


def due_backlog(db: Session, *, now: datetime) -> tuple[int, datetime | None]:
    """How many pending rows are due (``process_after`` passed), and the oldest one's due time."""
    due = [col(MessageIn.status) == Status.PENDING.value, col(MessageIn.process_after) <= now]
    found = db.exec(select(func.count(), func.min(MessageIn.process_after)).where(*due)).one()
    count, oldest = found
    return int(count), oldest


def outbox_size(db: Session) -> int:
    return int(db.exec(select(func.count()).select_from(MessageOut)).one())
