"""The chaos checks themselves: a clean history passes, and each kind of damage to a real store is reported.

Runs are played through the store's own claim and ending functions (what a runner's report does), then one
thing is broken by hand, as a bug would break it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from inbox import Inbox
from inbox.enums import OutboxKind, Outcome, Status
from inbox.store.claims import claim_due
from inbox.store.endings import RunReport, end_occurrence, post_outbox
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, Run
from tests.chaos.invariants import DUPLICATE, LOSS, Snapshot, Violation, check_all
from tests.chaos.plan import Gate, ScheduledTask, Shape, TaskPlan, answer_for, schedule
from tests.conftest import Clock

OWNER = "host-1/p1"


def _plan(tag: str, *, wanted_runs: int | None) -> TaskPlan:
    return TaskPlan(
        tag=tag,
        shape=Shape.EVERY,
        session="main",
        create_at_s=0,
        gate=Gate.NONE,
        script=None,
        remind=False,
        retries=3,
        catch_up="once",
        context=None,
        interval_s=2,
        wanted_runs=wanted_runs,
    )


def _run_due(inbox: Inbox, clock: Clock, task: ScheduledTask, count: int) -> None:
    """``count`` slots of ``task`` run and answered, as a runner reporting through the host would."""
    for _ in range(count):
        clock.advance(seconds=2)
        with transaction(inbox.engine) as db:
            (row,) = claim_due(db, owner=OWNER, now=clock.now, session="main", limit=1)
            text = answer_for(task.plan.tag)
            post_outbox(db, session="main", kind=OutboxKind.REPLY, text=text, now=clock.now, in_reply_to=row.id)
            report = RunReport(Outcome.COMPLETED, started_at=clock.now, model_output=text, runner=OWNER)
            end_occurrence(db, row.id, report, now=clock.now + timedelta(milliseconds=10))


def _row(db: Session, task: ScheduledTask, number: int) -> MessageIn:
    query = select(MessageIn).where(MessageIn.series_id == task.series_id, MessageIn.occurrence_no == number)
    return db.exec(query).one()


def _second_completed_run(db: Session, task: ScheduledTask) -> None:
    first = db.exec(select(Run).where(Run.message_id == _row(db, task, 1).id)).one()
    copied = {name: getattr(first, name) for name in Run.model_fields if name != "id"}
    db.add(Run(**copied))


def _left_running(db: Session, task: ScheduledTask) -> None:
    live = _row(db, task, 3)
    live.status, live.lease_owner = Status.RUNNING, OWNER


def _live_row_lost(db: Session, task: ScheduledTask) -> None:
    db.delete(_row(db, task, 3))


def _wrong_answer(db: Session, task: ScheduledTask) -> None:
    run = db.exec(select(Run).where(Run.message_id == _row(db, task, 2).id)).one()
    run.model_output = "an answer meant for another task"


def _delivered_twice(db: Session, task: ScheduledTask) -> None:
    row = _row(db, task, 1)
    post_outbox(db, session="main", kind=OutboxKind.REPLY, text="again", now=row.updated_at, in_reply_to=row.id)


def _notice_for_a_success(db: Session, task: ScheduledTask) -> None:
    row = _row(db, task, 1)
    post_outbox(db, session="main", kind=OutboxKind.SYSTEM, text="failed", now=row.updated_at, in_reply_to=row.id)


def _overlapping_runs(db: Session, task: ScheduledTask) -> None:
    first = db.exec(select(Run).where(Run.message_id == _row(db, task, 1).id)).one()
    second = db.exec(select(Run).where(Run.message_id == _row(db, task, 2).id)).one()
    second.started_at = first.ended_at - timedelta(milliseconds=5)


def _ended_without_a_run(db: Session, task: ScheduledTask) -> None:
    row = _row(db, task, 2)
    for run in db.exec(select(Run).where(Run.message_id == row.id)).all():
        db.delete(run)


Damage = Callable[[Session, ScheduledTask], None]


@pytest.mark.parametrize(
    ("damage", "kind", "words"),
    [
        (_second_completed_run, DUPLICATE, "completed 2 times"),
        (_left_running, LOSS, "left running"),
        (_live_row_lost, LOSS, "0 live rows"),
        (_wrong_answer, "outcome", "another task"),
        (_delivered_twice, DUPLICATE, "delivered 2 times"),
        (_notice_for_a_success, "outbox", "a failure notice for an occurrence that did not fail"),
        (_ended_without_a_run, LOSS, "no run recorded"),
        (_overlapping_runs, "overlap", "before the run of"),
    ],
)
def test_each_kind_of_damage_is_reported(inbox: Inbox, clock: Clock, damage: Damage, kind: str, words: str) -> None:
    task = schedule(inbox, _plan("t0001", wanted_runs=None), window_end=clock.now + timedelta(minutes=1))
    _run_due(inbox, clock, task, 2)
    assert _violations(inbox, clock, [task]) == []
    with transaction(inbox.engine) as db:
        damage(db, task)
    found = _violations(inbox, clock, [task])
    assert any(v.kind == kind and words in v.detail for v in found), found


def test_a_series_that_stopped_short_of_its_max_runs_is_a_loss(inbox: Inbox, clock: Clock) -> None:
    task = schedule(inbox, _plan("t0002", wanted_runs=3), window_end=clock.now + timedelta(minutes=1))
    _run_due(inbox, clock, task, 3)
    assert _violations(inbox, clock, [task]) == []
    with transaction(inbox.engine) as db:
        db.delete(_row(db, task, 3))
    found = _violations(inbox, clock, [task])
    assert any(v.kind == LOSS and v.detail == "2 of 3 occurrences and no live row" for v in found), found


def _violations(inbox: Inbox, clock: Clock, tasks: list[ScheduledTask]) -> list[Violation]:
    return check_all(Snapshot.load(inbox.engine, settled_at=clock.now), tasks)
