"""Writes that meet on one series at the same moment (two hosts, a runner's report, a person), on every backend.

Both cases were found by the chaos suite on PostgreSQL:
- a run-now occurrence and the scheduled one of the same series, both due, were claimed by two runners at once,
  each transaction checking "no row of this series is running" before the other had committed;
- ``inbox cancel`` issued while the occurrence was being ended failed with "has already ended (pending)": its
  locking read waited for the ending row, found it no longer live, and could not see the follow-up written by
  the same commit.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from inbox import Inbox
from inbox.enums import Outcome, Status
from inbox.store.claims import claim_due
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.types import utcnow
from tests.conftest import Clock
from tests.integration.helpers import claim, live, wait_until_blocked_by

WAIT_S = 10.0
LEASE = timedelta(seconds=60)


def test_two_claims_at_once_never_start_two_occurrences_of_one_series(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("slow job", every="1m")
    clock.advance(minutes=1)
    extra = inbox.run_now(task.id)  # now two rows of the series are due: the scheduled one and the run-now
    second_claim: list[str] = []

    def other_runner() -> None:
        with transaction(inbox.engine) as db:
            second_claim.extend(row.id for row in claim_due(db, owner="runner-2", now=clock.now, limit=10))

    with transaction(inbox.engine) as db:
        first_claim = [row.id for row in claim_due(db, owner="runner-1", now=clock.now, limit=1)]
        other = threading.Thread(target=other_runner)
        other.start()
        other.join(timeout=2.0)  # PostgreSQL answers at once; SQLite waits for this transaction's write lock
    other.join(timeout=WAIT_S)
    assert not other.is_alive()

    with transaction(inbox.engine) as db:
        rows = db.exec(select(MessageIn).where(MessageIn.series_id == task.series_id)).all()
    running = sorted(row.id for row in rows if row.status == Status.RUNNING)
    assert len(first_claim) == 1 and first_claim[0] in {task.id, extra.id}
    assert second_claim == []
    assert running == first_claim


@pytest.mark.parametrize("operation", ["cancel", "pause", "update"])
def test_an_operation_during_the_ending_of_an_occurrence_applies_to_its_follow_up(
    inbox: Inbox, clock: Clock, operation: str
) -> None:
    task = inbox.schedule("tick", every="1m")
    clock.advance(minutes=1)
    [running] = claim(inbox)
    errors: list[Exception] = []

    def person() -> None:
        try:
            if operation == "cancel":
                inbox.cancel(task.series_id)
            elif operation == "pause":
                inbox.pause(task.series_id)
            else:
                inbox.update(task.series_id, prompt="tock")
        except Exception as exc:
            errors.append(exc)

    other = threading.Thread(target=person)
    with transaction(inbox.engine) as db:  # the runner's report: the ending and the follow-up, in one commit
        end_occurrence(db, running.id, RunReport(Outcome.COMPLETED, started_at=clock.now), now=clock.now)
        other.start()
        wait_until_blocked_by(inbox, db)
    other.join(timeout=WAIT_S)
    assert not other.is_alive()
    assert errors == []
    follow_up = live(inbox, task.series_id)
    if operation == "cancel":
        assert follow_up == [] and inbox.get(task.series_id).status == "cancelled"
    elif operation == "pause":
        assert [row.status for row in follow_up] == ["paused"]
    else:
        assert [row.text for row in follow_up] == ["tock"]


def test_a_claim_that_waited_for_the_write_lock_is_stamped_after_the_ending_it_waited_for(
    inbox: Inbox, clock: Clock, backend: str
) -> None:
    """Found by the chaos suite on SQLite: a runner's claim read the clock before waiting for the write lock, so the
    follow-up it took seemed to start before the occurrence it followed had ended, on a lease already shortened by
    the wait."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL claims skip locked rows instead of waiting for them")
    clock.set(utcnow())  # this test's transactions read the real clock, as the host's do
    task = inbox.schedule("tick", every="1s")
    while utcnow() < task.next_runs[0]:
        time.sleep(0.01)
    with transaction(inbox.engine) as db:
        [first] = claim_due(db, owner="runner-1", now=utcnow())
    waiting, claimed = threading.Event(), []

    def other_runner() -> None:
        waiting.set()
        with transaction(inbox.engine) as db:
            claimed.extend(claim_due(db, owner="runner-2", now=utcnow(), lease=LEASE))

    other = threading.Thread(target=other_runner)
    with transaction(inbox.engine) as db:  # the first runner's report holds the write lock while it ends
        db.connection()
        ended = end_occurrence(db, first.id, RunReport(Outcome.COMPLETED, started_at=utcnow()), now=utcnow())
        other.start()
        waiting.wait(WAIT_S)
        assert ended.follow_up is not None
        while utcnow() <= ended.follow_up.process_after + timedelta(milliseconds=200):
            time.sleep(0.01)  # the follow-up comes due while the other runner waits for the lock
        released = utcnow()
    other.join(timeout=WAIT_S)
    assert [row.id for row in claimed] == [ended.follow_up.id]
    assert claimed[0].updated_at >= released  # its run starts after the ending it waited for
    assert claimed[0].lease_expires_at is not None and claimed[0].lease_expires_at >= released + LEASE


def test_a_claim_read_before_another_hosts_ending_is_stamped_after_that_ending(inbox: Inbox, clock: Clock) -> None:
    """Found by the chaos suite's long run on PostgreSQL: a runner's claim read the clock, another host's ending
    then committed the follow-up, and the claim, whose query came after that commit, took the follow-up with the
    earlier time: its run seemed to start 15 ms before the occurrence it follows had ended."""
    clock.set(utcnow() - timedelta(seconds=30))  # a backlog: every slot of the series is already due
    inbox.schedule("tick", every="1s", catch_up="all")
    with transaction(inbox.engine) as db:
        [first] = claim_due(db, owner="runner-1", now=utcnow())
    read_before = utcnow()  # the other runner's handler reads the clock, then is held up
    with transaction(inbox.engine) as db:
        ended = end_occurrence(db, first.id, RunReport(Outcome.COMPLETED, started_at=utcnow()), now=utcnow())
    assert ended.run is not None and ended.follow_up is not None
    with transaction(inbox.engine) as db:
        claimed = claim_due(db, owner="runner-2", now=read_before, clock=utcnow, lease=LEASE)
    assert [row.id for row in claimed] == [ended.follow_up.id]
    assert claimed[0].updated_at >= ended.run.ended_at
    assert claimed[0].lease_expires_at is not None and claimed[0].lease_expires_at >= ended.run.ended_at + LEASE
