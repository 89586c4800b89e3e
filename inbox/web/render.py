"""Rendering the dashboard's pages: the templates, what every page gets, and the headers every answer carries."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from inbox.web import words
from inbox.web.access import Viewer, host_inbox
from inbox.web.nav import NAV

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")

# Only this host's own scripts, styles and images: nothing inline, nothing from elsewhere, never in a frame.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def here(request: Request) -> str:
    """This page's own path and query, to poll it and to come back to after an action."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def page(request: Request, template: str, seen: Viewer | None, *, code: int = 200, **context: Any) -> Response:
    """A whole page (htmx picks the parts it swaps from it), in the viewer's zone."""
    now = host_inbox(request).clock()
    zone = seen.zone if seen is not None else words.UTC_ZONE
    context.update(
        request=request,
        viewer=seen,
        nav=NAV,
        here=here(request),
        now=now,
        zone=zone,
        at=functools.partial(words.local_time, zone=zone, now=now),
        ago=functools.partial(words.relative, now=now),
        in_zone=lambda instant, name: words.local_time(instant, words.zone_named(name, zone), now),
        schedule_words=words.schedule_in_words,
        duration=words.short_duration,
        first_line=words.first_line,
    )
    response = templates.TemplateResponse(request, template, context, status_code=code)
    return secured(response)


def redirect(request: Request, to: str) -> Response:
    """After a sign-in or an action: 303 to a page (a plain form follows it; so does htmx's fetch)."""
    return secured(RedirectResponse(to, status_code=303))


def refusal(request: Request, seen: Viewer | None, status: int, message: str) -> Response:
    """Why something was refused: in the page's notice area for htmx, else as a page of its own."""
    if is_htmx(request):
        body = templates.get_template("_flash.html").render(message=message, kind="error")
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML", "HX-Reselect": ".flash"}
        return secured(HTMLResponse(body, status_code=status, headers=headers))
    return page(request, "refused.html", seen, code=status, message=message, title=f"Refused ({status})")
