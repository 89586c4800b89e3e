"""A store written by an older release opens with today's code and keeps every series where it was.

The store is tests/data/store-0005/store.sql, a text dump made by this repository's code at an earlier commit
(its README says which and how); expected.json is what that code listed.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from inbox import Inbox
from inbox.store.migrate import current_revision, head_revision
from sweeper.sweep import sweep_once

DATA = Path(__file__).resolve().parents[1] / "data" / "store-0005"


def _old_store(folder: Path) -> Path:
    path = folder / "inbox.db"
    conn = sqlite3.connect(path)
    conn.executescript((DATA / "store.sql").read_text(encoding="utf-8"))
    conn.close()
    return path


def test_a_store_of_the_older_release_keeps_every_series_next_run_and_every_row(tmp_path: Path) -> None:
    expected = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))
    path = _old_store(tmp_path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == expected["revision"]

    with Inbox(f"sqlite:///{path}", env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}) as inbox:
        assert current_revision(inbox.engine) == head_revision(inbox.engine) != expected["revision"]
        listed = {task.series_id: task for task in inbox.tasks(status="all")}
        assert set(listed) == set(expected["series"])
        for series_id, old in expected["series"].items():
            task = listed[series_id]
            assert (task.name, task.status) == (old["name"], old["status"]), series_id
            kept = task.next_run.isoformat() if task.next_run else None
            assert kept == old["next_run"], f"{old['name']}: next run {kept}, the older release had {old['next_run']}"
        with inbox.engine.connect() as conn:
            for table, count in expected["rows"].items():
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == count, table


def test_the_upgraded_store_goes_on_from_where_the_older_release_left_it(tmp_path: Path) -> None:
    path = _old_store(tmp_path)
    with Inbox(f"sqlite:///{path}", env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}) as inbox:
        before = len(inbox.outbox(limit=100))
        sweep_once(inbox.engine, now=datetime(2026, 1, 5, 15, 1, tzinfo=UTC))

        stretch = inbox.get("stretch")
        assert stretch.next_run == datetime(2026, 1, 5, 16, 30, tzinfo=UTC)  # the interval keeps its anchor
        assert stretch.runs == 2
        assert [o.text for o in inbox.outbox(limit=100)[before:]] == ["Stretch", "Quarter hour"]
        assert inbox.get("quarter").next_run == datetime(2026, 1, 5, 15, 15, tzinfo=UTC)
        assert inbox.get("weekday").next_run == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)  # 09:00 in Paris
