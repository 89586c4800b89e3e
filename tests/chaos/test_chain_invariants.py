"""The chain checks themselves: a clean history of a chain passes, and each kind of damage to its rounds is reported.

A head and the two tasks after it run through the store's own claim and ending functions (what a runner's report
does), then one thing is broken by hand, as a bug would break it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from inbox import Inbox
from inbox.enums import Outcome, Status, When
from inbox.store.claims import claim_due
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, Run
from inbox.store.trigger_tables import DependencyRound
from tests.chaos.chains import ChainPlan, ScheduledChain, check_chains, schedule_chain
from tests.chaos.invariants import DUPLICATE, LOSS, Snapshot, Violation
from tests.chaos.plan import Gate, Shape, TaskPlan, answer_for, schedule
from tests.conftest import Clock

OWNER = "host-1/p1"


def _chain(inbox: Inbox, clock: Clock, whens: tuple[When, When]) -> ScheduledChain:
    head = TaskPlan(
        tag="c000",
        shape=Shape.EVERY,
        session="main",
        create_at_s=0,
        gate=Gate.NONE,
        script=None,
        remind=False,
        retries=0,
        catch_up="once",
        context=None,
        interval_s=2,
        wanted_runs=3,
    )
    made = schedule(inbox, head, window_end=clock.now + timedelta(minutes=1))
    return schedule_chain(inbox, ChainPlan(head, whens), made.series_id)


def _run_all(inbox: Inbox, clock: Clock, chain: ScheduledChain, head_outcomes: list[Outcome]) -> None:
    """The head's slots, each ended with the outcome given; every round run and answered, as a runner would."""
    tags = {chain.head_id: chain.plan.head.tag, **{sid: chain.plan.tag(i) for i, sid in enumerate(chain.after_ids)}}
    for outcome in head_outcomes:
        clock.advance(seconds=2)
        while True:
            with transaction(inbox.engine) as db:
                claimed = claim_due(db, owner=OWNER, now=clock.now, session="main", limit=1)
                if not claimed:
                    break
                row = claimed[0]
                assert row.series_id is not None
                done = outcome if row.series_id == chain.head_id else Outcome.COMPLETED
                text = answer_for(tags[row.series_id]) if done == Outcome.COMPLETED else None
                report = RunReport(done, started_at=clock.now, model_output=text, runner=OWNER, error="boom")
                end_occurrence(db, row.id, report, now=clock.now)
            clock.advance(seconds=0.01)


def _violations(inbox: Inbox, clock: Clock, chain: ScheduledChain) -> list[Violation]:
    return check_chains(Snapshot.load(inbox.engine, settled_at=clock.now), [chain])


def _first_round(db: Session, chain: ScheduledChain, link: int = 0) -> DependencyRound:
    query = select(DependencyRound).where(DependencyRound.downstream_id == chain.after_ids[link])
    return db.exec(query.order_by(col(DependencyRound.round_no)).limit(1)).one()


def _round_row_lost(db: Session, chain: ScheduledChain) -> None:
    db.delete(db.get(MessageIn, _first_round(db, chain).message_id))


def _round_left_pending(db: Session, chain: ScheduledChain) -> None:
    row = db.get(MessageIn, _first_round(db, chain).message_id)
    assert row is not None
    row.status = Status.PENDING


def _round_doubled(db: Session, chain: ScheduledChain) -> None:
    first = _first_round(db, chain)
    db.add(DependencyRound(downstream_id=first.downstream_id, round_no=99, message_id="x", upstream=first.upstream))


def _round_dropped(db: Session, chain: ScheduledChain) -> None:
    db.delete(_first_round(db, chain))


def _ran_though_the_upstream_failed(db: Session, chain: ScheduledChain) -> None:
    run = db.exec(select(Run).where(Run.message_id == _first_round(db, chain).message_id)).one()
    run.outcome = Outcome.UPSTREAM_FAILED


@pytest.mark.parametrize(
    ("damage", "kind", "words"),
    [
        (_round_row_lost, LOSS, "a round with no occurrence"),
        (_round_left_pending, LOSS, "a round left pending, with no outcome"),
        (_round_doubled, DUPLICATE, "taken by 2 rounds"),
        (_round_dropped, LOSS, "but no round of"),
        (_ran_though_the_upstream_failed, "outcome", "but the round ended upstream_failed"),
    ],
)
def test_each_kind_of_damage_to_a_chain_is_reported(
    inbox: Inbox, clock: Clock, damage: Callable[[Session, ScheduledChain], None], kind: str, words: str
) -> None:
    chain = _chain(inbox, clock, (When.ALL_SUCCESS, When.ALL_DONE))
    _run_all(inbox, clock, chain, [Outcome.COMPLETED, Outcome.FAILED, Outcome.COMPLETED])
    assert _violations(inbox, clock, chain) == []
    with transaction(inbox.engine) as db:
        damage(db, chain)
    found = _violations(inbox, clock, chain)
    assert any(v.kind == kind and words in v.detail for v in found), found


def test_a_round_that_ran_after_a_failure_under_all_success_is_reported(inbox: Inbox, clock: Clock) -> None:
    chain = _chain(inbox, clock, (When.ALL_SUCCESS, When.ALL_SUCCESS))
    _run_all(inbox, clock, chain, [Outcome.FAILED])
    assert _violations(inbox, clock, chain) == []
    with transaction(inbox.engine) as db:
        run = db.exec(select(Run).where(Run.message_id == _first_round(db, chain).message_id)).one()
        run.outcome, run.model_output = Outcome.COMPLETED, answer_for(chain.plan.tag(0))
    found = _violations(inbox, clock, chain)
    assert any(v.kind == "outcome" and "ended completed" in v.detail for v in found), found
