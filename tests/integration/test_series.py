"""Series semantics on every backend: follow-ups, one live row, pause/resume/cancel/update/run-now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from inbox import Conflict, Inbox, InvalidInput, NotFound
from inbox.enums import Outcome
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from tests.conftest import Clock
from tests.integration.helpers import claim, end, fail, live, rows, run_due, runs

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_ending_writes_the_next_occurrence_from_the_previous_slot(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("tick", every="10m")
    clock.set(task.next_runs[0] + timedelta(seconds=42))  # the run starts late ...
    [row] = claim(inbox)
    clock.advance(minutes=3)  # ... and takes a while
    ending = end(inbox, row.id)
    assert ending.follow_up is not None
    # the follow-up keeps the grid: slot + 10 min, not "now + 10 min"
    assert ending.follow_up.occurrence_at == task.next_runs[1]
    assert [r.status for r in rows(inbox, task.series_id)] == ["completed", "pending"]
    assert [r.outcome for r in runs(inbox, task.series_id)] == ["completed"]


def test_a_one_shot_ends_after_its_run(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("call mum", in_="1h", remind=True)
    clock.advance(hours=1, seconds=1)
    run_due(inbox)
    assert live(inbox, task.series_id) == []
    assert inbox.get(task.id).status == "ended"
    assert inbox.tasks(status="ended")[0].last_outcome == "completed"


def test_max_runs_ends_the_series(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("tick", every="1m", max_runs=3)
    for _ in range(5):
        clock.advance(minutes=1)
        run_due(inbox)
    assert len(runs(inbox, task.series_id)) == 3
    assert inbox.get(task.id).status == "ended"


def test_ending_twice_writes_one_ending_and_one_follow_up(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("tick", every="1m")
    clock.advance(minutes=1)
    [row] = claim(inbox)
    first, second = end(inbox, row.id), end(inbox, row.id)
    assert first.follow_up is not None and second.already_ended and second.follow_up is None
    assert len(live(inbox, task.series_id)) == 1
    assert len(runs(inbox, task.series_id)) == 1


def test_the_database_refuses_a_second_live_row(inbox: Inbox) -> None:
    task = inbox.schedule("tick", every="1m")
    with pytest.raises(IntegrityError), transaction(inbox.engine) as db:
        head = db.get(MessageIn, task.id)
        assert head is not None and head.occurrence_at is not None
        db.add(
            MessageIn(
                series_id=task.series_id,
                process_after=head.process_after + timedelta(minutes=1),
                occurrence_at=head.occurrence_at + timedelta(minutes=1),
                status="pending",
            )
        )
    assert len(live(inbox, task.series_id)) == 1


def test_the_database_refuses_a_second_row_for_one_slot(inbox: Inbox) -> None:
    task = inbox.schedule("tick", every="1m")
    with pytest.raises(IntegrityError), transaction(inbox.engine) as db:
        head = db.get(MessageIn, task.id)
        assert head is not None
        db.add(
            MessageIn(
                series_id=task.series_id,
                process_after=head.process_after,
                occurrence_at=head.occurrence_at,
                status="completed",
            )
        )


def test_two_occurrences_of_one_series_never_run_together(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("slow job", every="1m")
    clock.advance(minutes=1)
    [first] = claim(inbox)
    extra = inbox.run_now(task.id)
    assert claim(inbox) == []  # the run-now waits while the scheduled occurrence runs
    end(inbox, first.id)
    assert [r.id for r in claim(inbox)] == [extra.id]


@pytest.mark.parametrize("by", ["series id", "occurrence id", "prefix", "name"])
def test_operations_accept_any_id_of_the_series(inbox: Inbox, clock: Clock, by: str) -> None:
    task = inbox.schedule("tick", every="1m", name="ticker")
    inbox.schedule("other", every="1m", name="other")
    clock.advance(minutes=1)
    run_due(inbox)
    later = live(inbox, task.series_id)[0].id
    ident = {"series id": task.series_id, "occurrence id": later, "prefix": later[:12], "name": "ticker"}[by]
    assert inbox.pause(ident).status == "paused"
    assert inbox.resume(ident).status == "active"
    assert inbox.get(ident).series_id == task.series_id
    assert inbox.cancel(ident).status == "cancelled"


def test_pause_resume_cancel_a_waiting_series(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("tick", every="1m")
    inbox.pause(task.id)
    clock.advance(minutes=5)
    assert claim(inbox) == []
    assert [t.series_id for t in inbox.tasks(status="paused")] == [task.series_id]
    inbox.resume(task.id)
    assert len(claim(inbox)) == 1


def test_pausing_while_running_makes_the_follow_up_paused(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("tick", every="1m")
    clock.advance(minutes=1)
    [row] = claim(inbox)
    inbox.pause(task.id)
    ending = end(inbox, row.id)
    assert ending.row.status == "completed"  # the running occurrence finished and was recorded
    assert ending.follow_up is not None and ending.follow_up.status == "paused"
    clock.advance(minutes=10)
    assert claim(inbox) == []


def test_cancelling_while_running_writes_no_follow_up(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("tick", every="1m")
    clock.advance(minutes=1)
    [row] = claim(inbox)
    inbox.cancel(task.id)
    ending = end(inbox, row.id)
    assert ending.follow_up is None and ending.row.status == "completed"
    assert live(inbox, task.series_id) == []
    assert inbox.get(task.id).status == "cancelled"
    assert inbox.cancel(task.id).status == "cancelled"  # twice is fine
    with pytest.raises(Conflict):
        inbox.resume(task.id)


def test_cancel_also_drops_a_queued_run_now(inbox: Inbox) -> None:
    task = inbox.schedule("tick", every="1h")
    inbox.run_now(task.id)
    inbox.cancel(task.id)
    assert claim(inbox) == []


def test_update_recomputes_the_live_row_at_once_and_leaves_history(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("tick", every="1m")
    clock.advance(minutes=1)
    run_due(inbox)
    before = rows(inbox, task.series_id)
    updated = inbox.update(task.id, cron="0 9 * * *", tz="Europe/Paris", prompt="tock")
    assert updated.recurrence == "cron 0 9 * * *" and updated.timezone == "Europe/Paris"
    assert updated.next_run == datetime(2026, 6, 2, 7, 0, tzinfo=UTC)  # 09:00 CEST
    after = rows(inbox, task.series_id)
    assert after[0].model_dump(warnings=False) == before[0].model_dump(warnings=False)  # the completed row is untouched
    assert after[-1].text == "tock"


def test_update_while_running_applies_to_the_follow_up(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("old prompt", every="1m")
    clock.advance(minutes=1)
    [row] = claim(inbox)
    inbox.update(task.id, prompt="new prompt", every="1h")
    ending = end(inbox, row.id)
    assert ending.row.text == "old prompt"  # what actually ran stays in history
    assert ending.follow_up is not None and ending.follow_up.text == "new prompt"
    assert ending.follow_up.recurrence == "every 1h"
    assert ending.follow_up.occurrence_at == clock.now.replace(microsecond=0) + timedelta(hours=1)


def test_update_without_changes_is_rejected(inbox: Inbox) -> None:
    task = inbox.schedule("tick", every="1m")
    with pytest.raises(InvalidInput) as caught:
        inbox.update(task.id)
    assert caught.value.field == "update"


def test_run_now_adds_an_occurrence_without_moving_the_schedule(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("report", cron="0 9 * * *", tz="UTC")
    extra = inbox.run_now(task.id)
    [row] = claim(inbox)
    assert row.id == extra.id
    ending = end(inbox, row.id)
    assert ending.follow_up is None  # an extra occurrence does not carry the series
    assert inbox.get(task.id).next_run == task.next_runs[0]
    assert len(live(inbox, task.series_id)) == 1


def test_transient_failures_retry_with_backoff_then_fail(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("ask the model", every="1h", retries=2)
    clock.advance(hours=1)
    waits = []
    for _ in range(3):
        [row] = claim(inbox)
        outcome = fail(inbox, row.id)
        if isinstance(outcome, MessageIn):
            waits.append(outcome.process_after - clock.now)
            clock.set(outcome.process_after)
    assert waits == [timedelta(seconds=30), timedelta(seconds=60)]
    history = runs(inbox, task.series_id)
    assert [(r.attempt, r.outcome) for r in history] == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert [r.status for r in rows(inbox, task.series_id)] == ["failed", "pending"]  # the series goes on


def test_ten_failed_occurrences_in_a_row_pause_the_series_and_tell_the_session(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("flaky", every="1m", retries=0)
    for _ in range(10):
        clock.advance(minutes=1)
        run_due(inbox, Outcome.FAILED)
    view = inbox.get(task.id)
    assert view.status == "paused" and view.reason is not None and "10 consecutive" in view.reason
    # One when the failures began, the alert after three in a row (docs/delivery.md), one when they paused it
    first, alert, paused = inbox.outbox()
    assert first.kind == alert.kind == paused.kind == "system"
    assert all(task.series_id in item.text for item in (first, alert, paused))
    assert "failed" in first.text and "3 times in a row" in alert.text and "paused" in paused.text


def test_a_success_resets_the_failure_count(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("flaky", every="1m", retries=0)
    for minute in range(15):
        clock.advance(minutes=1)
        run_due(inbox, Outcome.COMPLETED if minute == 8 else Outcome.FAILED)
    assert inbox.get(task.id).status == "active"


def _end_due(inbox: Inbox, outcome: Outcome, *, outage: bool) -> None:
    for row in claim(inbox, limit=1000):
        report = RunReport(outcome=outcome, started_at=inbox.clock(), error="HTTP 503", outage=outage)
        with transaction(inbox.engine) as db:
            end_occurrence(db, row.id, report, now=inbox.clock())


def test_failures_while_the_provider_is_down_neither_pause_the_series_nor_end_a_streak(
    inbox: Inbox, clock: Clock
) -> None:
    task = inbox.schedule("digest", every="1m", retries=1)
    for _ in range(15):  # a provider outage: more than the ten failures that pause a series
        clock.advance(minutes=1)
        _end_due(inbox, Outcome.FAILED, outage=True)
    assert inbox.get(task.id).status == "active"
    [notice] = inbox.outbox()  # told once, when the failures began, not at each occurrence
    assert notice.kind == "system" and "HTTP 503" in notice.text
    for minute in range(12):  # the task's own failures still count, across an outage between them
        clock.advance(minutes=1)
        _end_due(inbox, Outcome.FAILED, outage=minute in (4, 5))
    view = inbox.get(task.id)
    assert view.status == "paused" and view.reason is not None and "10 consecutive" in view.reason


def test_unknown_ids_and_plain_messages(inbox: Inbox) -> None:
    with pytest.raises(NotFound):
        inbox.pause("01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    inbox.schedule("a", every="1h", name="twin")
    inbox.schedule("b", every="1h", name="twin")
    with pytest.raises(InvalidInput, match="several tasks"):
        inbox.get("twin")
    message = inbox.send("hello")
    with pytest.raises(InvalidInput) as caught:
        inbox.pause(message.id)
    assert caught.value.field == "id"


def test_tasks_lists_one_row_per_series(inbox: Inbox, clock: Clock) -> None:
    a = inbox.schedule("a", every="1m", name="alpha")
    b = inbox.schedule("b", every="1h", session="work")
    for _ in range(3):
        clock.advance(minutes=1)
        run_due(inbox)
    listed = inbox.tasks()
    assert [t.series_id for t in listed] == [a.series_id, b.series_id]  # soonest next run first
    assert listed[0].runs == 3 and listed[0].last_outcome == "completed" and listed[0].name == "alpha"
    assert [t.series_id for t in inbox.tasks(session="work")] == [b.series_id]
