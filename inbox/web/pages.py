"""The dashboard's list pages: tasks, the timeline, chat messages and one message's runs, the outbox.

Each reads one page of rows in one read-only transaction (:mod:`inbox.store.pages`) and renders it whole; the page
polls itself and htmx swaps in the part that changed, so it stays current without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from inbox.api_limits import views as limit_views
from inbox.enums import OutboxKind, Outcome, Status, TaskFilter
from inbox.store import channels as channel_store
from inbox.store import lookup, pages, progress, queries
from inbox.store.hours import session_windows
from inbox.store.models import MessageIn, Run
from inbox.views import series_status
from inbox.web.access import Viewer, host_inbox, viewer
from inbox.web.common import PAGE, choice_filter, cursor, cursor_of, id_cursor, refusing, router, text_filter
from inbox.web.render import page, redirect

Seen = Annotated[Viewer, Depends(viewer)]
TASK_TABS = (TaskFilter.ACTIVE, TaskFilter.PAUSED, TaskFilter.ENDED)


@dataclass(frozen=True)
class TaskRow:
    row: MessageIn
    status: str  # active | running | paused | ended | cancelled
    recent: list[pages.Tick]  # oldest first, for the strip
    window: str | None = None  # the active hours it is held to: its own, else its session's (marked so)

    @property
    def series_id(self) -> str:
        return self.row.series_id or self.row.id

    @property
    def last_outcome(self) -> str | None:
        return self.recent[-1].outcome if self.recent else None

    @property
    def progress(self) -> dict[str, Any] | None:
        """How far the running occurrence has come (its latest report), shown while it runs."""
        return progress.latest(self.row) if self.row.status == Status.RUNNING else None


@router.get("/")
def home(request: Request, _seen: Seen) -> Response:
    return redirect(request, "/tasks")


@router.get("/tasks")
def tasks(
    request: Request,
    seen: Seen,
    status: str = "active",
    session: str | None = None,
    q: str | None = None,
    after: str | None = None,
) -> Response:
    tab = choice_filter(TaskFilter, status, "status") or TaskFilter.ACTIVE
    if tab not in TASK_TABS:
        tab = TaskFilter.ACTIVE
    where = text_filter(session, "session")
    search = text_filter(q, "q")
    with pages.reading(host_inbox(request).engine) as db:
        if search is not None:  # a name or an id: every series it names, filtered by the tab
            named = [r for r in pages.named_series(db, search) if _in_tab(r, tab) and where in (None, r.session)]
            found = pages.Page(named, more=False)
        elif tab == TaskFilter.ENDED:
            found = pages.ended_series(db, session=where, before=id_cursor(after, "after"), limit=PAGE)
        else:
            start = cursor(after, "after")
            found = pages.live_series(db, status=tab, session=where, after=start, limit=PAGE)
        recent = pages.recent_outcomes(db, [r.series_id for r in found.rows if r.series_id])
        limits = limit_views(db) if tab == TaskFilter.ACTIVE else []  # what the live tasks wait on
        settings = channel_store.sessions(db) if tab == TaskFilter.ACTIVE else []
        windows = session_windows(db, {r.session for r in found.rows if r.active_hours is None})
    rows = [
        TaskRow(r, series_status(r), recent.get(r.series_id or "", [])[::-1], _window(r, windows)) for r in found.rows
    ]
    following = None
    if found.more and rows:
        last = rows[-1].row
        following = (last.series_id or last.id) if tab == TaskFilter.ENDED else cursor_of(last.process_after, last.id)
    return page(
        request,
        "tasks.html",
        seen,
        title="Tasks",
        active="tasks",
        rows=rows,
        tab=tab.value,
        tabs=[t.value for t in TASK_TABS],
        session=where or "",
        q=search or "",
        following=following,
        first_page=after is None,
        limits=limits,
        sessions=settings,
    )


def _window(row: MessageIn, sessions: dict[str, str]) -> str | None:
    if row.active_hours:
        return row.active_hours
    if row.session in sessions:
        return f"{sessions[row.session]} (session {row.session})"
    return None


def _in_tab(row: MessageIn, tab: TaskFilter) -> bool:
    if tab == TaskFilter.PAUSED:
        return row.status == Status.PAUSED
    if tab == TaskFilter.ENDED:
        return not Status(row.status).is_live
    return row.status in (Status.PENDING, Status.RUNNING)


@dataclass(frozen=True)
class Moment:
    """One point of the timeline: a run that ended, or an occurrence (or a message) still to come."""

    at: datetime
    run: Run | None
    due: MessageIn | None
    task_name: str | None


@router.get("/timeline")
def timeline(
    request: Request,
    seen: Seen,
    session: str | None = None,
    outcome: str | None = None,
    task: str | None = None,
    before: str | None = None,
) -> Response:
    where = text_filter(session, "session")
    ended = choice_filter(Outcome, outcome, "outcome")
    series = text_filter(task, "task")
    start = cursor(before, "before")
    with pages.reading(host_inbox(request).engine) as db:
        if series is not None:
            with refusing():
                series = lookup.find_series_id(db, series)
        past = pages.past_runs(db, session=where, outcome=ended, series_id=series, before=start, limit=PAGE)
        # What is still to come has no outcome: shown with the newest runs, unfiltered by outcome.
        future = (
            []
            if start is not None or ended is not None
            else pages.upcoming(db, session=where, series_id=series, limit=20)
        )
        ids = [r.series_id for r in past.rows if r.series_id] + [m.series_id for m in future if m.series_id]
        names = queries.series_names(db, ids)
    ahead = [Moment(m.process_after, None, m, names.get(m.series_id or "")) for m in reversed(future)]
    behind = [Moment(r.ended_at, r, None, names.get(r.series_id or "")) for r in past.rows]
    following = cursor_of(past.rows[-1].ended_at, past.rows[-1].id) if past.more and past.rows else None
    return page(
        request,
        "timeline.html",
        seen,
        title="Timeline",
        active="timeline",
        ahead=ahead,
        behind=behind,
        axis=_axis(ahead + behind, host_inbox(request).clock()),
        session=where or "",
        outcome=ended.value if ended else "",
        outcomes=[o.value for o in Outcome],
        task=series or "",
        following=following,
    )


def _axis(moments: list[Moment], now: datetime) -> dict[str, object]:
    """Where each moment sits on one horizontal time axis (0..1000), with "now" marked."""
    instants = [m.at for m in moments] + [now]
    first, last = min(instants), max(instants)
    span = (last - first).total_seconds() or 1.0

    def x(instant: datetime) -> float:
        return round(10 + 980 * (instant - first).total_seconds() / span, 1)

    points = [
        {"x": x(m.at), "kind": m.run.outcome if m.run else "scheduled", "label": m.task_name or ""} for m in moments
    ]
    return {"points": points, "now": x(now), "first": first, "last": last}


@router.get("/messages")
def messages(
    request: Request, seen: Seen, status: str | None = None, session: str | None = None, before: str | None = None
) -> Response:
    which = choice_filter(Status, status, "status")
    where = text_filter(session, "session")
    with pages.reading(host_inbox(request).engine) as db:
        found = pages.chat_messages(db, status=which, session=where, before=id_cursor(before, "before"), limit=PAGE)
    return page(
        request,
        "messages.html",
        seen,
        title="Messages",
        active="messages",
        rows=found.rows,
        status=which.value if which else "",
        statuses=[s.value for s in Status],
        session=where or "",
        following=found.rows[-1].id if found.more and found.rows else None,
    )


@router.get("/messages/{message_id}")
def message_detail(request: Request, seen: Seen, message_id: str) -> Response:
    """One message or task occurrence: each attempt (script output, the model's output, tokens, error), the
    conversation turns stored for it, and what it answered."""
    with pages.reading(host_inbox(request).engine) as db:
        with refusing():
            row = lookup.find_message(db, message_id)
        attempts = queries.runs_of_message(db, row.id, limit=100, outcome=None)
        turns = pages.turns_of(db, row)
        answers = pages.answers_to(db, row)
        task_name = queries.series_names(db, [row.series_id]).get(row.series_id or "") if row.series_id else None
    return page(
        request,
        "message.html",
        seen,
        title=f"Run detail {row.id}",
        active="messages" if row.series_id is None else "timeline",
        row=row,
        attempts=attempts,
        turns=turns,
        answers=answers,
        task_name=task_name,
        live=Status(row.status).is_live,
        progress=progress.latest(row),
    )


@router.get("/runs/{run_id}")
def run_detail(request: Request, seen: Seen, run_id: str) -> Response:
    """A run's page is its message's, at that attempt."""
    with pages.reading(host_inbox(request).engine) as db:
        run = db.get(Run, run_id.strip().upper())
    if run is None:
        return page(request, "refused.html", seen, code=404, title="Not found", message=f"no run has the id {run_id!r}")
    return redirect(request, f"/messages/{run.message_id}#run-{run.id}")


@router.get("/outbox")
def outbox(
    request: Request, seen: Seen, session: str | None = None, kind: str | None = None, before: str | None = None
) -> Response:
    where = text_filter(session, "session")
    which = choice_filter(OutboxKind, kind, "kind")
    with pages.reading(host_inbox(request).engine) as db:
        found = pages.outbox_page(
            db, session=where, kind=which.value if which else None, before=id_cursor(before, "before"), limit=PAGE
        )
        names = queries.series_names(db, [m.series_id for m in found.rows if m.series_id])
    return page(
        request,
        "outbox.html",
        seen,
        title="Outbox",
        active="outbox",
        rows=found.rows,
        names=names,
        session=where or "",
        kind=which.value if which else "",
        kinds=[k.value for k in OutboxKind],
        following=found.rows[-1].id if found.more and found.rows else None,
    )
