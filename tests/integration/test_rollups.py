"""Hourly roll-ups of the run history: the stats of a window are the same read from roll-ups as from the runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import select

from inbox import Inbox
from inbox.enums import Outcome
from inbox.store import rollups, stats
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.engine import read_transaction, transaction
from inbox.store.page_tables import RunRollup
from tests.conftest import Clock
from tests.integration.helpers import claim

PLAN = [  # (hours before the end, outcome, seconds, input tokens)
    (30, Outcome.COMPLETED, 0.3, 100),
    (26, Outcome.FAILED, 4.0, 50),
    (5, Outcome.COMPLETED, 45.0, 7),
    (5, Outcome.TIMEOUT, 700.0, 9),
    (2, Outcome.SILENT, 1.2, 11),
    (0, Outcome.COMPLETED, 0.05, 13),  # within the current hour: read live
]


def _history(inbox: Inbox, clock: Clock) -> None:
    end = clock()
    for hours, outcome, seconds, tokens in PLAN:
        clock.set(end - timedelta(hours=hours, minutes=-1))
        inbox.send(f"ran {hours} hours ago")
        [row] = claim(inbox, limit=1)
        report = RunReport(
            outcome=outcome, started_at=clock() - timedelta(seconds=seconds), input_tokens=tokens, output_tokens=1
        )
        with transaction(inbox.engine) as db:
            end_occurrence(db, row.id, report, now=clock())
    clock.set(end + timedelta(minutes=10))


def test_stats_read_from_roll_ups_equal_stats_read_from_the_runs(inbox: Inbox, clock: Clock) -> None:
    _history(inbox, clock)
    now = clock()
    since = now - timedelta(days=2)
    with read_transaction(inbox.engine) as db:
        live_totals, live_days = stats.run_totals(db, since=rollups.hour_of(since)), stats.per_day(db, since=since)

    with transaction(inbox.engine) as db:
        written = rollups.roll_up(db, now=now)
    with read_transaction(inbox.engine) as db:
        done = rollups.rolled_until(db)
        rolled_totals = rollups.totals(db, since=since, now=now)
        rolled_days = rollups.per_day(db, since=since, now=now)

    assert written >= 5 and done == rollups.hour_of(now - rollups.LAG)
    assert rolled_totals.duration_sum_s == pytest.approx(live_totals.duration_sum_s)
    assert replace(rolled_totals, duration_sum_s=0.0) == replace(live_totals, duration_sum_s=0.0)
    assert rolled_totals.count == len(PLAN) and rolled_totals.by_outcome["completed"] == 3
    assert rolled_totals.duration_quantile(0.95) == 1800.0  # the 700 s timeout is in the 600-1800 s bucket
    assert rolled_days == live_days


def test_rolling_up_again_adds_nothing_and_the_next_hour_joins_later(inbox: Inbox, clock: Clock) -> None:
    _history(inbox, clock)
    with transaction(inbox.engine) as db:
        rollups.roll_up(db, now=clock())
    with read_transaction(inbox.engine) as db:
        before = list(db.exec(select(RunRollup)).all())
    with transaction(inbox.engine) as db:
        assert rollups.roll_up(db, now=clock()) == 0

    clock.advance(hours=1)
    with transaction(inbox.engine) as db:
        assert rollups.roll_up(db, now=clock()) >= 1  # the hour of the newest run, now past
    with read_transaction(inbox.engine) as db:
        after = list(db.exec(select(RunRollup)).all())
        totals = rollups.totals(db, since=clock() - timedelta(days=3), now=clock())
    assert {(r.hour, r.outcome) for r in before} < {(r.hour, r.outcome) for r in after}
    assert totals.count == len(PLAN)  # each run counted once, across roll-ups and the live part


def test_roll_ups_older_than_the_run_history_kept_are_pruned(inbox: Inbox, clock: Clock) -> None:
    _history(inbox, clock)
    with transaction(inbox.engine) as db:
        rollups.roll_up(db, now=clock())
    with transaction(inbox.engine) as db:
        rollups.roll_up(db, now=clock(), keep=timedelta(hours=12))
    with read_transaction(inbox.engine) as db:
        hours = [row.hour for row in db.exec(select(RunRollup)).all()]
    assert hours and min(hours) >= clock() - timedelta(hours=12)


def test_an_empty_store_rolls_up_nothing(inbox: Inbox, clock: Clock) -> None:
    with transaction(inbox.engine) as db:
        assert rollups.roll_up(db, now=clock()) == 0
    with read_transaction(inbox.engine) as db:
        assert rollups.totals(db, since=clock() - timedelta(days=7), now=clock()).count == 0


def test_the_chore_is_due_only_when_it_would_write_something(inbox: Inbox, clock: Clock) -> None:
    """The host asks first (a read) and takes the chore (a write) only then: an idle store is never written to."""

    def due(keep: timedelta | None = None) -> bool:
        return rollups.rollups_due(inbox.engine, now=clock(), keep=keep)

    assert not due()  # nothing has run yet
    _history(inbox, clock)
    assert due()  # whole hours with runs not rolled up
    rollups.roll_up_store(inbox.engine, now=clock())
    assert not due()  # only the current hour's run is left, read live
    clock.advance(hours=5)
    assert due()  # its hour is whole now
    rollups.roll_up_store(inbox.engine, now=clock())
    clock.advance(hours=30)
    assert not due()  # hours without a run: nothing to add up
    assert due(keep=timedelta(hours=12))  # but roll-ups older than the history kept are pruned


def test_lateness_read_from_roll_ups_equals_lateness_read_from_the_runs(inbox: Inbox, clock: Clock) -> None:
    end = clock()
    for hours, late_s in [(30, 0.004), (26, 0.3), (5, 12.0), (5, 90.0), (2, 4000.0), (0, 0.02)]:
        clock.set(end - timedelta(hours=hours, minutes=-1, seconds=late_s))
        inbox.send(f"due {hours} hours ago")
        clock.advance(seconds=late_s)  # claimed this late
        [row] = claim(inbox, limit=1)
        with transaction(inbox.engine) as db:
            end_occurrence(db, row.id, RunReport(outcome=Outcome.COMPLETED, started_at=clock()), now=clock())
    clock.set(end + timedelta(minutes=10))
    since = clock() - timedelta(days=2)
    with read_transaction(inbox.engine) as db:
        live = stats.lateness(db, since=rollups.hour_of(since))
    with transaction(inbox.engine) as db:
        rollups.roll_up(db, now=clock())
    with read_transaction(inbox.engine) as db:
        rolled = rollups.lateness(db, since=since)
        assert rollups.rolled_until(db) is not None
    assert live.count == 6 and rolled.buckets == live.buckets
    assert rolled.sum_s == pytest.approx(live.sum_s)
    assert rolled.quantile(0.5) == 0.5 and rolled.quantile(0.99) == float("inf")  # 4,000 s is past the last bound
