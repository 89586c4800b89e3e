"""The Python API's ``Inbox.stats``: runs by outcome, success rate, durations, lateness and tokens per day, for
the whole store or one task, over a window that ends now (``inbox stats``; docs/dashboard.md, "Stats")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from inbox.schedules import parse_duration
from inbox.stats_window import DEFAULT_SINCE
from inbox.store import lookup, rollups, stats
from inbox.store.engine import read_transaction
from inbox.store.models import MessageIn

TOP_SERIES = 20  # the busiest tasks listed in the whole store's stats


class DayStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    runs: int
    failures: int
    input_tokens: int
    output_tokens: int


class SeriesStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    series_id: str
    name: str | None
    runs: int
    by_outcome: dict[str, int]
    success_rate: float | None


class StatsReport(BaseModel):
    """Durations and lateness are bucket bounds: the quantile is at most that (docs/dashboard.md)."""

    model_config = ConfigDict(frozen=True)

    since: datetime
    until: datetime
    series_id: str | None  # None: every task and message of the store
    name: str | None
    runs: int
    by_outcome: dict[str, int]
    success_rate: float | None
    duration_p50_s: float | None
    duration_p95_s: float | None
    lateness_p50_s: float | None
    lateness_p99_s: float | None
    input_tokens: int
    output_tokens: int
    per_day: list[DayStats]
    busiest: list[SeriesStats]  # the whole store's only: its busiest tasks, most runs first


def _bound(value: float | None) -> float | None:
    return None if value is None or value == float("inf") else value


class StatsMethods:
    engine: Engine
    clock: Callable[[], datetime]

    def stats(self, ident: str | None = None, *, since: str | timedelta = DEFAULT_SINCE) -> StatsReport:
        """The runs that ended within ``since`` of now (a duration, ``7d`` by default), of the task ``ident`` (any
        of its ids or its name) or of the whole store."""
        span = parse_duration(since, field="since") if isinstance(since, str) else since
        now = self.clock()
        start = now - span
        with read_transaction(self.engine) as db:
            series_id = name = None
            busiest: list[SeriesStats] = []
            if ident is not None:
                series_id = lookup.find_series_id(db, ident)
                name = _names(db, [series_id]).get(series_id)
                totals = stats.run_totals(db, since=start, series_id=series_id)
                days = stats.per_day(db, since=start, series_id=series_id)
            else:
                totals, days = rollups.window(db, since=start, now=now)
                top = stats.by_series(db, since=start, limit=TOP_SERIES)
                names = _names(db, [sid for sid, _ in top])
                busiest = [_series_stats(sid, names.get(sid), counts) for sid, counts in top]
            # One series' runs are read live through its index; everything's from the roll-ups.
            one = series_id is not None
            late = stats.lateness(db, since=start, series_id=series_id) if one else rollups.lateness(db, since=start)
        return StatsReport(
            since=start,
            until=now,
            series_id=series_id,
            name=name,
            runs=totals.count,
            by_outcome=dict(sorted(totals.by_outcome.items())),
            success_rate=totals.success_rate,
            duration_p50_s=_bound(totals.duration_quantile(0.5)),
            duration_p95_s=_bound(totals.duration_quantile(0.95)),
            lateness_p50_s=_bound(late.quantile(0.5)),
            lateness_p99_s=_bound(late.quantile(0.99)),
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            per_day=[DayStats(**day.__dict__) for day in days],
            busiest=busiest,
        )


def _series_stats(series_id: str, name: str | None, counts: dict[str, int]) -> SeriesStats:
    totals = stats.RunTotals(by_outcome=counts)
    return SeriesStats(
        series_id=series_id,
        name=name,
        runs=totals.count,
        by_outcome=dict(sorted(counts.items())),
        success_rate=totals.success_rate,
    )


def _names(db: Session, series_ids: list[str]) -> dict[str, str | None]:
    """The names of the series (any of their rows carries it)."""
    if not series_ids:
        return {}
    query = (
        select(MessageIn.series_id, func.max(MessageIn.name))
        .where(col(MessageIn.series_id).in_(series_ids))
        .group_by(col(MessageIn.series_id))
    )
    return {str(series_id): name for series_id, name in db.exec(query).all()}
