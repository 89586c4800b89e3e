"""PostgreSQL connections the server dropped while they sat in the pool: an idle one is pinged and replaced before
use, so a host or script that was quiet while the server restarted carries on without an error; one used a moment
ago goes out unpinged (the saved round trip is in docs/benchmarks.md), and if it was dropped, its one failure makes
the pool replace its connections. Both pools of a store behave so: the main one, and the one in autocommit for
single sends."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from inbox import Inbox
from inbox.store.autocommit import autocommit_engine
from inbox.store.pg_ping import IDLE_PING_S
from tests.conftest import pg_base_url, pg_store

pytestmark = pytest.mark.postgres


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _pool_pids(engine: Engine) -> list[int]:
    """The server process of every connection ``engine``'s pool holds (a write may take any of them)."""
    held = [engine.connect() for _ in range(max(1, engine.pool.checkedin()))]  # type: ignore[attr-defined]
    try:
        return [int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()) for conn in held]
    finally:
        for conn in held:
            conn.close()


def _drop(pid: int) -> None:
    """What a server restart does to one connection: the server ends it."""
    base = pg_base_url()
    assert base
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        admin.dispose()


def _stored(inbox: Inbox) -> int:
    with inbox.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM messages_in")).scalar_one())


# Each way of writing a message, with the pool whose connection it takes: a single send runs alone on the store's
# autocommit connections (inbox.store.autocommit), two messages at once are a transaction on its main pool.
WRITES: dict[str, tuple[Callable[[Inbox, str], object], Callable[[Engine], Engine], int]] = {
    "single send": (lambda inbox, text: inbox.send(text), autocommit_engine, 1),
    "batch": (lambda inbox, text: inbox.send_many([text, text]), lambda engine: engine, 2),
}


@pytest.mark.parametrize("way", WRITES)
def test_an_idle_connection_the_server_dropped_is_replaced_without_an_error(way: str) -> None:
    write, pool_of, rows = WRITES[way]
    with pg_store() as url:
        inbox = Inbox(url, env={"INBOX_TZ": "UTC"})
        try:
            write(inbox, "before")
            before = _backend_pid(pool_of(inbox.engine))
            _drop(before)
            time.sleep(IDLE_PING_S + 0.2)
            write(inbox, "after the restart")  # no error: the ping found the dead connection first
            assert _backend_pid(pool_of(inbox.engine)) != before
            assert _stored(inbox) == 2 * rows
        finally:
            inbox.close()


@pytest.mark.parametrize("way", WRITES)
def test_a_connection_dropped_right_after_use_fails_once_then_the_pool_reconnects(way: str) -> None:
    write, pool_of, rows = WRITES[way]
    with pg_store() as url:
        inbox = Inbox(url, env={"INBOX_TZ": "UTC"})
        try:
            write(inbox, "before")
            for pid in _pool_pids(pool_of(inbox.engine)):
                _drop(pid)
            with pytest.raises(OperationalError):  # used a moment ago: handed out unpinged
                write(inbox, "lost with the connection")
            write(inbox, "the next one")
            assert _stored(inbox) == 2 * rows
        finally:
            inbox.close()


def test_a_single_send_the_database_refuses_raises_its_error_and_writes_nothing() -> None:
    """The single send's error is SQLAlchemy's, as every other write's is (the CLI and the outage handling look
    for those), and the connection stays in use: a refusal is not a dropped connection."""
    with pg_store() as url:
        inbox = Inbox(url, env={"INBOX_TZ": "UTC"})
        try:
            inbox.send("first")
            pid = _backend_pid(autocommit_engine(inbox.engine))
            with inbox.engine.begin() as conn:
                conn.execute(
                    text("ALTER TABLE messages_in ADD CONSTRAINT no_spam CHECK (content::text NOT LIKE '%spam%')")
                )
            with pytest.raises(IntegrityError, match="no_spam"):
                inbox.send("spam")
            inbox.send("second")
            assert _stored(inbox) == 2
            assert _backend_pid(autocommit_engine(inbox.engine)) == pid
        finally:
            inbox.close()


def test_the_single_send_connections_close_with_the_store() -> None:
    with pg_store() as url:
        inbox = Inbox(url, env={"INBOX_TZ": "UTC"})
        inbox.send("one")
        pid = _backend_pid(autocommit_engine(inbox.engine))
        inbox.close()
        base = pg_base_url()
        assert base
        admin = create_engine(base)
        try:
            deadline = time.monotonic() + 10
            alive = True
            while alive and time.monotonic() < deadline:
                with admin.connect() as conn:
                    query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
                    alive = bool(conn.execute(query, {"pid": pid}).scalar_one())
                time.sleep(0.05)
            assert not alive, "the store was closed but its single-send connection is still open"
        finally:
            admin.dispose()
