"""PostgreSQL connections the server dropped while they sat in the pool: an idle one is pinged and replaced before
use, so a host or script that was quiet while the server restarted carries on without an error; one used a moment
ago goes out unpinged (the saved round trip is in docs/benchmarks.md), and if it was dropped, its one failure makes
the pool replace every older connection."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from inbox import Inbox
from inbox.store.pg_ping import IDLE_PING_S
from tests.conftest import pg_base_url, pg_store

pytestmark = pytest.mark.postgres


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


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


def test_an_idle_connection_the_server_dropped_is_replaced_without_an_error() -> None:
    with pg_store() as url:
        inbox = Inbox(url, env={"INBOX_TZ": "UTC"})
        try:
            inbox.send("before")
            before = _backend_pid(inbox.engine)
            _drop(before)
            time.sleep(IDLE_PING_S + 0.2)
            inbox.send("after the restart")  # no error: the ping found the dead connection first
            assert _backend_pid(inbox.engine) != before
            assert _stored(inbox) == 2
        finally:
            inbox.close()


def test_a_connection_dropped_right_after_use_fails_once_then_the_pool_reconnects() -> None:
    with pg_store() as url:
        inbox = Inbox(url, env={"INBOX_TZ": "UTC"})
        try:
            _drop(_backend_pid(inbox.engine))
            with pytest.raises(OperationalError):  # used a moment ago: handed out unpinged
                inbox.send("lost with the connection")
            inbox.send("the next one")
            assert _stored(inbox) == 1
        finally:
            inbox.close()
