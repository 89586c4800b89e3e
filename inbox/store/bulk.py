"""Inbound messages inserted set-based: many rows in one statement (``Inbox.send`` and ``send_many``).

Due reminders are ended set-based too, in inbox.store.reminders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, String, Table, bindparam, func, insert, literal_column, select
from sqlalchemy.types import TypeEngine
from sqlmodel import Session

from inbox.enums import Kind, Status
from inbox.ids import new_id
from inbox.store.autocommit import execute_alone
from inbox.store.engine import joined_transaction, plain_transaction, wake_channel
from inbox.store.models import MessageIn
from inbox.store.types import UTCDateTime


@cache
def column_defaults() -> dict[str, Any]:
    """Every column's default as the model gives it (building a model object costs more than the insert)."""
    row = MessageIn(process_after=datetime.fromtimestamp(0, UTC))
    return {column.name: getattr(row, column.name) for column in MessageIn.__table__.columns}  # type: ignore[attr-defined]


def driver_instant(db: Session, instant: datetime) -> Any:
    """``instant`` as the database driver takes it for an instant column (what SQLAlchemy would bind)."""
    return driver_instants(db)(instant)


def driver_instants(db: Session) -> Callable[[datetime], Any]:
    """:func:`driver_instant` for many instants: the conversion is looked up once."""
    dialect = db.get_bind().dialect
    convert = _bind_processor(dialect, UTCDateTime())
    return convert if convert is not None else lambda instant: instant


def _bind_processor(dialect: Dialect, column_type: TypeEngine[Any]) -> Any:
    """What SQLAlchemy applies to a value of ``column_type`` before the driver gets it (None: nothing)."""
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def insert_driver_rows(
    db: Session | Connection, table: Table, keys: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples of the columns named by ``keys``, in that order) whose values the driver takes as
    they are: text, numbers, None, and instants from :func:`driver_instant`.

    The statement is compiled once and the rows go straight to the driver's executemany. Binding through
    SQLAlchemy processes every value of every row, which for reminder batches (the run and the outbox row of
    each reminder) cost more than SQLite's own work.
    """
    if not rows:
        return
    conn = db.connection() if isinstance(db, Session) else db
    sql, order = _compiled_insert(conn.dialect, table, keys)
    params: list[Any]
    if order is None:  # a driver that binds by name (psycopg)
        params = [dict(zip(keys, row, strict=True)) for row in rows]
    elif order == keys:
        params = list(rows)
    else:
        at = [keys.index(key) for key in order]
        params = [tuple(row[i] for i in at) for row in rows]
    conn.exec_driver_sql(sql, params)


def insert_dicts(db: Session | Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys in the same order) in one executemany, each value converted as
    SQLAlchemy would bind it for its column (instants, JSON) but without its per-value machinery."""
    if not rows:
        return
    conn = db.connection() if isinstance(db, Session) else db
    insert_driver_rows(conn, table, tuple(rows[0]), driver_values(conn.dialect, table, rows))


def driver_values(dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each row's values (dicts with the same keys in the same order), in that order, as the driver takes them:
    converted by each column's own bind processor, looked up once (most columns need none)."""
    keys = tuple(rows[0])
    cache_key = (dialect.name, dialect.driver, table.name, keys)
    convert = _converters.get(cache_key)
    if convert is None:
        convert = _converters[cache_key] = [_bind_processor(dialect, table.c[key].type) for key in keys]
    return [tuple(v if c is None else c(v) for c, v in zip(convert, row.values(), strict=True)) for row in rows]


_converters: dict[tuple[str, str, str, tuple[str, ...]], list[Any]] = {}
_compiled: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[str, ...] | None]] = {}


def _compiled_insert(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> tuple[str, tuple[str, ...] | None]:
    """The INSERT's SQL text, and the order of its parameters for a positional driver (None: by name)."""
    cache_key = (dialect.name, table.name, keys)
    if cache_key not in _compiled:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        _compiled[cache_key] = (compiled.string, order)
    return _compiled[cache_key]


def message_rows(
    texts: Sequence[str], *, session: str, kind: Kind, process_after: datetime, now: datetime, created_by: str
) -> list[dict[str, Any]]:
    """The rows of new inbound messages, one per text.

    Every column gets the value the model's own defaults would give (taken once from a template row), so a
    message written from these rows is indistinguishable from one written through the ORM.
    """
    return [
        {
            **column_defaults(),
            "id": new_id(),
            "session": session,
            "kind": kind.value,
            "status": Status.PENDING.value,
            "content": {"text": text},
            "process_after": process_after,
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        }
        for text in texts
    ]


def write_messages(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (from one :func:`message_rows` call: the same keys in the same order) all or nothing, and
    wake the sweepers (see inbox.store.engine).

    On PostgreSQL a single message is one statement in its own transaction that also sends the wake-up: one round
    trip, where ``BEGIN``, ``INSERT``, ``NOTIFY``, ``COMMIT`` took four. A lone ``Inbox.send`` (a webhook, a
    script) is bound by that round trip and the Python work around it, so the statement is SQL text compiled
    once, its values converted as a batch's are, it returns no rows to read back, and it runs on a connection
    already in autocommit (inbox.store.autocommit).
    """
    if not rows:
        return
    table: Table = MessageIn.__table__  # type: ignore[attr-defined]
    if engine.dialect.name == "postgresql" and len(rows) == 1 and not joined_transaction(engine):
        keys = tuple(rows[0])
        params = dict(zip(keys, driver_values(engine.dialect, table, rows)[0], strict=True))
        params[_CHANNEL] = wake_channel(engine)
        execute_alone(engine, _insert_and_wake(engine.dialect, keys), params)
        return
    with plain_transaction(engine) as conn:
        insert_dicts(conn, table, rows)
        conn.info["wake"] = True


_CHANNEL = "wake_channel"  # the parameter naming the notification channel (no column has this name)
_one_message: dict[tuple[str, tuple[str, ...]], str] = {}


def _insert_and_wake(dialect: Dialect, keys: tuple[str, ...]) -> str:
    """``INSERT INTO messages_in (…) SELECT … FROM pg_notify(…)`` as SQL text, its parameters named by column: the
    notification goes out when the statement's transaction commits, and is dropped with it if the insert fails."""
    cache_key = (dialect.driver, keys)
    if cache_key not in _one_message:
        table: Table = MessageIn.__table__  # type: ignore[attr-defined]
        values = select(*(bindparam(key, type_=table.c[key].type) for key in keys))
        notify = values.select_from(func.pg_notify(bindparam(_CHANNEL, type_=String()), literal_column("''")))
        _one_message[cache_key] = insert(table).from_select(list(keys), notify).compile(dialect=dialect).string
    return _one_message[cache_key]
