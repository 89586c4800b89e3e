"""Opening the store: SQLite (embedded default) or PostgreSQL, upgraded to the current schema."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import UOWTransaction
from sqlmodel import Session

from inbox.store.migrate import upgrade_to_head
from inbox.store.pg_ping import ping_when_idle

SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL: a commit that wrote inbound messages notifies a channel, so sleeping sweepers look at once.
# Notifications reach every listener of the database, so the channel is named after the store's schema:
# two stores in one database (separate schemas) do not wake each other's sweepers.
WAKE_CHANNEL_PREFIX = "inbox_wake_"
_wake_channels: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    assert isinstance(dbapi_conn, sqlite3.Connection)
    # Let SQLAlchemy, not the driver, decide where transactions begin (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READ_ONLY = "inbox_read_only"  # execution option of read_transaction's connections


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        # A deferred BEGIN reads a WAL snapshot without the write lock: listings and token checks neither wait
        # for a writer nor make one wait.
        conn.exec_driver_sql("BEGIN")
        return
    # Take the write lock at the start: two processes cannot both read a row as due and then both end it.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def pg_no_jit(dbapi_conn: Any, _record: Any) -> None:
    """PostgreSQL compiles none of the store's queries with JIT. They read a few rows through an index and stop (a
    claim's lanes, a page), but the planner estimates them as if they read on (a ``LIMIT`` taken from a column, a
    page's early stop), and past ``jit_above_cost`` compiling one took a hundred times as long as running it
    (docs/benchmarks.md, "Claims" and "Dashboard")."""
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_conn.commit()


def open_engine(url: str, *, migrate: bool = True, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, echo=echo)
        event.listen(engine, "connect", pg_no_jit)
        ping_when_idle(engine)
    if migrate:
        upgrade_to_head(engine)
    return engine


def wake_channel(engine: Engine) -> str:
    """The PostgreSQL notification channel of this store (one per schema)."""
    channel = _wake_channels.get(engine)
    if channel is None:
        with engine.connect() as conn:
            schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
        channel = _wake_channels[engine] = (WAKE_CHANNEL_PREFIX + re.sub(r"\W", "_", schema.lower()))[:63]
    return channel


# Set in a transaction's ``info`` by whatever writes outbox rows to deliver: once it commits, the deliverers of this
# process that listen on the engine are rung, so a reply is sent at once rather than at their next look.
DELIVERABLE = "inbox_deliverable"
_deliverers: weakref.WeakKeyDictionary[Engine, list[Callable[[], None]]] = weakref.WeakKeyDictionary()


def on_deliverable(engine: Engine, ring: Callable[[], None]) -> Callable[[], None]:
    """Call ``ring`` after each commit on ``engine`` that wrote rows to deliver; returns what stops it."""
    _deliverers.setdefault(engine, []).append(ring)

    def stop() -> None:
        with contextlib.suppress(ValueError):
            _deliverers.get(engine, []).remove(ring)

    return stop


def ring_deliverers(engine: Engine) -> None:
    for ring in list(_deliverers.get(engine, ())):
        ring()


@event.listens_for(Session, "after_flush")
def _note_inbound_writes(session: Session, _flush: UOWTransaction) -> None:
    from inbox.store.models import MessageIn

    if any(isinstance(obj, MessageIn) for obj in (*session.new, *session.dirty)):
        session.info["wake"] = True


# The transaction a ``one_transaction`` block opened, per engine, for the store calls inside it to join.
_joined: ContextVar[dict[Engine, Session] | None] = ContextVar("inbox_joined_transactions", default=None)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back if it raises.

    Inside a ``one_transaction`` block on the same engine it is that block's transaction (nothing is committed
    when this block ends), so a check made there and the writes that depend on it stand or fall together.
    """
    joined = (_joined.get() or {}).get(engine)
    if joined is not None:
        yield joined
        return
    with Session(engine, expire_on_commit=False) as session:
        with session.begin():
            # Connect now, not at the first statement (SQLite: take the write lock now): a clock read in the block
            # then comes after any wait for another writer, so a claim's lease and a run's times are not stamped
            # before it.
            session.connection()
            yield session
            if engine.dialect.name == "postgresql":
                session.flush()
                if session.info.pop("wake", False):
                    channel = wake_channel(engine)
                    session.execute(text(f"NOTIFY {channel}"))  # delivered when this transaction commits
        if session.info.pop(DELIVERABLE, False):
            ring_deliverers(engine)  # committed: the rows are there to be claimed


@contextmanager
def one_transaction(engine: Engine) -> Iterator[Session]:
    """A transaction that every ``transaction`` (and ``plain_transaction``) opened in the block joins.

    For a check that must still hold when the API calls that act on it write: a runner's lease, checked and the
    row locked before an agent's tool is applied, cannot be taken back before the tool's writes commit.
    """
    with transaction(engine) as db:
        reset = _joined.set({**(_joined.get() or {}), engine: db})
        try:
            yield db
        finally:
            _joined.reset(reset)


def joined_transaction(engine: Engine) -> bool:
    """Whether a ``one_transaction`` block on ``engine`` is open: writes made now commit with it."""
    return engine in (_joined.get() or {})


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Session]:
    """A unit of work that only reads: one consistent snapshot, without SQLite's write lock.

    Never write in it: PostgreSQL refuses (READ ONLY); SQLite would have to take the write lock halfway through,
    which fails at once with "database is locked" when another writer holds it, instead of waiting its turn.

    Inside a ``one_transaction`` block it is that block's transaction, so a read sees the block's own writes."""
    joined = (_joined.get() or {}).get(engine)
    if joined is not None:
        yield joined
        return
    reader = engine.execution_options(**{READ_ONLY: True})
    with Session(reader, expire_on_commit=False) as session, session.begin():
        if engine.dialect.name == "postgresql":
            session.execute(text("SET TRANSACTION READ ONLY"))
        yield session


@contextmanager
def plain_transaction(engine: Engine) -> Iterator[Connection]:
    """One unit of work on a bare connection, for set-based writes that build no ORM objects: an ``Inbox.send``
    costs about a quarter less this way than through a Session. Set ``conn.info["wake"]`` after writing inbound
    messages, as ``transaction`` does on its own."""
    joined = (_joined.get() or {}).get(engine)
    if joined is not None:
        conn = joined.connection()
        yield conn
        if conn.info.pop("wake", False):
            joined.info["wake"] = True
        return
    with engine.begin() as conn:
        try:
            yield conn
            if engine.dialect.name == "postgresql" and conn.info.get("wake"):
                conn.execute(text(f"NOTIFY {wake_channel(engine)}"))
        finally:
            # The info dict lives as long as the pooled connection. One the server dropped is not asked: reading
            # its info would try to reconnect and raise in place of the error that says what happened.
            if not conn.invalidated:
                conn.info.pop("wake", None)
