"""Aggregates of the run history and the queue, for ``inbox stats``, the dashboard's stats page and ``GET /metrics``.

Every query walks an index range: runs by ``ended_at`` (``ix_runs_ended``) within a window, inbound rows by
``status`` (``ix_messages_in_status_due``). Durations are counted into fixed buckets in SQL, so a window of runs is
one pass in the database and a handful of numbers back, never the runs themselves. Windows longer than the last
hour or two are read from the hourly roll-ups instead (:mod:`inbox.store.rollups`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, Float, case, cast, func
from sqlmodel import Session, col, select

from inbox.enums import LIVE_STATUSES, DeliveryStatus, Outcome, Status
from inbox.ids import encode
from inbox.store.models import MessageIn, MessageOut, Run

# Upper bounds (seconds) of the duration buckets: a reminder takes milliseconds, a model call seconds, a long
# agent run minutes. A last bucket holds what is longer.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
SUCCESS = frozenset({Outcome.COMPLETED, Outcome.SILENT})
NOT_COUNTED = frozenset({Outcome.SKIPPED, Outcome.MISSED})  # nothing was attempted: no success, no failure
FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.TIMEOUT, Outcome.INTERRUPTED, Outcome.SCRIPT_ERROR})
# Upper bounds (seconds) of the lateness buckets: a woken sweep starts a run within milliseconds, the 60 s sweep
# within a minute; more is a host that was down or a backlog.
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 3600.0)


def cumulative(bounds: tuple[float, ...], buckets: tuple[int, ...]) -> tuple[tuple[float, int], ...]:
    """(upper bound, how many at most that), the last bound infinite: a histogram's buckets from its counts."""
    running, found = 0, []
    for bound, count in zip((*bounds, float("inf")), buckets, strict=True):
        running += count
        found.append((bound, running))
    return tuple(found)


def quantile(cumulated: tuple[tuple[float, int], ...], q: float) -> float | None:
    """The upper bound of the bucket the ``q`` quantile falls in: an estimate no lower than the truth."""
    total = cumulated[-1][1] if cumulated else 0
    for bound, count in cumulated:
        if total and count >= q * total:
            return bound
    return None


def _no_buckets() -> tuple[int, ...]:
    return (0,) * (len(DURATION_BUCKETS) + 1)


@dataclass(frozen=True)
class RunTotals:
    """The runs that ended within a window: by outcome, their tokens and their durations."""

    by_outcome: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    duration_sum_s: float = 0.0
    buckets: tuple[int, ...] = field(default_factory=_no_buckets)  # runs per duration bucket, the last: longer

    def __add__(self, other: RunTotals) -> RunTotals:
        outcomes = dict(self.by_outcome)
        for outcome, count in other.by_outcome.items():
            outcomes[outcome] = outcomes.get(outcome, 0) + count
        return RunTotals(
            outcomes,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.duration_sum_s + other.duration_sum_s,
            tuple(a + b for a, b in zip(self.buckets, other.buckets, strict=True)),
        )

    @property
    def count(self) -> int:
        return sum(self.by_outcome.values())

    @property
    def success_rate(self) -> float | None:
        """Of the runs that attempted something (not skipped or missed), the share that succeeded."""
        attempted = {o: n for o, n in self.by_outcome.items() if o not in NOT_COUNTED}
        total = sum(attempted.values())
        return sum(n for o, n in attempted.items() if o in SUCCESS) / total if total else None

    @property
    def cumulative(self) -> tuple[tuple[float, int], ...]:
        """(upper bound in seconds, runs at most that long), the last bound infinite: a histogram's buckets."""
        return cumulative(DURATION_BUCKETS, self.buckets)

    def duration_quantile(self, q: float) -> float | None:
        """The upper bound of the bucket the ``q`` quantile falls in (an estimate no lower than the truth)."""
        return quantile(self.cumulative, q)


def seconds_between(start: Any, end: Any, dialect: str) -> ColumnElement[float]:
    """``end - start`` in seconds, in SQL."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return cast((func.julianday(end) - func.julianday(start)) * 86400.0, Float)


def bucket_of(duration: ColumnElement[float], bounds: tuple[float, ...] = DURATION_BUCKETS) -> ColumnElement[int]:
    """The index of the bucket (of ``bounds``) a figure falls in, in SQL."""
    return case(*[(duration <= bound, index) for index, bound in enumerate(bounds)], else_=len(bounds))


def _window(since: datetime, until: datetime | None, series_id: str | None) -> list[ColumnElement[bool]]:
    ended = col(Run.ended_at)
    return (
        [ended >= since]
        + ([ended < until] if until is not None else [])
        + ([col(Run.series_id) == series_id] if series_id is not None else [])
    )


def run_totals(
    db: Session, *, since: datetime, until: datetime | None = None, series_id: str | None = None
) -> RunTotals:
    """Runs by outcome, tokens and durations of the runs that ended in ``[since, until)`` (of one series)."""
    ended = col(Run.ended_at)
    duration = seconds_between(col(Run.started_at), ended, db.get_bind().dialect.name)
    bucket = bucket_of(duration)
    window = _window(since, until, series_id)
    rows = db.exec(
        select(  # type: ignore[call-overload]
            Run.outcome,
            bucket,
            func.count(),
            func.sum(Run.input_tokens),
            func.sum(Run.output_tokens),
            func.sum(duration),
        )
        .where(*window)
        .group_by(col(Run.outcome), bucket)
    ).all()
    return totals_of(rows)


def totals_of(rows: Any) -> RunTotals:
    """RunTotals from rows of (outcome, bucket, runs, input tokens, output tokens, seconds)."""
    by_outcome: dict[str, int] = {}
    buckets = list(_no_buckets())
    tokens_in = tokens_out = 0
    total_s = 0.0
    for outcome, bucket, count, spent_in, spent_out, seconds in rows:
        by_outcome[str(outcome)] = by_outcome.get(str(outcome), 0) + int(count)
        buckets[int(bucket)] += int(count)
        tokens_in += int(spent_in or 0)
        tokens_out += int(spent_out or 0)
        total_s += float(seconds or 0.0)
    return RunTotals(by_outcome, tokens_in, tokens_out, total_s, tuple(buckets))


@dataclass(frozen=True)
class DayTokens:
    day: date
    runs: int
    failures: int
    input_tokens: int
    output_tokens: int

    def __add__(self, other: DayTokens) -> DayTokens:
        return DayTokens(
            self.day,
            self.runs + other.runs,
            self.failures + other.failures,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
        )


def per_day(
    db: Session, *, since: datetime, until: datetime | None = None, series_id: str | None = None
) -> list[DayTokens]:
    """Runs, failures and model tokens per UTC day of the runs that ended in ``[since, until)`` (of one series),
    oldest first."""
    dialect = db.get_bind().dialect.name
    ended = col(Run.ended_at)
    day = func.date(ended) if dialect == "sqlite" else cast(ended, Date)
    failed = case((col(Run.outcome).in_([o.value for o in FAILED_OUTCOMES]), 1), else_=0)
    window = _window(since, until, series_id)
    rows = db.exec(
        select(  # type: ignore[call-overload]
            day, func.count(), func.sum(failed), func.sum(Run.input_tokens), func.sum(Run.output_tokens)
        )
        .where(*window)
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


def live_counts(db: Session) -> dict[str, int]:
    """Rows still ahead of their end (pending, running, paused) by status: one index range count each."""
    counts = {}
    for status in sorted(LIVE_STATUSES):
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


@dataclass(frozen=True)
class Lateness:
    """How late first attempts started after their time came: runs per bucket of :data:`LATENESS_BUCKETS`."""

    buckets: tuple[int, ...] = (0,) * (len(LATENESS_BUCKETS) + 1)
    sum_s: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.buckets)

    @property
    def cumulative(self) -> tuple[tuple[float, int], ...]:
        return cumulative(LATENESS_BUCKETS, self.buckets)

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket the ``q`` quantile falls in (no lower than the truth)."""
        return quantile(self.cumulative, q)


def lateness(db: Session, *, since: datetime, until: datetime | None = None, series_id: str | None = None) -> Lateness:
    """How late the first attempts that ended in ``[since, until)`` started: from the slot an occurrence stands
    for, or, for a message and an extra run, its due time. A first attempt of a message whose retry moved its due
    time later cannot be told apart and is left out (it would read as early); docs/dashboard.md says so."""
    buckets = [0] * (len(LATENESS_BUCKETS) + 1)
    total_s = 0.0
    for index, count, seconds in db.exec(lateness_query(db, *_window(since, until, series_id))).all():
        buckets[int(index)] += int(count)
        total_s += float(seconds or 0.0)
    return Lateness(tuple(buckets), total_s)


def lateness_query(db: Session, *where: ColumnElement[bool], by: tuple[Any, ...] = ()) -> Any:
    """(``by``..., lateness bucket, first attempts, their summed lateness) of the runs ``where`` selects, grouped by
    ``by`` and bucket: one pass over the runs joined to their rows."""
    dialect = db.get_bind().dialect.name
    due = func.coalesce(col(MessageIn.occurrence_at), col(MessageIn.process_after))
    late = seconds_between(due, col(Run.started_at), dialect)
    bucket = bucket_of(late, LATENESS_BUCKETS)  # one expression: PostgreSQL groups by what it selects
    return (
        select(*by, bucket, func.count(), func.sum(late))  # type: ignore[call-overload]
        .join(MessageIn, col(MessageIn.id) == col(Run.message_id))
        .where(*where, col(Run.attempt) == 1, late >= 0)
        .group_by(*by, bucket)
    )


def by_series(db: Session, *, since: datetime, limit: int) -> list[tuple[str, dict[str, int]]]:
    """The ``limit`` series with the most runs ended since ``since``, each with its runs by outcome (most first)."""
    ended = col(Run.ended_at)
    rows = db.exec(
        select(Run.series_id, Run.outcome, func.count())
        .where(ended >= since, col(Run.series_id).is_not(None))
        .group_by(col(Run.series_id), col(Run.outcome))
    ).all()
    found: dict[str, dict[str, int]] = {}
    for series_id, outcome, count in rows:
        found.setdefault(str(series_id), {})[str(outcome)] = int(count)
    ranked = sorted(found.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return ranked[:limit]


def deliveries_failed(db: Session, *, since: datetime) -> int:
    """Outbox rows written since ``since`` whose delivery failed for good: a range of the primary key, since ids
    sort by the time they were made (inbox.ids)."""
    floor = encode(int(since.timestamp() * 1000), 0)
    query = (
        select(func.count())
        .select_from(MessageOut)
        .where(col(MessageOut.id) >= floor, col(MessageOut.delivery) == DeliveryStatus.FAILED.value)
    )
    return int(db.exec(query).one())
