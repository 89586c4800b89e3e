"""Which sessions a pass wakes a runner for when limits are full, and what a claim across many open limits costs:
rows waiting on a full limit start no runner that would claim nothing, and priorities with aging still order the
work of every lane together."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from inbox import Inbox
from inbox.store import due
from inbox.store.waiting import LOOKED_AT
from sweeper.sweep import sweep_once
from tests.conftest import Clock
from tests.integration.helpers import claim, end


def _waiting(inbox: Inbox, clock: Clock) -> dict[str, int]:
    return sweep_once(inbox.engine, now=clock()).waiting_sessions


def test_a_session_whose_due_work_all_waits_on_a_full_limit_gets_no_runner(inbox: Inbox, clock: Clock) -> None:
    inbox.set_limit("scrape", max_running=1)
    for i in range(3):
        inbox.schedule(f"scrape {i}", in_="1m", tags=["scrape"], session="crawler")
    inbox.schedule("daily digest", in_="1m", session="main")
    clock.advance(minutes=2)
    assert _waiting(inbox, clock) == {"crawler": 3, "main": 1}
    running = claim(inbox, session="crawler", limit=1)
    assert [row.text for row in running] == ["scrape 0"]
    # Two more are due in crawler, but a runner started for them would claim nothing while scrape 0 runs.
    assert _waiting(inbox, clock) == {"main": 1}
    end(inbox, running[0].id)
    assert _waiting(inbox, clock) == {"crawler": 2, "main": 1}


def test_work_behind_a_long_backlog_held_by_a_full_limit_still_wakes_its_session(inbox: Inbox, clock: Clock) -> None:
    inbox.set_limit("scrape", max_running=1)
    inbox.send("busy", session="crawler")  # holds the limit below: chat rows carry no tags, so this one is free
    for i in range(LOOKED_AT + 5):
        inbox.schedule(f"scrape {i}", in_="1m", tags=["scrape"], session="crawler")
    clock.advance(minutes=2)
    assert [row.text for row in claim(inbox, session="crawler", limit=2)] == ["busy", "scrape 0"]
    assert _waiting(inbox, clock) == {}
    inbox.schedule("after the backlog", in_="1s", session="crawler")
    clock.advance(seconds=2)  # within the running rows' leases: scrape 0 still holds the limit
    assert _waiting(inbox, clock) == {"crawler": 1}


def test_a_full_rate_wakes_no_runner_until_its_window_moves_on(inbox: Inbox, clock: Clock) -> None:
    inbox.set_limit("mail", rate="1/10m")
    inbox.schedule("mail 0", in_="1m", tags=["mail"], session="post")
    inbox.schedule("mail 1", in_="1m", tags=["mail"], session="post")
    clock.advance(minutes=2)
    end(inbox, claim(inbox, session="post")[0].id)
    assert _waiting(inbox, clock) == {}
    clock.advance(minutes=10)
    assert _waiting(inbox, clock) == {"post": 1}


@pytest.mark.parametrize("arms", [due.MAX_ARMS, 1], ids=["one statement", "a statement per lane and priority"])
def test_aging_orders_the_rows_of_every_lane_together(
    inbox: Inbox, clock: Clock, arms: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of a limited lane and of no limit, weighed together, exactly at the 5-minute steps: a row that has
    waited 10 minutes stands two steps higher, one that has waited a second less than 5 minutes none. The same
    when the lanes and priorities take more than one statement (over ``MAX_ARMS`` of them)."""
    monkeypatch.setattr(due, "MAX_ARMS", arms)
    inbox.set_limit("net", max_running=5)
    inbox.schedule("A: net, priority 0, waits 15 minutes", in_="1m", tags=["net"])  # standing 0 + 3
    inbox.schedule("B: priority 1, waits 10 minutes", in_="6m", priority=1)  # 1 + 2: ties A, which is older
    inbox.schedule("C: net, priority 1, waits 5 minutes", in_="11m", tags=["net"], priority=1)  # 1 + 1
    clock.advance(seconds=1)
    inbox.schedule("D: priority 2, waits 4:59", in_="11m", priority=2)  # 2 + 0: ties C, which is older
    inbox.schedule("E: priority 1, waits 4:59", in_="11m", priority=1)  # 1 + 0
    clock.advance(minutes=15, seconds=59)
    assert [row.text[0] for row in claim(inbox, limit=10)] == ["A", "B", "C", "D", "E"]


def test_a_claim_across_ten_open_limits_costs_a_few_statements(inbox: Inbox, clock: Clock) -> None:
    """Ten limited tags with room and three priorities in each lane: the claim reads every lane and priority in
    a fixed number of statements, not one (or two) per lane and priority."""
    for index in range(10):
        inbox.set_limit(f"tag{index}", max_running=3)
        for priority in (-1, 0, 1):
            inbox.schedule(f"job {index}.{priority}", in_="1m", tags=[f"tag{index}"], priority=priority)
    clock.advance(minutes=2)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(inbox.engine, "before_cursor_execute", seen)
    try:
        claimed = claim(inbox, limit=10)
    finally:
        event.remove(inbox.engine, "before_cursor_execute", seen)
    assert len(claimed) == 10
    assert [row.text for row in claimed] == [f"job {index}.1" for index in range(10)]
    assert len(statements) <= 15, "\n".join(statements)
