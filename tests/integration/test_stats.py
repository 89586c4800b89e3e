"""``Inbox.stats``: what ran within a window, how well, how long, how late, per task and for the whole store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inbox import Inbox, InvalidInput
from inbox.enums import Outcome
from inbox.errors import NotFound
from tests.conftest import Clock
from tests.integration.helpers import claim, end


def run_next(inbox: Inbox, clock: Clock, series_id: str, *, late_s: float, outcome: Outcome) -> None:
    """Wait until the series' next slot, ``late_s`` more, then run its occurrence for two seconds."""
    slot = inbox.get(series_id).next_run
    assert slot is not None
    clock.set(slot + timedelta(seconds=late_s))
    [row] = claim(inbox, session=inbox.get(series_id).session)
    started = clock()
    clock.advance(seconds=2)
    end(inbox, row.id, outcome, started_at=started, error=None if outcome == Outcome.COMPLETED else "boom")


def test_a_tasks_stats_count_its_runs_outcomes_durations_and_lateness(inbox: Inbox, clock: Clock) -> None:
    report = inbox.schedule("report", every="1h", name="report").series_id
    other = inbox.schedule("other", every="1h", name="other", session="b").series_id
    run_next(inbox, clock, report, late_s=30, outcome=Outcome.COMPLETED)  # a late start: the host was away
    run_next(inbox, clock, report, late_s=0.2, outcome=Outcome.COMPLETED)
    run_next(inbox, clock, report, late_s=0.2, outcome=Outcome.FAILED)
    run_next(inbox, clock, other, late_s=0.2, outcome=Outcome.COMPLETED)

    mine = inbox.stats("report", since="1d")
    assert (mine.series_id, mine.name, mine.runs) == (report, "report", 3)
    assert mine.by_outcome == {"completed": 2, "failed": 1}
    assert mine.success_rate == pytest.approx(2 / 3)
    assert (mine.duration_p50_s, mine.duration_p95_s) == (2.5, 2.5)  # every run took 2 s: the 2.5 s bucket
    assert (mine.lateness_p50_s, mine.lateness_p99_s) == (0.5, 60.0)
    assert [(d.runs, d.failures) for d in mine.per_day] == [(3, 1)] and mine.busiest == []

    everything = inbox.stats(since="1d")
    assert everything.series_id is None and everything.runs == 4
    assert [(s.series_id, s.name, s.runs) for s in everything.busiest] == [(report, "report", 3), (other, "other", 1)]
    assert everything.busiest[0].by_outcome == {"completed": 2, "failed": 1}


def test_runs_that_ended_before_the_window_are_left_out(inbox: Inbox, clock: Clock) -> None:
    old = inbox.schedule("old", every="1d", name="old").series_id
    run_next(inbox, clock, old, late_s=0, outcome=Outcome.COMPLETED)
    clock.advance(days=3)
    assert inbox.stats("old", since="2d").runs == 0
    assert inbox.stats("old", since="4d").runs == 1


def test_a_message_is_late_from_its_due_time(inbox: Inbox, clock: Clock) -> None:
    inbox.send("later", in_="10m")
    clock.advance(minutes=10, seconds=4)
    [row] = claim(inbox)
    end(inbox, row.id, Outcome.COMPLETED)
    found = inbox.stats(since="1h")
    assert (found.runs, found.lateness_p50_s) == (1, 5.0)
    assert found.busiest == []  # a message is no task


@pytest.mark.parametrize(("ident", "since", "error"), [(None, "soon", InvalidInput), ("no-such", "1d", NotFound)])
def test_a_bad_window_or_task_is_refused(inbox: Inbox, ident: str | None, since: str, error: type[Exception]) -> None:
    with pytest.raises(error) as refused:
        inbox.stats(ident, since=since)
    if isinstance(refused.value, InvalidInput):
        assert refused.value.field == "since"
