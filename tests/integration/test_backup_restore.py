"""Backups copy the whole store while it is written to, and restore into either backend; bad files and
non-empty stores are refused before anything is written."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from inbox import Conflict, Inbox, InvalidInput
from inbox.backup import pg_dump
from inbox.backup import rows as table_rows
from inbox.backup.formats import BackupFormat
from inbox.backup.run import backup, choose, restore
from inbox.enums import OutboxKind
from inbox.store.endings import post_outbox
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.types import utcnow
from tests.conftest import Clock, pg_store
from tests.integration.stores import PAIRS, fill, listed, opened

DATA = Path(__file__).resolve().parents[1] / "data" / "store-0005"
FORMATS = {"sqlite": ["sqlite", "json"], "postgres": ["pg_dump", "json"]}


def everything(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with table_rows.snapshot(engine) as conn:
        return {
            table.name: [{k: table_rows.as_json(v) for k, v in row.items()} for row in table_rows.rows_of(conn, table)]
            for table in table_rows.store_tables(conn)
        }


def url_of(inbox: Inbox) -> str:
    return inbox.engine.url.render_as_string(hide_password=False)


@pytest.mark.parametrize(("source", "target"), PAIRS)
@pytest.mark.parametrize("kind", ["native", "json"])
def test_a_backup_restores_every_row_into_either_backend(
    source: str, target: str, kind: str, tmp_path: Path, clock: Clock
) -> None:
    with opened(source, tmp_path / "from", clock) as old:
        fill(old, clock)
        old.create_token("laptop")
        old.send("later", at="2026-06-02T08:00")
        fmt = None if kind == "native" else BackupFormat.JSON
        made = backup(old.engine, tmp_path / "backup", choose(old.engine, fmt), now=clock())
        before, tasks = everything(old.engine), listed(old)
    if made.format is BackupFormat.PG_DUMP and target == "sqlite":
        pytest.skip("a pg_dump restores into PostgreSQL only (refusal tested below)")
    assert made.rows["messages_in"] == len(before["messages_in"]) > 0

    with opened(target, tmp_path / "to", clock) as new:
        url = url_of(new)
        new.close()
        done = restore(url, tmp_path / "backup", force=False, actor="cli")
        assert done.rows == {name: len(found) for name, found in before.items()}
        with Inbox(url, env={"INBOX_HOME": str(tmp_path / "to"), "INBOX_TZ": "UTC"}, clock=clock) as reopened:
            restored = everything(reopened.engine)
            trail, [made_record] = restored["audit"][: len(before["audit"])], restored["audit"][len(before["audit"]) :]
            assert (
                everything(reopened.engine) == {**before, "audit": [*trail, made_record]} and trail == before["audit"]
            )
            assert (made_record["actor"], made_record["action"], made_record["subject"]) == (
                "cli",
                "store.restore",
                "store",
            )
            assert made_record["changes"]["file"]["after"] == str(tmp_path / "backup")
            assert listed(reopened) == tasks
            assert [t.name for t in reopened.tokens()] == ["laptop"]


@pytest.mark.parametrize("fmt", ["native", "json"])
def test_a_backup_taken_while_hosts_write_is_one_moment_of_the_store(
    store_url: str, home: Path, tmp_path: Path, fmt: str
) -> None:
    """Each write adds an inbound row and its outbox row in one transaction: a consistent copy holds as many of
    one as of the other, however the copy and the writes interleave."""
    with Inbox(store_url, env={"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}) as inbox:
        inbox.send_many([f"filler {i}" for i in range(3000)])
        stop = threading.Event()
        written = [0]

        def write() -> None:
            while not stop.is_set():
                with transaction(inbox.engine) as db:
                    row = MessageIn(session="w", content={"text": "pair"}, process_after=utcnow())
                    db.add(row)
                    post_outbox(db, session="w", kind=OutboxKind.REPLY, text="pair", in_reply_to=row.id, now=utcnow())
                written[0] += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:
            copies = []
            for number in range(3):
                path = tmp_path / f"copy-{number}"
                chosen = choose(inbox.engine, None if fmt == "native" else BackupFormat.JSON)
                backup(inbox.engine, path, chosen, now=utcnow())
                copies.append(path)
        finally:
            stop.set()
            writer.join()
        assert written[0] > 0
    for path in copies:  # each copy, restored over the store (a pg_dump restores into its own schema only)
        restore(store_url, path, force=True, actor="cli")
        with Inbox(store_url, env={"INBOX_HOME": str(home)}) as restored, restored.engine.connect() as conn:
            inbound = conn.execute(text("SELECT count(*) FROM messages_in WHERE session = 'w'")).scalar_one()
            outbound = conn.execute(text("SELECT count(*) FROM messages_out")).scalar_one()
            assert inbound == outbound
            assert conn.execute(text("SELECT count(*) FROM messages_in")).scalar_one() == 3000 + inbound


def test_restore_refuses_a_store_that_holds_anything_unless_forced(inbox: Inbox, tmp_path: Path) -> None:
    inbox.schedule("in the backup", every="1h")
    backup(inbox.engine, tmp_path / "b", choose(inbox.engine, None), now=utcnow())
    inbox.schedule("made after the backup", every="2h")
    url = url_of(inbox)
    with pytest.raises(Conflict, match=r"not empty.*--force"):
        restore(url, tmp_path / "b", force=False, actor="cli")
    assert {t.prompt for t in inbox.tasks()} == {"in the backup", "made after the backup"}

    restore(url, tmp_path / "b", force=True, actor="cli")
    assert {t.prompt for t in inbox.tasks()} == {"in the backup"}


def _truncated(path: Path) -> Path:
    cut = path.with_name(path.name + ".cut")
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    return cut


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (_truncated, None),
        (lambda p: (p.write_text("hello\n"), p)[1], "not a backup"),
        (lambda p: (p.write_bytes(b"SQLite format 3\x00" + b"\x01" * 5000), p)[1], None),
    ],
    ids=["cut-short", "not-a-backup", "garbage-sqlite"],
)
@pytest.mark.parametrize("fmt", ["native", "json"])
def test_a_damaged_backup_is_refused_and_the_store_left_as_it_was(
    inbox: Inbox, tmp_path: Path, fmt: str, spoil: Any, says: str | None
) -> None:
    inbox.schedule("kept", every="1h")
    made = tmp_path / "b"
    backup(inbox.engine, made, choose(inbox.engine, None if fmt == "native" else BackupFormat.JSON), now=utcnow())
    spoiled = spoil(made)
    with pytest.raises(InvalidInput, match=says) as refused:
        restore(url_of(inbox), spoiled, force=True, actor="cli")
    assert refused.value.field == "FILE"
    assert [t.prompt for t in inbox.tasks()] == ["kept"]


def test_a_json_backup_of_a_newer_release_is_refused(inbox: Inbox, tmp_path: Path) -> None:
    made = tmp_path / "b.jsonl"
    backup(inbox.engine, made, BackupFormat.JSON, now=utcnow())
    lines = made.read_text().splitlines()
    lines[0] = lines[0].replace('"revision": "', '"revision": "9999')
    made.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInput, match="newer release"):
        restore(url_of(inbox), made, force=True, actor="cli")


def test_a_json_backup_with_a_bad_value_is_refused_naming_its_line(inbox: Inbox, tmp_path: Path) -> None:
    inbox.schedule("kept", every="1h")
    made = tmp_path / "b.jsonl"
    backup(inbox.engine, made, BackupFormat.JSON, now=utcnow())
    made.write_text(made.read_text().replace('"process_after": "', '"process_after": "soon'))
    # line 1 says what the file is, line 2 holds the task's audit record, line 3 the task
    with pytest.raises(InvalidInput, match=r"line 3: messages_in.process_after: 'soon"):
        restore(url_of(inbox), made, force=True, actor="cli")
    assert [t.prompt for t in inbox.tasks()] == ["kept"]


def test_a_store_of_an_older_release_restores_and_upgrades(backend: str, store_url: str, tmp_path: Path) -> None:
    """The 0005 store (tests/data/store-0005) as a SQLite backup file, restored into either backend."""
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.executescript((DATA / "store.sql").read_text(encoding="utf-8"))
    restore(store_url, old, force=False, actor="cli")
    with Inbox(store_url, env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}) as inbox:
        stretch = inbox.get("stretch")
        assert stretch.next_run == datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
        assert len(inbox.tasks(status="all")) == 7


@pytest.mark.postgres
def test_a_pg_dump_goes_into_postgresql_and_its_own_schema_only(tmp_path: Path, clock: Clock) -> None:
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    with pg_store() as url, Inbox(url, env={"INBOX_HOME": str(tmp_path)}) as inbox:
        inbox.schedule("in a dump", every="1h")
        made = backup(inbox.engine, tmp_path / "d", choose(inbox.engine, None), now=clock())
    assert made.format is BackupFormat.PG_DUMP
    with pytest.raises(InvalidInput, match="PostgreSQL store only"):
        restore(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "d", force=True, actor="cli")
    with pg_store() as elsewhere, pytest.raises(InvalidInput, match="holds schema"):
        restore(elsewhere, tmp_path / "d", force=True, actor="cli")


@pytest.mark.postgres
def test_a_pg_restore_that_fails_leaves_the_store_as_it_was(tmp_path: Path, clock: Clock) -> None:
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    with pg_store() as url, Inbox(url, env={"INBOX_HOME": str(tmp_path)}) as inbox:
        inbox.schedule("in the dump", every="1h")
        backup(inbox.engine, tmp_path / "d", choose(inbox.engine, None), now=clock())
        inbox.schedule("made after the dump", every="2h")
        with inbox.engine.begin() as conn:  # something of the user's that pg_restore cannot drop the table under
            conn.execute(text("CREATE VIEW prompts AS SELECT content FROM messages_in"))
        with pytest.raises(pg_dump.ToolFailed, match="pg_restore failed"):
            restore(url, tmp_path / "d", force=True, actor="cli")
        assert {t.prompt for t in inbox.tasks()} == {"in the dump", "made after the dump"}


def test_a_format_for_the_other_backend_is_refused(inbox: Inbox) -> None:
    other = BackupFormat.PG_DUMP if inbox.engine.dialect.name == "sqlite" else BackupFormat.SQLITE
    with pytest.raises(InvalidInput) as refused:
        choose(inbox.engine, other)
    assert refused.value.field == "--format"
