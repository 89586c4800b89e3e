"""Which schema revisions this release knows, and the tables and columns each one has."""

from __future__ import annotations

from sqlalchemy import MetaData, create_engine

from inbox.errors import InvalidInput
from inbox.store.migrate import upgrade_to

VERSION_TABLE = "alembic_version"


def known_revisions() -> list[str]:
    """Oldest first."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from inbox.store.migrate import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return [script.revision for script in ScriptDirectory.from_config(config).walk_revisions()][::-1]


def check_revision(revision: object, *, field: str = "FILE") -> str:
    known = known_revisions()
    if not isinstance(revision, str) or revision not in known:
        raise InvalidInput(
            field,
            f"its schema revision {revision!r} is not one this release knows (up to {known[-1]}): "
            "it was made by a newer release; restore it with that release or a later one",
        )
    return revision


def schema_at(revision: str) -> MetaData:
    """The tables as migrations leave them at ``revision`` (built in a scratch in-memory store)."""
    scratch = create_engine("sqlite://")
    try:
        upgrade_to(scratch, revision)
        meta = MetaData()
        meta.reflect(bind=scratch)
        return meta
    finally:
        scratch.dispose()
