"""Catch-up policies on every backend: what runs after the host was down, the runner backed up, or a pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inbox import Inbox
from inbox.enums import Outcome
from tests.conftest import Clock
from tests.integration.helpers import claim, end, live, rows, run_due, runs

# A daily 09:00 UTC task; the host goes down on Monday 08:00 and comes back on Thursday 10:00, so the
# Monday, Tuesday, Wednesday and Thursday slots have all passed.
MONDAY_0800 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
THURSDAY_1000 = datetime(2026, 6, 4, 10, 0, tzinfo=UTC)


def _daily(inbox: Inbox, clock: Clock, policy: str) -> str:
    clock.set(MONDAY_0800)
    return inbox.schedule("daily digest", cron="0 9 * * *", tz="UTC", catch_up=policy).series_id


def _drain(inbox: Inbox) -> list[datetime]:
    """Run whatever is due until nothing is; the slots that ran."""
    ran: list[datetime] = []
    while batch := claim(inbox, limit=1):
        for row in batch:
            assert row.occurrence_at is not None
            ran.append(row.occurrence_at)
            end(inbox, row.id)
    return ran


def test_once_runs_one_occurrence_for_all_missed_slots(inbox: Inbox, clock: Clock) -> None:
    series = _daily(inbox, clock, "once")
    clock.set(THURSDAY_1000)
    assert _drain(inbox) == [datetime(2026, 6, 4, 9, 0, tzinfo=UTC)]
    [following] = live(inbox, series)
    assert following.occurrence_at == datetime(2026, 6, 5, 9, 0, tzinfo=UTC)
    assert [r.outcome for r in runs(inbox, series)] == ["completed"]


def test_skip_records_each_missed_slot_and_runs_nothing_late(inbox: Inbox, clock: Clock) -> None:
    series = _daily(inbox, clock, "skip")
    clock.set(THURSDAY_1000)
    assert _drain(inbox) == []  # Thursday 09:00 is an hour late: past the misfire grace, so missed too
    missed = [r for r in rows(inbox, series) if r.status == "skipped"]
    assert [r.occurrence_at.day for r in missed if r.occurrence_at] == [1, 2, 3, 4]
    assert [r.outcome for r in runs(inbox, series)] == ["missed"] * 4
    [following] = live(inbox, series)
    assert following.occurrence_at == datetime(2026, 6, 5, 9, 0, tzinfo=UTC)


def test_skip_still_runs_a_slot_found_within_the_grace(inbox: Inbox, clock: Clock) -> None:
    series = _daily(inbox, clock, "skip")
    clock.set(datetime(2026, 6, 4, 9, 0, 30, tzinfo=UTC))  # 30 s after Thursday's slot
    assert _drain(inbox) == [datetime(2026, 6, 4, 9, 0, tzinfo=UTC)]
    assert sorted(r.outcome for r in runs(inbox, series)) == ["completed"] + ["missed"] * 3


def test_all_runs_every_missed_slot_oldest_first(inbox: Inbox, clock: Clock) -> None:
    series = _daily(inbox, clock, "all")
    clock.set(THURSDAY_1000)
    assert [slot.day for slot in _drain(inbox)] == [1, 2, 3, 4]
    [following] = live(inbox, series)
    assert following.occurrence_at == datetime(2026, 6, 5, 9, 0, tzinfo=UTC)


def test_all_is_capped_at_the_newest_hundred(inbox: Inbox, clock: Clock) -> None:
    clock.set(MONDAY_0800)
    series = inbox.schedule("poll", every="1m", catch_up="all").series_id
    clock.advance(minutes=250, seconds=30)  # 250 slots have passed
    ran = _drain(inbox)
    assert len(ran) == 100
    assert ran == sorted(ran) and ran[-1] == MONDAY_0800 + timedelta(minutes=250)
    missed = [r for r in runs(inbox, series) if r.outcome == Outcome.MISSED]
    assert len(missed) == 100  # the 150 dropped slots: 100 recorded one by one, the 50 oldest counted
    assert "50 older missed slots" in (missed[0].error or "")


def test_a_backed_up_runner_does_not_run_stale_slots_under_once(inbox: Inbox, clock: Clock) -> None:
    series = inbox.schedule("poll", every="1m").series_id
    clock.advance(minutes=1)
    [row] = claim(inbox)
    clock.advance(minutes=5, seconds=10)  # the run takes five slots' worth of time
    end(inbox, row.id)
    assert len(_drain(inbox)) == 1  # one run stands for the slots that passed meanwhile
    assert len(live(inbox, series)) == 1


def test_a_series_resumed_after_a_long_pause_follows_its_policy(inbox: Inbox, clock: Clock) -> None:
    series = _daily(inbox, clock, "skip")
    inbox.pause(series)
    clock.set(THURSDAY_1000)
    inbox.resume(series)
    assert _drain(inbox) == []
    assert len([r for r in runs(inbox, series) if r.outcome == "missed"]) == 4


def test_a_one_shot_is_never_missed(inbox: Inbox, clock: Clock) -> None:
    clock.set(MONDAY_0800)
    inbox.schedule("dentist", at="2026-06-01T09:00:00+00:00", remind=True)
    clock.set(THURSDAY_1000)
    assert len(run_due(inbox)) == 1
