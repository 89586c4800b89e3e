"""Retention on every backend: old history goes; live rows and the first and newest row of a series stay."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

import sweeper.retention
from inbox import Inbox, InvalidInput, drop_files
from inbox.config import load_settings
from inbox.enums import OutboxKind
from inbox.store.endings import post_outbox
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.trigger_tables import DropIngested, Event, EventMatch
from sweeper.retention import RetentionPolicy, RetentionReport, apply_retention, retention_due
from tests.conftest import Clock
from tests.integration.helpers import claim, end, run_due, runs

POLICY = RetentionPolicy()  # 90 days of runs and ended rows, 30 days of outbox


def retain(inbox: Inbox, policy: RetentionPolicy = POLICY, batch: int = 5000) -> RetentionReport:
    return apply_retention(inbox.engine, now=inbox.clock(), policy=policy, batch=batch)


def post(inbox: Inbox, text: str) -> None:
    with transaction(inbox.engine) as db:
        post_outbox(db, session="main", kind=OutboxKind.REPLY, text=text, now=inbox.clock())


def outbox_texts(inbox: Inbox) -> list[str]:
    return [item.text for item in inbox.outbox(limit=10_000)]


def message(inbox: Inbox, message_id: str) -> MessageIn | None:
    with transaction(inbox.engine) as db:
        return db.get(MessageIn, message_id)


def series_rows(inbox: Inbox, series_id: str) -> list[MessageIn]:
    """Every row of a series, run-now and missed records included, oldest first."""
    with transaction(inbox.engine) as db:
        return list(db.exec(select(MessageIn).where(MessageIn.series_id == series_id).order_by(col(MessageIn.id))))


def test_old_runs_go_and_recent_runs_stay_while_the_series_keeps_running(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("water the plants", every="10d", remind=True)
    for _ in range(15):  # 150 days of runs, one every 10 days
        clock.advance(days=10)
        run_due(inbox)
    before = runs(inbox, task.series_id)
    cutoff = clock() - POLICY.keep_runs

    report = retain(inbox)

    after = runs(inbox, task.series_id)
    assert [r.id for r in after] == [r.id for r in before if r.ended_at >= cutoff]
    assert 0 < report.runs == len(before) - len(after)
    # the past occurrences went with their runs, except the first, which carries the series id
    assert report.messages == len([r for r in before if r.ended_at < cutoff]) - 1
    assert series_rows(inbox, task.series_id)[0].id == task.series_id
    assert series_rows(inbox, task.series_id)[-1].status == "pending"
    assert inbox.get(task.series_id).status == "active"
    assert [t.series_id for t in inbox.tasks()] == [task.series_id]
    assert inbox.tasks()[0].runs == len(after)


def test_old_outbox_goes_and_recent_outbox_stays(inbox: Inbox, clock: Clock) -> None:
    post(inbox, "old")
    clock.advance(days=20)
    post(inbox, "middle")
    clock.advance(days=20)
    post(inbox, "recent")
    clock.advance(days=15)  # "old" is 55 days old, "middle" 35, "recent" 15

    assert retain(inbox) == RetentionReport(outbox=2)
    assert outbox_texts(inbox) == ["recent"]


def test_live_rows_are_never_deleted_however_old(inbox: Inbox, clock: Clock) -> None:
    running = inbox.schedule("long job", every="1d")
    clock.advance(days=1)
    [claimed] = claim(inbox)
    assert claimed.id == running.id
    paused = inbox.schedule("weekly review", every="7d")
    inbox.pause(paused.series_id)
    waiting = inbox.send("hello")  # due at once, but no runner ever answers it
    clock.advance(days=400)

    report = retain(inbox)

    assert report.messages == 0
    assert message(inbox, waiting.id) is not None
    assert inbox.get(paused.series_id).status == "paused"
    assert inbox.get(running.series_id).status == "running"
    assert {t.series_id for t in inbox.tasks(status="all")} == {paused.series_id, running.series_id}


def test_a_series_that_ended_long_ago_still_shows_as_ended(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("stretch", every="1d", max_runs=4, remind=True, name="stretch")
    for _ in range(4):
        clock.advance(days=1)
        run_due(inbox)
    assert inbox.get(task.series_id).status == "ended"
    first, *_, newest = series_rows(inbox, task.series_id)
    clock.advance(days=200)

    report = retain(inbox)

    assert report == RetentionReport(runs=4, messages=2)
    assert [r.id for r in series_rows(inbox, task.series_id)] == [first.id, newest.id]
    [ended] = inbox.tasks(status="ended")
    assert (ended.series_id, ended.id, ended.runs, ended.status) == (task.series_id, newest.id, 0, "ended")
    assert inbox.get(task.series_id).id == newest.id  # found by its id, which is the first row's ...
    assert inbox.get("stretch").id == newest.id  # ... and by its name


def test_a_newer_run_now_record_does_not_take_the_place_of_the_series_row(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("backup", every="1d", remind=True)
    clock.advance(days=1)
    run_due(inbox)  # one ended chain row and a pending follow-up
    extra = inbox.run_now(task.series_id)
    inbox.cancel(task.series_id)  # the follow-up and the run-now record end cancelled; the record is newest
    first, follow_up, newest = series_rows(inbox, task.series_id)
    assert newest.id == extra.id and newest.is_extra
    clock.advance(days=200)

    assert retain(inbox).messages == 1

    assert [r.id for r in series_rows(inbox, task.series_id)] == [first.id, follow_up.id]
    assert inbox.get(task.series_id).status == "cancelled"
    assert [t.series_id for t in inbox.tasks(status="ended")] == [task.series_id]


def test_old_answered_messages_go_and_recent_ones_stay(inbox: Inbox, clock: Clock) -> None:
    old = inbox.send("old question")
    [row] = claim(inbox)
    end(inbox, row.id)
    clock.advance(days=80)
    recent = inbox.send("recent question")
    [row] = claim(inbox)
    end(inbox, row.id)
    clock.advance(days=20)

    assert retain(inbox).messages == 1
    assert message(inbox, old.id) is None
    assert message(inbox, recent.id) is not None


def test_batches_of_two_delete_everything_old_each_in_its_own_transaction(
    inbox: Inbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(7):
        post(inbox, f"note {n}")
    task = inbox.schedule("tick", every="1d", remind=True)
    for _ in range(5):
        clock.advance(days=1)
        run_due(inbox)
    clock.advance(days=200)
    opened = 0

    def counting(engine: Engine) -> AbstractContextManager[Session]:
        nonlocal opened
        opened += 1
        return transaction(engine)

    monkeypatch.setattr(sweeper.retention, "transaction", counting)

    report = retain(inbox, batch=2)

    assert report == RetentionReport(runs=5, outbox=7, messages=4)  # the first row carries the series id
    # 2 + 2 + 1 runs; 2 + 2 + 2 + 1 notes; 2 + 2 ended rows, then one finding none; no event matches, no events,
    # no old rounds; the audit trail (the task's creation) is younger than its year; no drop folder keys
    assert opened == 3 + 4 + 3 + 1 + 1 + 1 + 1 + 1
    assert outbox_texts(inbox) == [] and runs(inbox, task.series_id) == []
    assert [r.status for r in series_rows(inbox, task.series_id)] == ["completed", "pending"]  # first, live


def test_running_it_again_deletes_nothing_more(inbox: Inbox, clock: Clock) -> None:
    post(inbox, "note")
    task = inbox.schedule("tick", every="1d", max_runs=3, remind=True)
    for _ in range(3):
        clock.advance(days=1)
        run_due(inbox)
    clock.advance(days=100)
    assert retain(inbox) == RetentionReport(runs=3, outbox=1, messages=1)
    left = [r.id for r in series_rows(inbox, task.series_id)]

    assert retain(inbox) == RetentionReport()
    assert [r.id for r in series_rows(inbox, task.series_id)] == left
    assert inbox.tasks(status="ended")[0].series_id == task.series_id


def test_it_is_due_exactly_when_it_would_delete_something(inbox: Inbox, clock: Clock) -> None:
    """The host asks first (a read) and writes only when this says so: an idle store is never written to."""

    def due() -> bool:
        return retention_due(inbox.engine, now=clock(), policy=POLICY)

    assert not due()  # an empty store
    task = inbox.schedule("tick", every="1d", max_runs=2, remind=True)
    for _ in range(2):
        clock.advance(days=1)
        run_due(inbox)
    post(inbox, "note")
    assert not due()  # recent history only
    clock.advance(days=31)
    assert due()  # the note is past the outbox's horizon
    retain(inbox)
    assert not due()
    clock.advance(days=60)
    assert due()  # the runs and the first occurrence's sibling rows are past theirs
    retain(inbox)
    assert not due()  # what is left is kept for good: the series' first and newest rows
    assert series_rows(inbox, task.series_id)[0].id == task.series_id


def test_two_hosts_at_once_share_the_work_without_errors(
    inbox: Inbox, store_url: str, clock: Clock, home: Path
) -> None:
    with transaction(inbox.engine) as db:
        for n in range(40):
            post_outbox(db, session="main", kind=OutboxKind.REPLY, text=f"note {n}", now=clock())
    clock.advance(days=31)
    reports: list[RetentionReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def host() -> None:
        try:
            with Inbox(store_url, clock=clock, env={"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}) as other:
                start.wait()
                reports.append(retain(other, batch=3))
        except BaseException as error:  # reported below, in the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=host) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.outbox for r in reports) == 40
    assert outbox_texts(inbox) == []


@pytest.fixture
def env_home(home: Path) -> dict[str, str]:
    return {"INBOX_HOME": str(home)}


def test_the_horizons_come_from_the_environment(inbox: Inbox, clock: Clock, env_home: dict[str, str]) -> None:
    settings = load_settings({**env_home, "INBOX_KEEP_RUNS_DAYS": "7", "INBOX_KEEP_OUTBOX_DAYS": "1.5"})
    policy = RetentionPolicy(keep_runs=settings.keep_runs, keep_outbox=settings.keep_outbox)
    assert policy == RetentionPolicy(keep_runs=timedelta(days=7), keep_outbox=timedelta(days=1.5))
    defaults = load_settings(env_home)
    assert (defaults.keep_runs, defaults.keep_outbox) == (timedelta(days=90), timedelta(days=30))
    post(inbox, "two days old")
    clock.advance(days=2)
    post(inbox, "new")
    assert retain(inbox, policy) == RetentionReport(outbox=1)
    assert outbox_texts(inbox) == ["new"]


@pytest.mark.parametrize("variable", ["INBOX_KEEP_RUNS_DAYS", "INBOX_KEEP_OUTBOX_DAYS"])
@pytest.mark.parametrize("value", ["abc", "0", "-3"])
def test_a_bad_horizon_is_refused_naming_the_variable(env_home: dict[str, str], variable: str, value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        load_settings({**env_home, variable: value})
    assert refused.value.field == variable
    assert variable in str(refused.value)


def test_old_events_go_with_what_they_did_and_newer_ones_stay(inbox: Inbox, clock: Clock) -> None:
    inbox.schedule("listen", on=["tick"])
    inbox.emit("tick", key="old")
    clock.advance(days=91)
    kept = inbox.emit("tick")
    assert retain(inbox).events == 1
    with transaction(inbox.engine) as db:
        assert db.exec(select(Event.id)).all() == [kept.id]
        assert db.exec(select(func.count()).select_from(EventMatch)).one() == 1
    assert not inbox.emit("tick", key="old").duplicate  # its key went with it


def test_the_drop_folders_old_keys_go_and_newer_ones_stay(inbox: Inbox, clock: Clock, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    drop_files.prepare(root)
    (root / "old.txt").write_text("dropped long ago")
    assert [fate for _, fate in drop_files.consume(inbox, root, settle_s=0)] == ["written"]
    clock.advance(days=91)
    (root / "new.txt").write_text("dropped today")
    drop_files.consume(inbox, root, settle_s=0)
    assert retention_due(inbox.engine, now=clock(), policy=POLICY)
    assert retain(inbox).drops == 1
    with transaction(inbox.engine) as db:
        assert db.exec(select(DropIngested.path)).all() == ["new.txt"]
    assert not retention_due(inbox.engine, now=clock(), policy=POLICY)
