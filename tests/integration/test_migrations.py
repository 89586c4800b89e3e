"""Migrations: they build exactly the schema the models describe, and old databases upgrade without loss."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

from inbox import Inbox
from inbox.store.engine import open_engine
from inbox.store.migrate import alembic_config, current_revision, head_revision, upgrade_to, upgrade_to_head


def test_models_and_migrations_agree(store_url: str) -> None:
    engine = open_engine(store_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_every_revision_upgrades_to_head_keeping_the_rows(store_url: str) -> None:
    engine = create_engine(store_url)
    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()][::-1]
    with_tokens: list[str] = []
    for index, revision in enumerate(revisions):
        upgrade_to(engine, revision)
        with engine.begin() as conn:  # a row written by the schema as it was at this revision
            conn.execute(text(
                "INSERT INTO messages_in (id, session, kind, content, status, process_after, timezone, "
                "occurrence_no, is_extra, tries, created_by, created_at, updated_at, catch_up, retries, remind, "
                "consecutive_failures) VALUES (:id, 'main', 'chat', '{\"text\": \"hi\"}', 'pending', "
                "'2026-01-01 00:00:00', 'UTC', 1, false, 0, 'user', '2026-01-01 00:00:00', '2026-01-01 00:00:00', "
                "'once', 3, false, 0)"), {"id": f"01OLDROW{index:018d}"})
            if "api_tokens" in inspect(conn).get_table_names():  # and an admin token, from 0003 on
                conn.execute(text(
                    "INSERT INTO api_tokens (id, name, digest, created_at, created_by) "
                    "VALUES (:id, :name, :digest, '2026-01-01 00:00:00', 'user')"),
                    {"id": f"01OLDTOKEN{index:016d}", "name": f"old-{index}", "digest": f"{index:064x}"})
                with_tokens.append(revision)
    upgrade_to_head(engine)
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM messages_in WHERE id LIKE '01OLDROW%'")).scalar_one()
        tokens = conn.execute(text("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL")).scalar_one()
    assert kept == len(revisions)
    assert with_tokens and tokens == len(with_tokens)
    assert {"messages_in", "messages_out", "runs", "api_tokens"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_opening_an_old_store_upgrades_it(store_url: str) -> None:
    engine = create_engine(store_url)
    first = [r.revision for r in ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()][-1]
    upgrade_to(engine, first)
    engine.dispose()
    with Inbox(store_url) as inbox:
        assert current_revision(inbox.engine) == head_revision(inbox.engine)
        inbox.schedule("still works", every="1h")
