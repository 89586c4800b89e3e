"""Migrations: they build exactly the schema the models describe, and old databases upgrade without loss."""

from __future__ import annotations

import subprocess
import sys

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


# One row for each table, in the columns that table has had since it was made (later columns have defaults).
T0 = "'2026-01-01 00:00:00'"
FILL = {
    "messages_in": "INSERT INTO messages_in (id, session, kind, content, status, process_after, timezone, "
    "occurrence_no, is_extra, tries, created_by, created_at, updated_at, catch_up, retries, remind, "
    f"consecutive_failures) VALUES (:id, 'main', 'chat', '{{\"text\": \"hi\"}}', 'pending', {T0}, 'UTC', 1, "
    f"false, 0, 'user', {T0}, {T0}, 'once', 3, false, 0)",
    "runs": "INSERT INTO runs (id, message_id, session, attempt, started_at, ended_at, outcome, input_tokens, "
    f"output_tokens) VALUES (:id, 'm', 'main', 1, {T0}, {T0}, 'completed', 0, 0)",
    "messages_out": f"INSERT INTO messages_out (id, session, kind, text, created_at) VALUES (:id, 'main', 'reply', "
    f"'hello', {T0})",
    "conversation_turns": "INSERT INTO conversation_turns (id, scope, session, role, turn, tokens, created_at) "
    f"VALUES (:id, 'session:main', 'main', 'user', '{{}}', 0, {T0})",
    "chores": f"INSERT INTO chores (name, due_at) VALUES (:id, {T0})",
    "api_tokens": "INSERT INTO api_tokens (id, name, digest, created_at, created_by) "
    f"VALUES (:id, :id, :id, {T0}, 'user')",
    "run_rollups": "INSERT INTO run_rollups (hour, outcome, runs, input_tokens, output_tokens, duration_s, durations) "
    f"VALUES ({T0}, substr(:id, 11), 1, 0, 0, 0.5, '[1]')",  # the outcome column holds the id's last 16 digits
    "web_sessions": f"INSERT INTO web_sessions (digest, token_digest, created_at, expires_at) VALUES (:id, :id, {T0}, "
    f"{T0})",
    "events": f"INSERT INTO events (id, name, scope, created_by, created_at) VALUES (:id, 'mail.in', '', 'user', {T0})",
    "event_matches": "INSERT INTO event_matches (event_id, series_id, state, created_at) "
    f"VALUES (:id, :id, 'started', {T0})",
    "event_triggers": "INSERT INTO event_triggers (series_id, pattern, head, session) VALUES (:id, 'a.*', 'a', 'main')",
    "series_state": f"INSERT INTO series_state (series_id, state, updated_at) VALUES (:id, '{{}}', {T0})",
    "dependencies": 'INSERT INTO dependencies (downstream_id, upstream_id, "when", created_at) '
    f"VALUES (:id, 'u', 'all_success', {T0})",
    "dependency_rounds": "INSERT INTO dependency_rounds (downstream_id, round_no, message_id, upstream, created_at) "
    f"VALUES (:id, 1, 'm', '[]', {T0})",
    "hooks": "INSERT INTO hooks (name, secret, message, created_at, created_by) "
    f"VALUES (:id, :id, false, {T0}, 'user')",
    "drop_ingested": f"INSERT INTO drop_ingested (key, path, created_at) VALUES (:id, 'a.txt', {T0})",
    "channels": "INSERT INTO channels (name, kind, target, created_at, created_by) "
    f"VALUES (:id, 'command', 'true', {T0}, 'user')",
    "session_settings": f"INSERT INTO session_settings (session, updated_at, updated_by) VALUES (:id, {T0}, 'user')",
    "audit": "INSERT INTO audit (id, at, actor, action, subject, changes) "
    f"VALUES (:id, {T0}, 'cli', 'task.pause', :id, '{{}}')",
    "task_tags": "INSERT INTO task_tags (series_id, tag) VALUES (:id, 'backup')",
    "tag_limits": f"INSERT INTO tag_limits (tag, max_running, created_at, created_by) VALUES (:id, 2, {T0}, 'user')",
    "tag_starts": f"INSERT INTO tag_starts (id, tag, started_at) VALUES (:id, 'backup', {T0})",
}


# How each table's marked rows are found again (a column holding the id written, or an expression rebuilding it).
KEYS = {"chores": "name", "web_sessions": "digest", "run_rollups": "'01OLDROW00' || outcome"}
KEYS |= {"hooks": "name", "drop_ingested": "key"}
KEYS |= {"event_matches": "event_id", "event_triggers": "series_id", "series_state": "series_id"}
KEYS |= {"dependencies": "downstream_id", "dependency_rounds": "downstream_id"}
KEYS |= {"channels": "name", "session_settings": "session"}
KEYS |= {"task_tags": "series_id", "tag_limits": "tag"}


def test_every_revision_upgrades_to_head_keeping_the_rows(store_url: str) -> None:
    engine = create_engine(store_url)
    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()][::-1]
    written: dict[str, int] = dict.fromkeys(FILL, 0)
    for index, revision in enumerate(revisions):
        upgrade_to(engine, revision)
        present = set(inspect(engine).get_table_names())
        with engine.begin() as conn:  # rows written by the schema as it was at this revision
            for table, sql in FILL.items():
                if table in present:
                    conn.execute(text(sql), {"id": f"01OLDROW{index:018d}"})
                    written[table] += 1
    upgrade_to_head(engine)
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        for table in FILL:
            key = KEYS.get(table, "id")
            kept = conn.execute(text(f"SELECT count(*) FROM {table} WHERE {key} LIKE '01OLDROW%'")).scalar_one()
            assert kept == written[table], table
    assert set(inspect(engine).get_table_names()) - {"alembic_version"} == set(FILL), "fill every table"
    assert written["messages_in"] == len(revisions)
    engine.dispose()


def test_opening_an_old_store_upgrades_it(store_url: str) -> None:
    engine = create_engine(store_url)
    first = [r.revision for r in ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()][-1]
    upgrade_to(engine, first)
    engine.dispose()
    with Inbox(store_url) as inbox:
        assert current_revision(inbox.engine) == head_revision(inbox.engine)
        inbox.schedule("still works", every="1h")


def test_hosts_opening_a_new_store_at_the_same_moment_all_start(store_url: str) -> None:
    """Several host processes started together on an empty database: one creates the schema, none fails."""
    opener = "import sys; from inbox.store.engine import open_engine; open_engine(sys.argv[1]).dispose()"
    hosts = [
        subprocess.Popen([sys.executable, "-c", opener, store_url], stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    failures = [host.communicate(timeout=120)[1] for host in hosts if host.wait(timeout=120) != 0]
    assert failures == []
    engine = create_engine(store_url)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()


def test_rows_from_before_script_by_count_their_creator_as_the_scripts_author(store_url: str) -> None:
    engine = create_engine(store_url)
    upgrade_to(engine, "0006")
    with engine.begin() as conn:
        for index, author in enumerate(("user", "agent:main")):
            sql = FILL["messages_in"].replace("'user'", f"'{author}'")
            conn.execute(text(sql), {"id": f"01OLDROW{index:018d}"})
    upgrade_to_head(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT created_by, script_by FROM messages_in ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [("user", "user"), ("agent:main", "agent:main")]
    engine.dispose()


def test_tokens_made_before_scopes_keep_every_power_they_had(store_url: str) -> None:
    engine = create_engine(store_url)
    upgrade_to(engine, "0007")
    with engine.begin() as conn:
        conn.execute(text(FILL["api_tokens"]), {"id": "01OLDTOKEN000000000000000"})
    upgrade_to_head(engine)
    with engine.connect() as conn:
        scopes = conn.execute(text("SELECT scope FROM api_tokens")).scalars().all()
    assert scopes == ["admin"]
    engine.dispose()


def test_tasks_and_sessions_from_before_active_hours_run_at_any_hour(store_url: str) -> None:
    engine = create_engine(store_url)
    upgrade_to(engine, "0018")
    with engine.begin() as conn:
        conn.execute(text(FILL["messages_in"]), {"id": "01OLDROW000000000000000000"})
        conn.execute(text(FILL["session_settings"]), {"id": "main"})
    upgrade_to_head(engine)
    with engine.connect() as conn:
        tasks = conn.execute(text("SELECT active_hours FROM messages_in")).scalars().all()
        sessions = conn.execute(text("SELECT active_hours FROM session_settings")).scalars().all()
    assert (tasks, sessions) == ([None], [None])
    engine.dispose()
