"""Claimers racing on PostgreSQL, where two transactions really run at once (SQLite serializes every claim).

Each test holds one claim's transaction open while a second claimer looks, the widest window a race can have.
(Two rows of one series claimed at once: tests/integration/test_concurrent_writes.py, on both backends.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from inbox import Inbox
from inbox.store.claims import claim_due
from inbox.store.engine import transaction
from sweeper.sweep import sweep_once
from tests.conftest import Clock, pg_store

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_inbox(clock: Clock, home: Path) -> Iterator[Inbox]:
    with pg_store() as url, Inbox(url, clock=clock, env={"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}) as opened:
        yield opened


def _claim(session: Session, inbox: Inbox, owner: str, limit: int = 10) -> list[str]:
    return [row.id for row in claim_due(session, owner=owner, now=inbox.clock(), limit=limit)]


def test_two_claimers_share_a_backlog_without_taking_a_row_twice(pg_inbox: Inbox, clock: Clock) -> None:
    inbox = pg_inbox
    made = {inbox.send(f"message {i}", session="main").id for i in range(8)}
    clock.advance(seconds=1)
    first = Session(inbox.engine, expire_on_commit=False)
    first.begin()
    try:
        mine = {row.id for row in claim_due(first, owner="host-a/p1", now=clock(), limit=5)}
        with transaction(inbox.engine) as second:
            theirs = {row.id for row in claim_due(second, owner="host-b/p1", now=clock(), limit=10)}
        first.commit()
    finally:
        first.close()
    assert len(mine) == 5 and len(theirs) == 3
    assert mine | theirs == made


def test_reminders_another_sweeper_is_delivering_do_not_call_for_a_runner(pg_inbox: Inbox, clock: Clock) -> None:
    inbox = pg_inbox
    made = [inbox.schedule(f"once {i}", in_="1m", remind=True) for i in range(3)]
    clock.advance(minutes=2)
    with inbox.engine.connect() as other_sweeper:  # holds the rows as a sweeper does mid-batch
        other_sweeper.execute(text("SELECT id FROM messages_in FOR UPDATE"))

        report = sweep_once(inbox.engine, now=clock())

        other_sweeper.rollback()
    assert report.delivered == 0  # skipped, not waited for: the other sweeper delivers them
    assert report.waiting_sessions == {}
    assert sweep_once(inbox.engine, now=clock()).delivered == len(made)


def test_no_query_of_the_store_is_compiled_with_jit(pg_inbox: Inbox) -> None:
    """A claim's lane read stops after a few rows per lane, but the planner's estimate reads on: past
    ``jit_above_cost`` (as soon as the table had statistics) compiling it took 100 times as long as running it."""
    with pg_inbox.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW jit").scalar() == "off"
