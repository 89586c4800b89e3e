"""Schema migrations (Alembic), applied when the store is opened so an old database upgrades in place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select, text

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _one_migrator(engine: Engine) -> Iterator[None]:
    """Hosts started together on one PostgreSQL store take turns: the first upgrades, the rest find it done.

    (On SQLite every transaction, Alembic's included, takes the write lock first, which serializes them.)
    """
    if engine.dialect.name != "postgresql":
        yield
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


def upgrade_to_head(engine: Engine) -> None:
    if current_revision(engine) == head_revision(engine):
        return  # the common case: skip loading Alembic's environment on every open
    with _one_migrator(engine):
        if current_revision(engine) != head_revision(engine):
            command.upgrade(alembic_config(engine), "head")


def upgrade_to(engine: Engine, revision: str) -> None:
    command.upgrade(alembic_config(engine), revision)
