"""One host pass: which due rows the host ends itself and which it leaves for a session's runner."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inbox import Inbox
from inbox.store.claims import claim_due
from inbox.store.engine import transaction
from sweeper.sweep import sweep_once
from tests.conftest import Clock
from tests.integration.helpers import claim, end


def test_a_reminder_with_a_script_waits_for_the_runner_that_runs_its_script(inbox: Inbox, clock: Clock) -> None:
    inbox.schedule("plain reminder", in_="1m", remind=True)
    gated = inbox.schedule("gated reminder", in_="1m", remind=True, script="echo '{\"wakeAgent\": false}'")
    clock.advance(minutes=2)

    report = sweep_once(inbox.engine, now=clock())

    assert report.delivered == 1
    assert [o.text for o in inbox.outbox()] == ["plain reminder"]
    assert report.waiting_sessions == {"main": 1}  # the gated one: only a runner may run its script
    assert inbox.get(gated.series_id).status == "active"


def test_one_shot_and_recurring_reminders_due_together_are_all_delivered_in_one_pass(
    inbox: Inbox, clock: Clock
) -> None:
    one_shots = [inbox.schedule(f"once {i}", in_="1m", remind=True) for i in range(3)]
    recurring = inbox.schedule("every hour", every="1h", remind=True)
    clock.advance(hours=1, minutes=1)

    report = sweep_once(inbox.engine, now=clock())

    assert report.delivered == 4
    assert sorted(o.text for o in inbox.outbox()) == ["every hour", "once 0", "once 1", "once 2"]
    for made in one_shots:
        [run] = inbox.runs(made.series_id)
        assert (run.outcome, run.attempt) == ("completed", 1)
        assert inbox.get(made.series_id).status == "ended"
    assert inbox.get(recurring.series_id).status == "active"  # its follow-up was written
    assert sweep_once(inbox.engine, now=clock()).delivered == 0  # nothing is delivered twice


def test_a_due_reminder_the_host_cannot_take_yet_does_not_call_for_a_runner(inbox: Inbox, clock: Clock) -> None:
    made = inbox.schedule("hourly", every="1h", remind=True)
    extra = inbox.run_now(made.series_id)  # a run-now occurrence, taken by a runner and still running
    with transaction(inbox.engine) as db:
        taken = claim_due(db, owner="runner-a", now=clock(), session="main", lease=timedelta(hours=2))
    assert [row.id for row in taken] == [extra.id]
    clock.advance(hours=1, seconds=1)  # the series' next slot is due while the run-now still runs

    report = sweep_once(inbox.engine, now=clock())

    assert report.delivered == 0  # two occurrences of one series never run together
    assert report.waiting_sessions == {}  # and a reminder is the host's to deliver: no runner is woken for it


@pytest.mark.parametrize("returning", [True, False], ids=["update-returning", "sqlite-before-3.35"])
def test_a_backlog_of_reminders_reaches_the_outbox_in_due_order_not_creation_order(
    inbox: Inbox, clock: Clock, monkeypatch: pytest.MonkeyPatch, returning: bool
) -> None:
    monkeypatch.setattr(inbox.engine.dialect, "update_returning", returning)
    for minutes in (5, 1, 4, 2, 3):  # each made after the last, most due sooner than one made before it
        inbox.schedule(f"due in {minutes}m", in_=f"{minutes}m", remind=True)
    clock.advance(minutes=10)  # the host was down: all five are due in one pass

    assert sweep_once(inbox.engine, now=clock()).delivered == 5
    assert [o.text for o in inbox.outbox()] == [f"due in {m}m" for m in (1, 2, 3, 4, 5)]
    assert [run.outcome for o in inbox.outbox() for run in inbox.runs(o.in_reply_to or "")] == ["completed"] * 5
    assert sweep_once(inbox.engine, now=clock()).delivered == 0


def test_a_batched_reminder_never_seems_to_start_before_the_occurrence_it_follows_ended(
    inbox: Inbox, clock: Clock
) -> None:
    """A pass reads ``now``, then waits for the store; meanwhile a runner ends an occurrence late and its follow-up
    is written already due. The reminder the pass then delivers is stamped with the clock read once the pass holds
    the store, so its run does not start before the occurrence it follows ended (the chaos suite saw two runs of
    one series overlap by 70 ms before this)."""
    made = inbox.schedule("drink water", every="5s", remind=True)
    clock.advance(seconds=5)
    [first] = claim(inbox)  # taken by a runner (as when its series had a run-now going): slot +5 s
    clock.advance(seconds=4)
    pass_read_now = clock()  # +9 s: the pass's now, read before the store was its
    clock.advance(seconds=2)
    end(inbox, first.id)  # ended at +11 s; its follow-up (slot +10 s) is due at once

    report = sweep_once(inbox.engine, now=pass_read_now + timedelta(seconds=1, milliseconds=500), clock=clock)

    assert report.delivered == 1
    runs = sorted(inbox.runs(made.series_id), key=lambda r: r.started_at)
    assert len(runs) == 2  # the runner's, then the pass's
    assert runs[1].started_at >= runs[0].ended_at == clock()
