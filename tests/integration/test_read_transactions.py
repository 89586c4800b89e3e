"""SQLite: reading (listings, show, runs, the outbox, a token check) never waits for another writer's lock.

Each write takes SQLite's write lock at BEGIN; a read that did the same would queue behind every sweep, claim
and ending, and time out behind a long one. Here a second, real SQLite connection holds the write lock (BEGIN
IMMEDIATE) while the reads run; each must finish long before the store's 30 s busy timeout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Timeout
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from inbox import Inbox
from sweeper.http.app import HostState, make_app
from tests.integration.unix_server import serving_on_loopback

PATIENCE_S = 5.0


@contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    other = sqlite3.connect(database, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def finishes(read: Callable[[], Any], database: Path) -> Any:
    with ThreadPoolExecutor(1) as pool, write_lock_held(database):
        pending = pool.submit(read)
        try:
            return pending.result(timeout=PATIENCE_S)
        except Timeout:
            pytest.fail(f"a read waited over {PATIENCE_S:g} s for another connection's write lock")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Inbox, Path]]:
    database = tmp_path / "inbox.db"
    with Inbox(f"sqlite:///{database}", env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}) as inbox:
        yield inbox, database


def test_listings_show_runs_and_outbox_read_while_another_connection_writes(store: tuple[Inbox, Path]) -> None:
    inbox, database = store
    made = inbox.schedule("Water the plants", every="1d", name="plants")
    sent = inbox.send("hello")
    assert [t.series_id for t in finishes(lambda: inbox.tasks(status="all"), database)] == [made.series_id]
    assert finishes(lambda: inbox.get("plants"), database).series_id == made.series_id
    assert finishes(lambda: inbox.runs("plants"), database) == []
    assert finishes(lambda: inbox.message(sent.id), database).status == "pending"
    assert finishes(lambda: inbox.outbox(), database) == []
    assert finishes(inbox.tokens, database) == []


def test_a_token_check_reads_while_another_connection_writes(store: tuple[Inbox, Path]) -> None:
    inbox, database = store
    token = inbox.create_token("laptop").token
    app = make_app(HostState(inbox=inbox), runner_routes=False)
    with serving_on_loopback(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        auth = {"Authorization": f"Bearer {token}"}
        assert http.get("/v1/tasks", headers=auth).status_code == 200  # its use is noted (a write, once a minute)
        assert finishes(lambda: http.get("/v1/tasks", headers=auth), database).status_code == 200
        stranger = {"Authorization": "Bearer not-a-token"}
        assert finishes(lambda: http.get("/v1/tasks", headers=stranger), database).status_code == 401
