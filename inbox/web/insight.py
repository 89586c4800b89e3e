"""The stats page (runs by outcome, success rate, durations, tokens per day) and the chat page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from inbox import validation as check
from inbox.enums import Status, TokenScope
from inbox.store import pages, rollups, stats
from inbox.web.access import Viewer, check_csrf, host_inbox, require, same_origin, viewer
from inbox.web.common import refusing, router
from inbox.web.render import page, redirect
from inbox.web.words import NONE, short_duration

Seen = Annotated[Viewer, Depends(viewer)]
SPANS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
CHAT_ITEMS = 40


@router.get("/stats")
def stats_page(request: Request, seen: Seen, since: str = "7d") -> Response:
    span = since if since in SPANS else "7d"
    now = host_inbox(request).clock()
    start = now - SPANS[span]
    with pages.reading(host_inbox(request).engine) as db:
        totals, days = rollups.window(db, since=start, now=now)
        late = rollups.lateness(db, since=start)
    failures = {
        outcome: count for outcome, count in sorted(totals.by_outcome.items()) if outcome in stats.FAILED_OUTCOMES
    }
    busiest = max((d.input_tokens + d.output_tokens for d in days), default=0) or 1
    most_runs = max((d.runs for d in days), default=0) or 1
    return page(
        request,
        "stats.html",
        seen,
        title="Stats",
        active="stats",
        totals=totals,
        days=days,
        failures=failures,
        busiest=busiest,
        most_runs=most_runs,
        p50=_at_most(totals.duration_quantile(0.5), stats.DURATION_BUCKETS),
        p95=_at_most(totals.duration_quantile(0.95), stats.DURATION_BUCKETS),
        late50=_at_most(late.quantile(0.5), stats.LATENESS_BUCKETS),
        late99=_at_most(late.quantile(0.99), stats.LATENESS_BUCKETS),
        since=span,
        spans=list(SPANS),
        start=start,
    )


def _at_most(bound: float | None, bounds: tuple[float, ...]) -> str:
    """A quantile as its bucket says it: ``≤ 500 ms``, or ``> 30 min`` past the last bucket; a dash for no runs."""
    if bound is None:
        return NONE
    return f"≤ {short_duration(bound)}" if bound != float("inf") else f"> {short_duration(bounds[-1])}"


@dataclass(frozen=True)
class Line:
    """One line of the chat: what was said to the assistant, or what came back from it."""

    id: str
    at: datetime
    who: str  # you | assistant | task | reminder | system
    text: str
    status: str | None = None  # for what was said: pending | running | completed | failed ...
    note: str | None = None  # why it failed


@router.get("/chat")
def chat_page(request: Request, seen: Seen, session: str = "main") -> Response:
    with refusing():
        check.session_name(session)
    with pages.reading(host_inbox(request).engine) as db:
        items, asked = pages.chat_log(db, session=session, limit=CHAT_ITEMS)
    lines = [
        Line(m.id, m.created_at, "you", m.text, str(m.status), m.reason if m.status == Status.FAILED else None)
        for m in asked
    ]
    for item in items:
        who = "assistant" if item.kind == "reply" and item.series_id is None else str(item.kind)
        lines.append(Line(item.id, item.created_at, "task" if who == "reply" else who, item.text))
    lines.sort(key=lambda line: line.id)
    waiting = any(line.status in (Status.PENDING, Status.RUNNING) for line in lines)
    return page(
        request,
        "chat.html",
        seen,
        title="Chat",
        active="chat",
        session=session,
        lines=lines,
        waiting=waiting,
        can_send=seen.may(TokenScope.SEND),
    )


@router.post("/chat")
def chat_send(
    request: Request,
    seen: Seen,
    text: Annotated[str, Form()] = "",
    session: Annotated[str, Form()] = "main",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Drop the line into the session's inbox, as ``inbox chat`` does; the page shows the answer when it comes."""
    same_origin(request)
    check_csrf(request, seen, csrf)
    require(seen, TokenScope.SEND)
    with refusing():
        check.session_name(session)
        host_inbox(request).acting_as(seen.actor).send(text, session=session)
    return redirect(request, f"/chat?session={quote(session)}")
