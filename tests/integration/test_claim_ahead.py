"""A runner claims its own rows a little before their due time, and a pause, cancel or update that comes before it
starts them hands them back as if they had never been claimed: no try counted, no run recorded, the change in
force. On every store backend, with the test's clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select, update

from inbox import Inbox
from inbox.defaults import CLAIM_AHEAD
from inbox.store.claims import claim_due
from inbox.store.early import hand_back, start_check
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, Run
from sweeper.sweep import next_due
from tests.conftest import Clock

OWNER = "host/runner-1"


def _at(when: datetime) -> str:
    return when.isoformat(timespec="microseconds")


def _claim(inbox: Inbox, *, ahead: timedelta = CLAIM_AHEAD) -> list[str]:
    """What the session's runner claims now (sweeper.http.runner_api does the same)."""
    with transaction(inbox.engine) as db:
        rows = claim_due(db, owner=OWNER, now=inbox.clock(), session="main", work="runner", ahead=ahead)
        return [row.id for row in rows]


def _row(inbox: Inbox, message_id: str) -> MessageIn:
    with transaction(inbox.engine) as db:
        row = db.get(MessageIn, message_id)
        assert row is not None
        return row


def _gate(inbox: Inbox, message_id: str) -> str | None:
    """What the start gate sees at the due time: why the row must not start, or None. A reason hands it back."""
    why = start_check(inbox.engine, message_id, session="main", owner=OWNER, attempt=1, now=inbox.clock())
    assert not isinstance(why, datetime), "asked before its due time"
    if why is not None:
        with transaction(inbox.engine) as db:
            assert hand_back(db, message_id, owner=OWNER, attempt=1, now=inbox.clock()) is not None
    return why


def _series(inbox: Inbox, series_id: str) -> list[MessageIn]:
    with transaction(inbox.engine) as db:
        return list(db.exec(select(MessageIn).where(MessageIn.series_id == series_id)).all())


def _runs(inbox: Inbox, message_id: str) -> list[Run]:
    with transaction(inbox.engine) as db:
        return list(db.exec(select(Run).where(col(Run.message_id) == message_id)).all())


def test_a_runner_claims_a_task_due_in_50_ms_but_not_one_due_in_500_ms(inbox: Inbox, clock: Clock) -> None:
    soon = inbox.schedule("due in 50 ms", at=_at(clock() + timedelta(milliseconds=50)))
    later = inbox.schedule("due in 500 ms", at=_at(clock() + timedelta(milliseconds=500)))
    assert _claim(inbox, ahead=timedelta(0)) == []  # without the window, as before: nothing is due
    assert _claim(inbox) == [soon.id]
    row = _row(inbox, soon.id)
    assert (row.status, row.lease_owner, row.tries) == ("running", OWNER, 0)
    clock.advance(seconds=0.45)
    assert _claim(inbox) == [later.id]


def test_a_reminder_the_host_delivers_is_not_claimed_early_by_a_runner(inbox: Inbox, clock: Clock) -> None:
    reminder = inbox.schedule("stretch", at=_at(clock() + timedelta(milliseconds=50)), remind=True)
    assert _claim(inbox) == []
    assert _row(inbox, reminder.id).status == "pending"
    clock.advance(seconds=0.05)
    assert _claim(inbox) == [reminder.id]  # due, a runner that is up may take it, as before


def test_nothing_written_in_the_window_lets_the_row_start(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("hourly", cron="0 * * * *")
    clock.set(_row(inbox, task.id).process_after - timedelta(milliseconds=60))
    assert _claim(inbox) == [task.id]
    clock.advance(seconds=0.06)
    assert _gate(inbox, task.id) is None
    assert _row(inbox, task.id).status == "running"


def test_a_pause_in_the_window_hands_the_row_back_paused_with_its_tries(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("hourly", cron="0 * * * *")
    due = _row(inbox, task.id).process_after
    clock.set(due - timedelta(milliseconds=60))
    assert _claim(inbox) == [task.id]
    inbox.pause(task.series_id)
    clock.advance(seconds=0.06)
    assert _gate(inbox, task.id) == "paused"
    row = _row(inbox, task.id)
    assert (row.status, row.tries, row.lease_owner, row.next_status) == ("paused", 0, None, None)
    assert row.process_after == due
    assert _runs(inbox, task.id) == []
    assert len(_series(inbox, task.series_id)) == 1  # no follow-up: the occurrence never ran
    inbox.resume(task.series_id)
    assert _claim(inbox) == [task.id]  # the same slot, first try


def test_a_cancel_in_the_window_ends_the_task_with_no_follow_up(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("hourly", cron="0 * * * *")
    clock.set(_row(inbox, task.id).process_after - timedelta(milliseconds=60))
    assert _claim(inbox) == [task.id]
    inbox.cancel(task.series_id)
    clock.advance(seconds=0.06)
    assert _gate(inbox, task.id) == "cancelled"
    assert [(r.status, r.tries) for r in _series(inbox, task.series_id)] == [("cancelled", 0)]
    assert _runs(inbox, task.id) == []
    assert inbox.get(task.series_id).status == "cancelled"
    clock.advance(hours=2)
    assert _claim(inbox) == []


def test_an_update_in_the_window_moves_the_row_to_its_new_time(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("once", at=_at(clock() + timedelta(milliseconds=50)))
    assert _claim(inbox) == [task.id]
    new_time = clock() + timedelta(hours=1)
    inbox.update(task.series_id, at=_at(new_time), prompt="once, later")
    clock.advance(seconds=0.05)
    assert _gate(inbox, task.id) == "updated"
    row = _row(inbox, task.id)
    assert (row.status, row.tries, row.text, row.process_after) == ("pending", 0, "once, later", new_time)
    assert "pending_update" not in row.content
    assert _claim(inbox) == []  # the new time holds
    clock.set(new_time)
    assert _claim(inbox) == [task.id]


def test_a_series_paused_in_the_window_pauses_its_extra_occurrence(inbox: Inbox, clock: Clock) -> None:
    """A run-now claimed early (here: moved 50 ms ahead, as a retry's backoff would) is paused with its series, as a
    pending one is; the series' own slot is not touched by the hand-back."""
    task = inbox.schedule("hourly", cron="0 * * * *")
    extra = inbox.run_now(task.series_id)
    with transaction(inbox.engine) as db:
        later = clock() + timedelta(milliseconds=50)
        db.exec(update(MessageIn).where(col(MessageIn.id) == extra.id).values(process_after=later))
    clock.advance(seconds=0.01)  # the series is written after the claim, not in the same instant
    assert _claim(inbox) == [extra.id]
    clock.advance(seconds=0.01)
    inbox.pause(task.series_id)
    clock.advance(seconds=0.03)
    assert _gate(inbox, extra.id) == "paused"
    row = _row(inbox, extra.id)
    assert (row.status, row.tries, row.lease_owner) == ("paused", 0, None)
    assert _runs(inbox, extra.id) == []
    inbox.resume(task.series_id)
    assert _row(inbox, extra.id).status == "pending"


def test_a_host_shutting_down_hands_the_row_back_pending(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("once", at=_at(clock() + timedelta(milliseconds=50)))
    assert _claim(inbox) == [task.id]
    with transaction(inbox.engine) as db:
        hand_back(db, task.id, owner=OWNER, attempt=1, now=clock())
    row = _row(inbox, task.id)
    assert (row.status, row.tries, row.lease_owner) == ("pending", 0, None)
    assert _runs(inbox, task.id) == []


def test_the_loop_passes_ahead_of_a_runner_row_and_on_time_for_a_reminder(inbox: Inbox, clock: Clock) -> None:
    start = clock()
    task = inbox.schedule("agent", at=_at(start + timedelta(seconds=10)))
    inbox.schedule("reminder", at=_at(start + timedelta(seconds=20)), remind=True)
    assert next_due(inbox.engine, after=start) == start + timedelta(seconds=10) - CLAIM_AHEAD
    # The pass ahead of the task rang for it: the next is the reminder's, not the task's own due time.
    ahead = start + timedelta(seconds=10) - CLAIM_AHEAD
    assert next_due(inbox.engine, after=ahead) == start + timedelta(seconds=20)
    assert _row(inbox, task.id).status == "pending"
