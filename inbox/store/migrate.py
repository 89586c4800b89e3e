"""Schema migrations (Alembic), applied when the store is opened so an old database upgrades in place.

Opening a store that is already at the newest revision, the common case, does not import Alembic: importing it
(with Mako and Pygments behind it) costs every command and host about 11 MB of memory for as long as it runs.
The newest revision is then read from the migration files' source and the database's from its
``alembic_version`` table; whenever either is not plain (a file it cannot read, several heads, no version table),
Alembic itself decides and upgrades.
"""

from __future__ import annotations

import ast
import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, inspect, select, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _one_migrator(engine: Engine) -> Iterator[None]:
    """Hosts started together on one new or old store take turns: the first upgrades, the rest find it done.

    PostgreSQL: an advisory lock. SQLite: a lock on a file beside the database (``inbox.db.migrate-lock``), held
    across the whole upgrade. Its write lock does not serve: Alembic commits after each migration on SQLite (its
    DDL is not transactional there), so a second host could take the lock between two migrations, read the
    revision the first had reached, and both would then run the next ("table events already exists").
    """
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            yield  # one connection's own database: nobody else opens it
            return
        with open(f"{database}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        key = text("hashtext('inbox.migrate.' || current_schema())")
        conn.execute(select(func.pg_advisory_lock(key)))
        conn.commit()
        try:
            yield
        finally:
            conn.execute(select(func.pg_advisory_unlock(key)))
            conn.commit()


def _literal_assignments(source: str, names: set[str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            values[target.id] = ast.literal_eval(value)
    return values


_head_lock = threading.Lock()
_head: list[str | None] = []  # filled once: the files do not change while the process runs


def declared_head() -> str | None:
    """The newest revision, read once from the migration files without importing them; None when not plain.

    Read under a lock: CPython 3.11's ``ast.parse`` is not safe in two threads at once (it raised "AST
    constructor recursion depth mismatch" when two stores were opened together)."""
    with _head_lock:
        if not _head:
            _head.append(_read_declared_head())
        return _head[0]


def _read_declared_head() -> str | None:
    parents: dict[str, tuple[object, ...]] = {}
    try:
        for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
            if path.name.startswith("_"):
                continue
            values = _literal_assignments(path.read_text(encoding="utf-8"), {"revision", "down_revision"})
            revision, down = values.get("revision"), values.get("down_revision")
            if not isinstance(revision, str) or revision in parents:
                return None
            parents[revision] = () if down is None else down if isinstance(down, tuple) else (down,)
    except (OSError, SyntaxError, ValueError):
        return None
    referenced = {parent for downs in parents.values() for parent in downs}
    heads = [revision for revision in parents if revision not in referenced]
    return heads[0] if len(heads) == 1 and referenced <= set(parents) else None


def stored_revision(engine: Engine) -> str | None:
    """The database's revision from its version table; None when it has none or not exactly one."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def upgrade_to_head(engine: Engine) -> None:
    head = declared_head()
    if head is not None and stored_revision(engine) == head:
        return  # the common case: already current, and Alembic stays unloaded
    if current_revision(engine) == head_revision(engine):
        return
    from alembic import command

    with _one_migrator(engine):
        if current_revision(engine) != head_revision(engine):
            command.upgrade(alembic_config(engine), "head")


def upgrade_to(engine: Engine, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
