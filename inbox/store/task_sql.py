"""The tasks listing in SQL text: the one source of ``inbox tasks``, ``GET /v1/tasks`` and ``Inbox.tasks``.

What a series' row is (its newest chain row: not a chat message, not a run-now or missed-slot record), its next
run, its run count and last outcome, and the listing's order and cursor are written here once. The store runs the
text through SQLAlchemy (``text()``, inbox.store.listings), the command line through ``sqlite3`` without loading
SQLAlchemy (inbox.cli.quick_tasks): one text, two drivers. This module imports neither.

Each page walks an index in the listing's order from the key of the previous page's last row (never an offset)
and reads one row more than asked, to know whether another page follows: the live series soonest next run first
(``ix_messages_in_status_due``, one range per status, merged: an IN list would sort the whole range), then
(``--status ended|all``) the ended series newest first, walking the series ids (``uq_messages_in_series_slot``)
and keeping one when it has no live row (``uq_messages_in_one_live_row``): the cost grows with the series passed
over, never with the run history. A key is a tuple of text (:data:`inbox.paging.Key`): what a cursor carries.

Parameters are named (``:name``), as both drivers take them; ``due`` is an instant, which each driver binds as its
store keeps instants (naive UTC). ``dialect`` ("sqlite" or "postgresql") picks only how ``false`` is spelt, as
SQLAlchemy spelt it when these queries were built with it, so the plans stay the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from inbox.enums import LIVE_STATUSES, Status, TaskFilter
from inbox.paging import COUNT_CAP, Count, Key, capped, instant, refused

LIVE, ENDED = "live", "ended"  # the two parts of the tasks listing, the first part of its keys
STATUSES = {
    TaskFilter.ACTIVE: [Status.PENDING.value, Status.RUNNING.value],
    TaskFilter.PAUSED: [Status.PAUSED.value],
    TaskFilter.ENDED: [],
    TaskFilter.ALL: [Status.PENDING.value, Status.RUNNING.value, Status.PAUSED.value],
}
_LIVE_IN = ", ".join(f"'{s.value}'" for s in Status if s in LIVE_STATUSES)
INSTANTS = frozenset({"due"})  # the parameters that are instants


def stored_instant(value: datetime | str) -> datetime:
    """An instant as a plain column read it: naive UTC, a ``datetime`` (PostgreSQL) or ISO text (SQLite)."""
    found = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return found.replace(tzinfo=UTC)


def sqlite_instant(value: datetime) -> str:
    """An instant as a SQLite store keeps it (SQLAlchemy's text for its DateTime): naive UTC, microseconds always."""
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond:06d}"


@dataclass(frozen=True)
class Sql:
    text: str
    params: dict[str, Any]


class Listed(Protocol):
    """A head row as a page is ordered and keyed by it."""

    @property
    def id(self) -> str: ...
    @property
    def series_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def process_after(self) -> datetime: ...


R = TypeVar("R", bound=Listed)


class Reader(Protocol[R]):
    """One read transaction of one store, through one driver."""

    dialect: str

    def rows(self, sql: Sql) -> list[R]:
        """The head rows (``messages_in.*``) ``sql`` selects, in its order."""

    def values(self, sql: Sql) -> list[tuple[Any, ...]]:
        """The plain columns ``sql`` selects."""


def _false(dialect: str) -> str:
    return "0" if dialect == "sqlite" else "false"


def _in(name: str, values: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """``(:name0, :name1, …)`` and its parameters (both drivers bind a list one parameter per value)."""
    params = {f"{name}{i}": value for i, value in enumerate(values)}
    return "(" + ", ".join(f":{key}" for key in params) + ")", params


def _chain(dialect: str, table: str = "messages_in") -> str:
    """Rows that carry a series forward: not a chat message, not a run-now or missed-slot record."""
    return f"{table}.series_id IS NOT NULL AND {table}.is_extra IS {_false(dialect)}"


def _filters(session: str | None, tag: str | None) -> tuple[str, dict[str, Any]]:
    """``tag``: the series carrying it, found through the tag index (``ix_task_tags_tag``)."""
    text, params = "", {}
    if tag is not None:
        text += " AND messages_in.series_id IN (SELECT task_tags.series_id FROM task_tags WHERE task_tags.tag = :tag)"
        params["tag"] = tag
    if session is not None:
        text += " AND messages_in.session = :session"
        params["session"] = session
    return text, params


def _live(
    dialect: str, status: str, *, session: str | None, tag: str | None, after: tuple[datetime, str] | None
) -> tuple[str, dict[str, Any]]:
    """The live rows of series with ``status`` after the sort key ``after`` (due time, id): one range of
    ``ix_messages_in_status_due``."""
    filters, params = _filters(session, tag)
    text = f"FROM messages_in WHERE messages_in.status = :status AND {_chain(dialect)}{filters}"
    params["status"] = status
    if after is not None:
        text += (
            " AND (messages_in.process_after > :due OR messages_in.process_after = :due AND messages_in.id > :last_id)"
        )
        params |= {"due": after[0], "last_id": after[1]}
    return text, params


def live_page(
    dialect: str, status: str, *, session: str | None, tag: str | None, after: tuple[datetime, str] | None, limit: int
) -> Sql:
    where, params = _live(dialect, status, session=session, tag=tag, after=after)
    order = " ORDER BY messages_in.process_after, messages_in.id LIMIT :limit"
    return Sql(f"SELECT messages_in.* {where}{order}", params | {"limit": limit})


def live_count(
    dialect: str, status: str, *, session: str | None, tag: str | None, after: tuple[datetime, str] | None
) -> Sql:
    """How many such rows, reading at most ``COUNT_CAP + 1`` (their ids only)."""
    where, params = _live(dialect, status, session=session, tag=tag, after=after)
    walked = f"SELECT messages_in.id {where} LIMIT :cap"
    return Sql(f"SELECT count(*) FROM ({walked}) AS walked", params | {"cap": COUNT_CAP + 1})


def _ended_ids(dialect: str, *, session: str | None, tag: str | None, before: str | None) -> tuple[str, dict[str, Any]]:
    """The ids of the series before ``before``, one each (grouped)."""
    filters, params = _filters(session, tag)
    text = f"SELECT messages_in.series_id FROM messages_in WHERE {_chain(dialect)}{filters}"
    if before is not None:
        text += " AND messages_in.series_id < :before"
        params["before"] = before
    return text + " GROUP BY messages_in.series_id", params


def _live_row(dialect: str, outer: str) -> str:
    """The live rows of the series of ``outer``'s row (``uq_messages_in_one_live_row``)."""
    return (
        f"FROM messages_in AS live WHERE live.series_id = {outer}.series_id"
        f" AND live.status IN ({_LIVE_IN}) AND live.is_extra IS {_false(dialect)}"
    )


def ended_page(dialect: str, *, session: str | None, tag: str | None, before: str | None, limit: int) -> Sql:
    """The ids of the series that have ended (no live row is left), the newest series first."""
    ids, params = _ended_ids(dialect, session=session, tag=tag, before=before)
    # A scalar subquery with LIMIT 1, not NOT EXISTS: PostgreSQL would hash every live row once instead of
    # looking up the few series a page walks past.
    having = f" HAVING (SELECT live.id {_live_row(dialect, 'messages_in')} LIMIT 1) IS NULL"
    return Sql(f"{ids}{having} ORDER BY messages_in.series_id DESC LIMIT :limit", params | {"limit": limit})


def ended_count(dialect: str, *, session: str | None, tag: str | None, before: str | None) -> Sql:
    """Among the next ``COUNT_CAP + 1`` series ids walked: how many were walked, and how many have ended."""
    ids, params = _ended_ids(dialect, session=session, tag=tag, before=before)
    walked = f"{ids} ORDER BY messages_in.series_id DESC LIMIT :cap"
    ended = f"count(*) FILTER (WHERE NOT (EXISTS (SELECT * {_live_row(dialect, 'walked')})))"
    return Sql(f"SELECT count(*), {ended} FROM ({walked}) AS walked", params | {"cap": COUNT_CAP + 1})


def heads(dialect: str, series_ids: Sequence[str]) -> Sql:
    """The row holding each series' current definition: its newest chain row."""
    listed, params = _in("sid", series_ids)
    newest = (
        f"SELECT max(messages_in.id) FROM messages_in WHERE messages_in.series_id IN {listed}"
        f" AND messages_in.is_extra IS {_false(dialect)} GROUP BY messages_in.series_id"
    )
    return Sql(f"SELECT messages_in.* FROM messages_in WHERE messages_in.id IN ({newest})", params)


def run_stats(series_ids: Sequence[str]) -> Sql:
    """(series id, how many runs were recorded, the outcome of the newest) of each series that has run."""
    listed, params = _in("sid", series_ids)
    counted = (
        "SELECT runs.series_id AS series_id, count(*) AS runs, max(runs.id) AS newest FROM runs"
        f" WHERE runs.series_id IN {listed} GROUP BY runs.series_id"
    )
    return Sql(
        f"SELECT counted.series_id, counted.runs, runs.outcome FROM ({counted}) AS counted"
        " LEFT OUTER JOIN runs ON runs.id = counted.newest",
        params,
    )


def series_created(series_ids: Sequence[str]) -> Sql:
    """(series id, created at) of each series: its first row's (that row's id is the series id)."""
    listed, params = _in("sid", series_ids)
    return Sql(
        f"SELECT messages_in.id, messages_in.created_at FROM messages_in WHERE messages_in.id IN {listed}", params
    )


# -- the listing -----------------------------------------------------------------------------------------------
def task_key(row: Listed) -> Key:
    if Status(row.status).is_live:
        return (LIVE, row.process_after.isoformat(), row.id)
    return (ENDED, row.series_id or row.id, "")


def _live_start(after: Key | None) -> tuple[datetime, str] | None:
    if after is not None and after[0] not in (LIVE, ENDED):
        raise refused()
    return (instant(after[1]), after[2]) if after is not None and after[0] == LIVE else None


def tasks(
    db: Reader[R], *, status: TaskFilter, session: str | None, tag: str | None, after: Key | None, limit: int
) -> tuple[list[R], Key | None]:
    """The head rows of the next ``limit`` series after ``after``, and the key of the last if more follow."""
    found: list[R] = []
    start = _live_start(after)
    if after is None or after[0] == LIVE:
        for one in STATUSES[status]:
            found += db.rows(live_page(db.dialect, one, session=session, tag=tag, after=start, limit=limit + 1))
        found.sort(key=lambda row: (row.process_after, row.id))
        found = found[: limit + 1]
    if len(found) <= limit and status in (TaskFilter.ENDED, TaskFilter.ALL):
        before = after[1] if after is not None and after[0] == ENDED else None
        page = ended_page(db.dialect, session=session, tag=tag, before=before, limit=limit + 1 - len(found))
        ids = [sid for (sid,) in db.values(page) if sid]
        by_id = {row.series_id: row for row in db.rows(heads(db.dialect, ids))} if ids else {}
        found += [by_id[sid] for sid in ids if sid in by_id]  # as many as make the page and one more, if there are
    if len(found) > limit:
        return found[:limit], task_key(found[limit - 1])
    return found, None


def tasks_after(db: Reader[R], *, status: TaskFilter, session: str | None, tag: str | None, after: Key) -> Count:
    """How many series follow the key ``after``: exact up to the cap among the live ones; ended ones are counted
    among the next :data:`COUNT_CAP` series ids walked, so a count that stopped there says "at least"."""
    total = 0
    if after[0] == LIVE:
        start = _live_start(after)
        for one in STATUSES[status]:
            [(found,)] = db.values(live_count(db.dialect, one, session=session, tag=tag, after=start))
            total += int(found)
        if total > COUNT_CAP or status not in (TaskFilter.ENDED, TaskFilter.ALL):
            return capped(total)
    before = after[1] if after[0] == ENDED else None
    [(walked, ended)] = db.values(ended_count(db.dialect, session=session, tag=tag, before=before))
    total += int(ended)
    if walked > COUNT_CAP:
        return Count(min(max(total, 1), COUNT_CAP), exact=False)
    return capped(total)


def stats(db: Reader[R], series_ids: list[str]) -> tuple[dict[str, tuple[int, str | None]], dict[str, datetime]]:
    """Per series: (how many runs, the newest's outcome) of those that have run, and when each was made."""
    if not series_ids:
        return {}, {}
    counted = {sid: (int(n), outcome) for sid, n, outcome in db.values(run_stats(series_ids)) if sid is not None}
    return counted, {sid: stored_instant(at) for sid, at in db.values(series_created(series_ids))}
