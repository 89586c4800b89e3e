"""Every row of every table, read in one snapshot, and written into a store at the schema revision they came from.

This is what a ``json`` backup holds and how any backup reaches a store of the other backend: the tables are
taken as the database has them (reflected), not as today's models say, so a backup made at an older revision is
written into tables created at that same revision and then upgraded like any old store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, select, text
from sqlalchemy.sql import sqltypes

from inbox.backup.revisions import VERSION_TABLE
from inbox.store.engine import READ_ONLY
from inbox.store.migrate import upgrade_to, upgrade_to_head

BATCH = 500


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One consistent read of the whole store, taking no write lock: SQLite reads one WAL snapshot (a deferred
    transaction); PostgreSQL one REPEATABLE READ transaction, so every table is read as of the same moment."""
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION READ ONLY"))
        yield conn


def store_tables(conn: Connection) -> list[Table]:
    """The store's tables as the database has them, the version table left out, by name."""
    meta = MetaData()
    meta.reflect(bind=conn)
    return [table for name, table in sorted(meta.tables.items()) if name != VERSION_TABLE]


def stored_revision(conn: Connection) -> str | None:
    from sqlalchemy import inspect

    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    found = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return str(found[0]) if len(found) == 1 else None


def rows_of(conn: Connection, table: Table) -> Iterator[dict[str, Any]]:
    query = select(table).order_by(*table.primary_key.columns)
    for row in conn.execute(query).mappings():
        yield dict(row)


def row_counts(conn: Connection) -> dict[str, int]:
    from sqlalchemy import func

    return {
        table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        for table in store_tables(conn)
    }


def as_json(value: Any) -> Any:
    """A column's value as JSON can hold it: instants as ISO 8601 text (naive: the store keeps UTC)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def problem(column_type: Any, value: Any) -> str | None:
    """Why ``value`` cannot go into a column of ``column_type``, or None when it can."""
    if value is None or isinstance(column_type, sqltypes.JSON):
        return None
    if isinstance(column_type, sqltypes.DateTime):
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value)
                return None
            except ValueError:
                pass
        return f"{value!r} is not an ISO 8601 time"
    if isinstance(column_type, sqltypes.Boolean):
        return None if isinstance(value, bool) else f"{value!r} is not true or false"
    if isinstance(column_type, sqltypes.Integer):
        return None if isinstance(value, int) and not isinstance(value, bool) else f"{value!r} is not a whole number"
    if isinstance(column_type, sqltypes.Float | sqltypes.Numeric):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return None if number and math.isfinite(value) else f"{value!r} is not a number"
    if isinstance(column_type, sqltypes.String):
        return None if isinstance(value, str) else f"{value!r} is not text"
    return None


def _stored(column_type: Any, value: Any) -> Any:
    if isinstance(value, str) and isinstance(column_type, sqltypes.DateTime):
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    return value


def drop_store_tables(engine: Engine, *, keep: frozenset[str] = frozenset()) -> None:
    """Every table of the store but those in ``keep``, the version table with them (PostgreSQL: in the store's
    own schema only)."""
    with engine.begin() as conn:
        meta = MetaData()
        meta.reflect(bind=conn)
        meta.drop_all(bind=conn, tables=[table for name, table in meta.tables.items() if name not in keep])


def load(engine: Engine, revision: str, rows: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, int]:
    """Make the store's tables as they were at ``revision``, write ``rows`` (grouped by table) into them, and
    upgrade the store to this release's schema. The store must hold no tables (see :func:`drop_store_tables`)."""
    upgrade_to(engine, revision)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        tables = {table.name: table for table in store_tables(conn)}
        batch: list[dict[str, Any]] = []
        current: Table | None = None
        for name, row in rows:
            table = tables[name]
            if table is not current or len(batch) >= BATCH:
                _insert(conn, current, batch)
                batch, current = [], table
            batch.append({key: _stored(table.c[key].type, value) for key, value in row.items()})
            counts[name] = counts.get(name, 0) + 1
        _insert(conn, current, batch)
    upgrade_to_head(engine)
    return counts


def _insert(conn: Connection, table: Table | None, batch: list[dict[str, Any]]) -> None:
    if table is not None and batch:
        conn.execute(table.insert(), batch)
