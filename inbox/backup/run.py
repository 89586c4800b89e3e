"""Making a backup and restoring one: which format, in which order things are checked, and what is written.

Restoring checks the file first, then the store (it refuses one that holds anything unless forced), and only
then writes. A SQLite store is replaced in one transaction of its own; a PostgreSQL store's tables are dropped
and made again in its schema (from a pg_dump: in one transaction). Either way the store is then upgraded to this
release's schema, as opening any older store does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine

from inbox.atomic import replacing
from inbox.backup import json_lines, pg_dump, rows, sqlite_file
from inbox.backup.formats import BackupFormat, detect
from inbox.enums import AuditAction
from inbox.errors import Conflict, InvalidInput
from inbox.store import audit
from inbox.store.engine import open_engine, transaction
from inbox.store.types import utcnow

BOOKKEEPING = frozenset({"chores"})  # tables a store fills by itself: they do not make it "hold something"


@dataclass(frozen=True)
class Outcome:
    format: BackupFormat
    revision: str | None
    rows: dict[str, int]


def choose(engine: Engine, asked: BackupFormat | None) -> BackupFormat:
    on_sqlite = engine.dialect.name == "sqlite"
    if asked is None:
        if on_sqlite:
            return BackupFormat.SQLITE
        return BackupFormat.PG_DUMP if pg_dump.available() else BackupFormat.JSON
    if asked is BackupFormat.SQLITE and not on_sqlite:
        raise InvalidInput("--format", "sqlite copies a SQLite store; this store is PostgreSQL: use pg_dump or json")
    if asked is BackupFormat.PG_DUMP and on_sqlite:
        raise InvalidInput("--format", "pg_dump copies a PostgreSQL store; this store is SQLite: use sqlite or json")
    return asked


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise InvalidInput("INBOX_DATABASE_URL", "an in-memory store has nothing to back up or restore into")
    return Path(database).expanduser()


def backup(engine: Engine, path: Path, fmt: BackupFormat, *, now: datetime) -> Outcome:
    """Write a backup of the store to ``path`` (replaced whole once complete; never half written)."""
    with replacing(path) as part:
        if fmt is BackupFormat.SQLITE:
            sqlite_file.copy(_sqlite_path(engine), part)
        elif fmt is BackupFormat.PG_DUMP:
            pg_dump.dump(engine, part)
        else:
            json_lines.write(engine, part, now=now)
    with rows.snapshot(engine) as conn:
        return Outcome(fmt, rows.stored_revision(conn), rows.row_counts(conn))


def holdings(engine: Engine) -> dict[str, int]:
    """The store's tables that hold rows, with their counts (bookkeeping tables left out)."""
    with rows.snapshot(engine) as conn:
        counts = rows.row_counts(conn)
    return {name: count for name, count in counts.items() if count and name not in BOOKKEEPING}


def check(engine: Engine, path: Path) -> tuple[BackupFormat, str]:
    """The backup's format and schema revision, once the file proved sound for this store."""
    fmt = detect(path)
    if fmt is BackupFormat.SQLITE:
        return fmt, sqlite_file.check(path)
    if fmt is BackupFormat.JSON:
        return fmt, json_lines.check(path)[0]
    if engine.dialect.name != "postgresql":
        raise InvalidInput("FILE", "a pg_dump restores into a PostgreSQL store only; use a json backup for SQLite")
    schema, revision = pg_dump.check(path)
    if schema != pg_dump.schema_of(engine):
        raise InvalidInput(
            "FILE",
            f"the dump holds schema {schema!r} and this store uses {pg_dump.schema_of(engine)!r}: restore it "
            "where its schema is the store's, or make a json backup to move between schemas",
        )
    return fmt, revision


def restore(url: str, path: Path, *, force: bool, actor: str) -> Outcome:
    """Replace the store at ``url`` with the backup ``path``; the restored store's trail then ends with a
    ``store.restore`` record by ``actor`` naming the file (what the backup held of the trail is kept before it)."""
    engine = open_engine(url, migrate=False)
    try:
        fmt, revision = check(engine, path)
        held = holdings(engine)
        if held and not force:
            listed = ", ".join(f"{name} {count}" for name, count in sorted(held.items()))
            raise Conflict(f"the store is not empty ({listed} rows); restoring replaces all of it: add --force")
        if engine.dialect.name == "sqlite":
            engine.dispose()
            _restore_sqlite(_sqlite_path(engine), path, fmt, revision)
        else:
            _restore_postgres(engine, path, fmt, revision)
    finally:
        engine.dispose()
    upgraded = open_engine(url)
    try:
        with rows.snapshot(upgraded) as conn:
            restored = Outcome(fmt, revision, rows.row_counts(conn))  # what the backup held, before the record
        with transaction(upgraded) as db:
            done = {"file": str(path), "format": fmt.value, "revision": revision}
            audit.record(
                db, actor=actor, action=AuditAction.STORE_RESTORE, subject=audit.STORE, now=utcnow(), after=done
            )
        return restored
    finally:
        upgraded.dispose()


def _restore_sqlite(store: Path, path: Path, fmt: BackupFormat, revision: str) -> None:
    if fmt is BackupFormat.SQLITE:
        sqlite_file.replace_store(path, store)
        return
    store.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=store.parent) as folder:
        built = Path(folder) / "store.db"
        build = open_engine(f"sqlite:///{built}", migrate=False)
        try:
            rows.load(build, revision, json_lines.rows(path))
        finally:
            build.dispose()
        sqlite_file.replace_store(built, store)


def _restore_postgres(engine: Engine, path: Path, fmt: BackupFormat, revision: str) -> None:
    if fmt is BackupFormat.PG_DUMP:
        pg_dump.restore(engine, path)
        return
    rows.drop_store_tables(engine)
    if fmt is BackupFormat.JSON:
        rows.load(engine, revision, json_lines.rows(path))
    else:
        rows.load(engine, revision, _sqlite_rows(path))


def _sqlite_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    source = create_engine(f"sqlite:///{path}")
    try:
        with source.connect() as conn:
            for table in rows.store_tables(conn):
                for row in rows.rows_of(conn, table):
                    yield table.name, row
    finally:
        source.dispose()
