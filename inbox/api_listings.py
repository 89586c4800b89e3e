"""The Python API's listings (``Inbox.tasks``, ``runs``, ``outbox`` and their pages), kept apart from inbox.api so
each stays short; :class:`inbox.api.Inbox` has them all.

``tasks_page``, ``runs_page`` and ``outbox_page`` answer a :class:`~inbox.paging.Page`: the rows, the cursor of the
next page, and (``count=True``) how many rows follow. ``tasks``, ``runs`` and ``outbox`` answer the rows alone, as
they always did (every task, 20 runs, 50 outbox items unless told otherwise). Paging is :mod:`inbox.paging`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from inbox import paging
from inbox import validation as check
from inbox.enums import Outcome, TaskFilter
from inbox.paging import Count, Key, Page
from inbox.store import limits as limit_store
from inbox.store import listings, lookup, queries, task_sql
from inbox.store.engine import read_transaction
from inbox.store.models import MessageIn
from inbox.views import OutboxItem, RunRecord, Task, outbox_view, run_view, task_view


def task_views(db: Session, heads: list[MessageIn], *, now: datetime) -> list[Task]:
    """Each series as listed: its head row, how many runs it has had, the newest's outcome, when it was made,
    and the tag limit it waits on (if it does)."""
    ids = [h.series_id for h in heads if h.series_id]
    stats, created = task_sql.stats(listings.SqlReader(db), ids)
    waits = limit_store.waits(db, heads, now=now)
    return [
        task_view(
            h,
            runs=stats.get(h.series_id or "", (0, None))[0],
            last_outcome=stats.get(h.series_id or "", (0, None))[1],
            created_at=created.get(h.series_id or ""),
            waiting_on=waits.get(h.id),
        )
        for h in heads
    ]


class ListingMethods:
    engine: Engine
    clock: Callable[[], datetime]

    def tasks_page(
        self,
        *,
        status: str = "active",
        session: str | None = None,
        tag: str | None = None,
        limit: int | None = paging.DEFAULT_PAGE,
        cursor: str | None = None,
        count: bool = False,
    ) -> Page[Task]:
        """Series, one row each: the live ones soonest next run first, then (``status`` ended or all) the ended
        ones newest first; ``tag``: only those carrying it. ``limit`` None reads every row."""
        which = check.choice(TaskFilter, status, field="status") or TaskFilter.ACTIVE
        check.filter_text(session, field="session")
        check.tag_filter(tag)
        listing = f"tasks:{which.value}"

        def fetch(after: Key | None, size: int) -> tuple[list[Task], Key | None]:
            with read_transaction(self.engine) as db:
                heads, last = listings.tasks(db, status=which, session=session, tag=tag, after=after, limit=size)
                return task_views(db, heads, now=self.clock()), last

        def more(after: Key) -> Count:
            with read_transaction(self.engine) as db:
                return listings.tasks_after(db, status=which, session=session, tag=tag, after=after)

        start = paging.decode_cursor(cursor, listing, parts=3)
        return paging.read(fetch, listing=listing, start=start, limit=limit, count=more if count else None)

    def tasks(
        self,
        *,
        status: str = "active",
        session: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> list[Task]:
        """One row per series (every one unless ``limit``); :meth:`tasks_page` says where the next page starts."""
        return self.tasks_page(status=status, session=session, tag=tag, limit=limit, cursor=cursor).rows

    def runs_page(
        self,
        ident: str,
        *,
        limit: int | None = paging.DEFAULT_PAGE,
        status: str | None = None,
        cursor: str | None = None,
        count: bool = False,
    ) -> Page[RunRecord]:
        """A task's run history (every occurrence's), or a message's attempts; the latest started first."""
        outcome = check.choice(Outcome, status, field="status")
        start = paging.decode_cursor(cursor, "runs", parts=2)
        with read_transaction(self.engine) as db:
            row = lookup.find_message(db, ident)
        series_id, message_id = row.series_id, row.id

        def fetch(after: Key | None, size: int) -> tuple[list[RunRecord], Key | None]:
            with read_transaction(self.engine) as db:
                found, last = listings.runs(
                    db, series_id=series_id, message_id=message_id, outcome=outcome, after=after, limit=size
                )
                return [run_view(r) for r in found], last

        def more(after: Key) -> Count:
            with read_transaction(self.engine) as db:
                return listings.runs_after(db, series_id=series_id, message_id=message_id, outcome=outcome, after=after)

        return paging.read(fetch, listing="runs", start=start, limit=limit, count=more if count else None)

    def runs(
        self, ident: str, *, limit: int | None = 20, status: str | None = None, cursor: str | None = None
    ) -> list[RunRecord]:
        """A task's run history (every occurrence's), or a message's attempts; the latest started first."""
        return self.runs_page(ident, limit=limit, status=status, cursor=cursor).rows

    def outbox_page(
        self,
        *,
        session: str | None = None,
        limit: int | None = paging.DEFAULT_PAGE,
        after: str | None = None,
        cursor: str | None = None,
        count: bool = False,
    ) -> Page[OutboxItem]:
        """What was sent, each page oldest first: the newest ``limit`` items, the next page the ones before them;
        or with ``after`` (an outbox id, "" for the very first) the ones after it, the next page the ones after
        those. ``limit`` None reads every item (from the first, unless ``after``). ``count``: how many items lie
        beyond the page (older ones, or with ``after`` newer ones)."""
        check.filter_text(session, field="session")
        check.filter_text(after, field="after")
        given = paging.decode_cursor(cursor, "outbox", parts=2)
        forward = after is not None or limit is None
        start: Key = given or ((listings.NEWER, after or "") if forward else (listings.OLDER, ""))
        older = start[0] == listings.OLDER

        def fetch(key: Key | None, size: int) -> tuple[list[OutboxItem], Key | None]:
            with read_transaction(self.engine) as db:
                found, last = listings.outbox(db, session=session, after=key or start, limit=size)
                names = queries.series_names(db, [m.series_id for m in found if m.series_id])
                return [outbox_view(m, task=names.get(m.series_id or "")) for m in found], last

        def more(key: Key) -> Count:
            with read_transaction(self.engine) as db:
                return listings.outbox_after(db, session=session, after=key)

        page = paging.read(fetch, listing="outbox", start=start, limit=limit, count=more if count else None)
        return Page(page.rows[::-1], page.next_cursor, page.more) if older else page

    def outbox(
        self, *, session: str | None = None, limit: int | None = 50, after: str | None = None, cursor: str | None = None
    ) -> list[OutboxItem]:
        """What was sent, oldest first: the newest ``limit`` items, or with ``after`` the ones after it."""
        return self.outbox_page(session=session, limit=limit, after=after, cursor=cursor).rows
