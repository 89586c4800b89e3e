"""``inbox tasks`` read with ``sqlite3``: the listing without SQLAlchemy, SQLModel, pydantic or Typer, whose imports
cost several times what reading a page does (docs/benchmarks.md, "CLI start-up").

It runs the listing's own SQL text (inbox.store.task_sql, which the API runs through SQLAlchemy) and builds each row
with the views' own fields (inbox.task_rows), so both paths print the same bytes. It answers only when it can be
exact, and otherwise leaves the command to the full path (:func:`listed` returns False, having printed nothing):

- the arguments are only ``--status``, ``--session``/``-s``, ``--tag``, ``--limit``, ``--all`` and ``--json``, each
  at most once, with values the full path accepts (it alone says what is wrong with the others);
- the store is the default SQLite file and the settings hold nothing this path cannot vouch for
  (inbox.store_location); the file exists and its schema is at :data:`HEAD_REVISION` (the full path creates or
  upgrades a store);
- no row shown is held back by a tag's limit, nor runs with a change waiting on it (their words come from the
  store's own code).

``INBOX_CLI_FULL=1`` (for the tests that compare both paths) always takes the full path.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from inbox import paging
from inbox import validation as check
from inbox.enums import Status, TaskFilter
from inbox.errors import InvalidInput
from inbox.store import task_sql
from inbox.store.task_sql import Sql
from inbox.store_location import plain_sqlite_store
from inbox.task_rows import task_fields

HEAD_REVISION = "0021"  # the newest migration (a test holds it to inbox/migrations)
FULL_PATH = "INBOX_CLI_FULL"
_VALUED = {"--status": "status", "--session": "session", "-s": "session", "--tag": "tag", "--limit": "limit"}
_FLAGS = {"--all": "every", "--json": "as_json"}
_BUSY_TIMEOUT_S = 30.0  # as the store's engine waits for a writer (inbox.store.engine)


class _Inexact(Exception):
    """What was read needs the full path's code to be shown exactly."""


def _options(args: Sequence[str]) -> dict[str, Any] | None:
    """The options given, as the command's parameters; None for anything else."""
    given: dict[str, Any] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _FLAGS and not equals and _FLAGS[name] not in given:
            given[_FLAGS[name]] = True
        elif name in _VALUED and _VALUED[name] not in given:
            if not equals:
                if not rest or rest[0].startswith("-"):
                    return None
                value = rest.pop(0)
            given[_VALUED[name]] = value
        else:
            return None
    return given


@dataclass(frozen=True)
class _Query:
    status: TaskFilter
    session: str | None
    tag: str | None
    limit: int | None
    as_json: bool


def _query(args: Sequence[str]) -> _Query | None:
    given = _options(args)
    if given is None:
        return None
    limit_text = given.get("limit")
    if limit_text is not None and not (limit_text.isascii() and limit_text.isdigit()):
        return None
    if limit_text is not None and given.get("every"):
        return None  # refused by the full path, in its words
    limit = None if given.get("every") else paging.DEFAULT_PAGE if limit_text is None else int(limit_text)
    try:
        status = check.choice(TaskFilter, given.get("status", TaskFilter.ACTIVE.value), field="status")
        check.filter_text(given.get("session"), field="session")
        check.tag_filter(given.get("tag"))
        check.positive_int(limit, field="limit")
    except InvalidInput:
        return None
    assert status is not None
    return _Query(status, given.get("session"), given.get("tag"), limit, bool(given.get("as_json")))


@dataclass(frozen=True)
class _Row:
    """A head row as ``sqlite3`` reads it: the columns inbox.task_rows.HeadRow names, typed as the models type them."""

    id: str
    series_id: str | None
    name: str | None
    session: str
    status: str
    next_status: str | None
    recurrence: str | None
    occurrence_at: datetime | None
    content: dict[str, Any]
    timezone: str
    process_after: datetime
    created_at: datetime
    created_by: str
    script_by: str | None
    remind: bool
    deliver: str | None
    tags: list[str] | None
    priority: int
    active_hours: str | None
    catch_up: str
    max_runs: int | None
    context: str | None
    reason: str | None
    gate: str

    @classmethod
    def read(cls, row: sqlite3.Row) -> _Row:
        values = {name: row[name] for name in cls.__dataclass_fields__}
        for name in ("occurrence_at", "process_after", "created_at"):
            values[name] = None if values[name] is None else task_sql.stored_instant(values[name])
        values["content"] = json.loads(values["content"])
        values["tags"] = None if values["tags"] is None else json.loads(values["tags"])
        values["remind"] = bool(values["remind"])
        return cls(**values)


class _Reader:
    """inbox.store.task_sql's text on a ``sqlite3`` connection."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _run(self, sql: Sql) -> sqlite3.Cursor:
        params = {k: task_sql.sqlite_instant(v) if k in task_sql.INSTANTS else v for k, v in sql.params.items()}
        return self.conn.execute(sql.text, params)

    def rows(self, sql: Sql) -> list[_Row]:
        return [_Row.read(row) for row in self._run(sql)]

    def values(self, sql: Sql) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._run(sql)]


def _connect(path: Path) -> sqlite3.Connection | None:
    """The store at ``path`` when it is there and at the newest schema (never created here), else None."""
    if not path.is_file():
        return None
    # mode=rw: a store removed since the check is not made anew, empty; autocommit, so BEGIN is ours.
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=_BUSY_TIMEOUT_S)
    conn.isolation_level = None
    conn.row_factory = sqlite3.Row
    try:
        found = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.Error:
        found = []
    if found != [HEAD_REVISION]:
        conn.close()
        return None
    return conn


def _views(db: _Reader, heads: list[_Row], now: datetime) -> list[dict[str, Any]]:
    for head in heads:
        if head.status == Status.RUNNING and head.content.get("pending_update"):
            raise _Inexact("a change waits on the running occurrence")
        if head.gate and head.status == Status.PENDING and head.process_after <= now:
            raise _Inexact("due and perhaps held back by a tag's limit")
    stats, created = task_sql.stats(db, [h.series_id for h in heads if h.series_id])
    views = []
    for head in heads:
        runs, last = stats.get(head.series_id or "", (0, None))
        made = created.get(head.series_id or "")
        views.append(task_fields(head, running=head, runs=runs, last_outcome=last, created_at=made, waiting_on=None))
    return views


def _read(conn: sqlite3.Connection, query: _Query) -> paging.Page[dict[str, Any]]:
    db = _Reader(conn)
    listing = f"tasks:{query.status.value}"

    def fetch(after: paging.Key | None, size: int) -> tuple[list[dict[str, Any]], paging.Key | None]:
        heads, last = task_sql.tasks(
            db, status=query.status, session=query.session, tag=query.tag, after=after, limit=size
        )
        return _views(db, heads, datetime.now(UTC)), last

    def more(after: paging.Key) -> paging.Count:
        return task_sql.tasks_after(db, status=query.status, session=query.session, tag=query.tag, after=after)

    conn.execute("BEGIN")  # one snapshot for the whole listing, without the write lock
    try:
        return paging.read(fetch, listing=listing, start=None, limit=query.limit, count=more)
    finally:
        conn.execute("ROLLBACK")


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _print(page: paging.Page[dict[str, Any]], as_json: bool) -> None:
    from inbox.cli.render import console, tell_more

    if as_json:
        # As the views print (inbox.cli.render.print_json): instants in ISO 8601, ``with_`` under its name "with".
        shown = [{("with" if k == "with_" else k): _json(v) for k, v in task.items()} for task in page.rows]
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    elif not page.rows:
        console.print("No tasks.")
    else:
        from inbox.cli.task_table import print_tasks

        print_tasks([SimpleNamespace(**task) for task in page.rows])
    tell_more(page)


def listed(args: Sequence[str]) -> bool:
    """``inbox tasks ARGS`` printed, when this path can be exact; False (and nothing printed) otherwise."""
    if os.environ.get(FULL_PATH) == "1":
        return False
    query = _query(args)
    store = plain_sqlite_store(os.environ) if query is not None else None
    if query is None or store is None:
        return False
    conn = None
    try:
        conn = _connect(store)
        if conn is None:
            return False
        page = _read(conn, query)
    except (sqlite3.Error, _Inexact):
        return False  # the full path reads it again, and says what is wrong if something is
    finally:
        if conn is not None:
            conn.close()
    _print(page, query.as_json)
    return True
