"""Opening the store: SQLite (embedded default) or PostgreSQL, upgraded to the current schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import UOWTransaction
from sqlmodel import Session

from inbox.store.migrate import upgrade_to_head

SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL: a commit that wrote inbound messages notifies this channel, so sleeping sweepers look at once.
WAKE_CHANNEL = "inbox_wake"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    assert isinstance(dbapi_conn, sqlite3.Connection)
    # Let SQLAlchemy, not the driver, decide where transactions begin (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at the start: two processes cannot both read a row as due and then both end it.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def open_engine(url: str, *, migrate: bool = True, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=True)
    if migrate:
        upgrade_to_head(engine)
    return engine


@event.listens_for(Session, "after_flush")
def _note_inbound_writes(session: Session, _flush: UOWTransaction) -> None:
    from inbox.store.models import MessageIn

    if any(isinstance(obj, MessageIn) for obj in (*session.new, *session.dirty)):
        session.info["wake"] = True


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back if it raises."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        # Connect now, not at the first statement (SQLite: take the write lock now): a clock read in the block then
        # comes after any wait for another writer, so a claim's lease and a run's times are not stamped before it.
        session.connection()
        yield session
        if engine.dialect.name == "postgresql":
            session.flush()
            if session.info.pop("wake", False):
                session.execute(text(f"NOTIFY {WAKE_CHANNEL}"))  # delivered when this transaction commits
