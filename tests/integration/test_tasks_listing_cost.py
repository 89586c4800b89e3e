"""The first page of ``inbox tasks`` (and of ``GET /v1/tasks``: the same SQL, inbox.store.task_sql) costs the same
whatever the store holds: each page walks an index from its key and stops, and "how many more" stops at 1,000
(so below that, a count costs what the rows it counts do: the sizes here are past it).

Counted in SQLite virtual-machine steps (its progress handler) on the command line's own reading
(inbox.cli.quick_tasks), not in seconds, so the check is exact. The timed figures, up to 1,000,000 series and on
PostgreSQL too, are bench/paging.py's (docs/benchmarks.md).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from inbox import Inbox
from inbox.cli import quick_tasks
from inbox.enums import TaskFilter


def _grow(path: Path, first: int, series: int) -> None:
    """``series`` more series (numbered from ``first``) copied from the store's one: one row each over 5 sessions,
    90% active, due a minute apart, 5% paused and 5% ended."""
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(messages_in)")]
        made = {
            "id": "printf('X%025d', n.i)",
            "series_id": "printf('X%025d', n.i)",
            "session": "printf('s%d', n.i % 5)",
            "status": "CASE n.i % 20 WHEN 0 THEN 'completed' WHEN 1 THEN 'paused' ELSE 'pending' END",
            "process_after": "strftime('%Y-%m-%d %H:%M:%S', '2030-01-01', '+' || n.i || ' minutes') || '.000000'",
        }
        chosen = ", ".join(made.get(column, f"template.{column}") for column in columns)
        db.execute(
            f"WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            f"INSERT INTO messages_in ({', '.join(columns)}) SELECT {chosen} FROM n, messages_in AS template "
            "WHERE template.id = (SELECT min(id) FROM messages_in)",
            (first, first + series - 1),
        )


def _steps(path: Path, status: TaskFilter, session: str | None) -> int:
    counted = [0]

    def count() -> int:
        counted[0] += 1
        return 0  # go on

    conn = quick_tasks._connect(path)
    assert conn is not None
    conn.set_progress_handler(count, 1)  # every step
    try:
        page = quick_tasks._read(conn, quick_tasks._Query(status, session, None, 100, as_json=True))
    finally:
        conn.close()
    assert len(page.rows) == 100 and page.more is not None
    return counted[0]


LISTINGS = [(TaskFilter.ACTIVE, None), (TaskFilter.ALL, None), (TaskFilter.ACTIVE, "s3")]


def test_the_first_page_costs_the_same_with_eight_times_the_series(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    with Inbox(f"sqlite:///{path}", env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}) as inbox:
        inbox.schedule("template", every="1h")
    _grow(path, 1, 25_000)  # enough that every count the page makes has reached its cap
    small = [_steps(path, status, session) for status, session in LISTINGS]
    _grow(path, 25_001, 175_000)
    large = [_steps(path, status, session) for status, session in LISTINGS]
    for listing, before, after in zip(LISTINGS, small, large, strict=True):
        assert after < 1.1 * before, f"{listing}: {before} steps with 25,000 series, {after} with 200,000"
