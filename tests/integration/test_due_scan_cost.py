"""What a sweep pass costs stays flat as future work piles up: O(due rows), not O(table).

Counted in SQLite virtual-machine steps (its progress handler), not in seconds, so the check is exact and does not
depend on the machine. The timed figures are bench/due_scan.py's (docs/benchmarks.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from inbox import Inbox
from sweeper.sweep import sweep_once
from tests.conftest import Clock


def _steps_of_a_pass(inbox: Inbox, clock: Clock) -> int:
    counted = [0]

    def count() -> int:
        counted[0] += 1
        return 0  # go on

    def hook(dbapi_conn: Any, _record: Any) -> None:
        assert isinstance(dbapi_conn, sqlite3.Connection)
        dbapi_conn.set_progress_handler(count, 1)  # every step: SQLite counts per statement, so coarser undercounts

    event.listen(inbox.engine, "connect", hook)
    inbox.engine.dispose()  # pooled connections are opened again, with the handler
    try:
        sweep_once(inbox.engine, now=clock())
    finally:
        event.remove(inbox.engine, "connect", hook)
        inbox.engine.dispose()
    return counted[0]


@pytest.fixture
def inbox(tmp_path: Path, clock: Clock) -> Iterator[Inbox]:
    """SQLite only: the steps are SQLite's (PostgreSQL's plans are checked by bench/due_scan.py)."""
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    with Inbox(url, clock=clock, env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}) as opened:
        yield opened


def test_a_pass_costs_the_same_with_ten_times_the_future_rows(inbox: Inbox, clock: Clock) -> None:
    inbox.schedule("due now", in_="1m", remind=True)  # a pass that delivers something does every query
    inbox.send("for a runner")
    inbox.send_many([f"later {i}" for i in range(1_000)], in_="2h")
    clock.advance(minutes=2)
    small = _steps_of_a_pass(inbox, clock)

    inbox.schedule("due now again", in_="1m", remind=True)
    inbox.send_many([f"much later {i}" for i in range(9_000)], in_="3h")
    clock.advance(minutes=2)
    large = _steps_of_a_pass(inbox, clock)

    assert large < 1.5 * small, f"{small} steps with 1,000 future rows, {large} with 10,000"


def test_a_pass_costs_the_same_with_ten_times_the_due_work_waiting_for_runners(inbox: Inbox, clock: Clock) -> None:
    """Due rows a runner takes (a backlog, or work held by a full tag limit) are not the host's: its pass looks for
    due reminders, due http tasks and windows without reading them (migration 0021's indexes)."""
    inbox.schedule("due now", in_="1m", remind=True)
    inbox.schedule("ping", in_="1m", do="http", with_={"url": "http://127.0.0.1:9/ping"})
    inbox.send_many([f"waiting {i}" for i in range(1_000)])
    clock.advance(minutes=2)
    small = _steps_of_a_pass(inbox, clock)

    inbox.schedule("due now again", in_="1m", remind=True)
    inbox.send_many([f"waiting more {i}" for i in range(9_000)])
    clock.advance(minutes=2)
    large = _steps_of_a_pass(inbox, clock)

    assert large < 1.5 * small, f"{small} steps with 1,000 rows waiting for runners, {large} with 10,000"
