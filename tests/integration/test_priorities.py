"""Priorities with aging: due rows of a higher priority are claimed first, and waiting raises a row a step per
5 minutes, so a flood of high-priority work never starves an old low-priority row (the test clock moves time)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event

from inbox import Inbox
from tests.conftest import Clock
from tests.integration.helpers import claim, end


def _prompts(inbox: Inbox, claimed: list[Any]) -> list[str]:
    return [row.text for row in claimed]


def test_higher_priority_first_then_the_oldest(inbox: Inbox, clock: Clock) -> None:
    inbox.schedule("low", in_="1m", priority=-5)
    inbox.schedule("normal", in_="1m")
    inbox.schedule("high", in_="1m", priority=5)
    inbox.schedule("normal later", in_="2m")
    clock.advance(minutes=3)
    assert _prompts(inbox, claim(inbox, limit=10)) == ["high", "normal", "normal later", "low"]


def test_a_row_rises_one_step_per_five_minutes_it_waits(inbox: Inbox, clock: Clock) -> None:
    inbox.schedule("priority 0, waited 10 minutes", in_="1m")  # standing 0 + 2
    clock.advance(minutes=6)
    inbox.schedule("priority 1, waited 4 minutes", in_="1m", priority=1)  # standing 1 + 0
    clock.advance(minutes=4)
    inbox.schedule("priority 1, fresh", in_="1m", priority=1)  # standing 1: a tie, the older goes first
    inbox.schedule("priority 3, fresh", in_="1m", priority=3)  # standing 3
    clock.advance(minutes=1, seconds=1)
    assert _prompts(inbox, claim(inbox, limit=10)) == [
        "priority 3, fresh",
        "priority 0, waited 10 minutes",
        "priority 1, waited 4 minutes",
        "priority 1, fresh",
    ]


def test_a_flood_of_high_priority_work_does_not_starve_an_old_low_priority_row(inbox: Inbox, clock: Clock) -> None:
    """Four priority-10 tasks arrive each minute and two run: the backlog grows for ever. The priority-0 row
    catches up with the flood's oldest row by half a minute each minute, and is claimed once it has waited 50
    minutes (ten steps) longer than it: about 100 minutes in. Without aging it would never run."""
    inbox.schedule("old and low", in_="1m")
    minutes = 0
    while minutes < 150:
        for index in range(4):
            inbox.schedule(f"urgent {minutes}.{index}", in_="30s", priority=10)
        clock.advance(minutes=1)
        minutes += 1
        claimed = claim(inbox, limit=2)
        for row in claimed:
            end(inbox, row.id)
        if "old and low" in _prompts(inbox, claimed):
            break
    assert 95 <= minutes <= 105, f"claimed after {minutes} minutes"
    waiting = [t for t in inbox.tasks() if t.prompt.startswith("urgent")]
    assert len(waiting) > 100  # the flood was still there: the row got its turn within it, not after it


def _steps(inbox: Inbox, clock: Clock) -> int:
    counted = [0]

    def count() -> int:
        counted[0] += 1
        return 0

    def hook(dbapi_conn: Any, _record: Any) -> None:
        assert isinstance(dbapi_conn, sqlite3.Connection)
        dbapi_conn.set_progress_handler(count, 1)

    event.listen(inbox.engine, "connect", hook)
    inbox.engine.dispose()
    try:
        claimed = claim(inbox, limit=5)
    finally:
        event.remove(inbox.engine, "connect", hook)
        inbox.engine.dispose()
    assert len(claimed) == 5
    return counted[0]


def _due_backlog(inbox: Inbox, clock: Clock, scale: int) -> None:
    """``scale`` x 1,000 more due rows: chat messages, and tasks of three priorities."""
    for priority in (-3, 0, 4):
        inbox.send_many([f"chat {scale}.{i}" for i in range(300 * scale)])
        for i in range(30 * scale):
            inbox.schedule(f"p{priority} {scale}.{i}", in_="1m", priority=priority)
    clock.advance(minutes=2)


def test_a_claim_costs_the_same_with_ten_times_the_due_rows(tmp_path: Path, clock: Clock) -> None:
    """Counted in SQLite's virtual-machine steps: a claim reads a few rows per priority in use, not the backlog."""
    with Inbox(f"sqlite:///{tmp_path / 'inbox.db'}", clock=clock, env={"INBOX_TZ": "UTC"}) as inbox:
        _due_backlog(inbox, clock, 1)
        small = _steps(inbox, clock)
        _due_backlog(inbox, clock, 9)
        large = _steps(inbox, clock)
    assert large < 1.5 * small, f"{small} steps with 1,000 due rows, {large} with 10,000"
