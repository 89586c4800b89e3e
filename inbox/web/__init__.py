"""The web dashboard ``inbox serve --listen`` serves at ``/``: server-rendered pages (Jinja2) kept current by htmx.

Pages: :mod:`inbox.web.pages` (tasks, timeline, messages and run detail, outbox), :mod:`inbox.web.insight` (stats,
chat), :mod:`inbox.web.triggers` (events and hooks, the dependency graph), :mod:`inbox.web.audit` (the audit
trail); actions and signing in: :mod:`inbox.web.actions`; who may do what: :mod:`inbox.web.access`. The navigation
lists :data:`inbox.web.nav.NAV`. Everything the browser loads (htmx included, vendored under ``static/vendor``)
comes from this package: no CDN, no build step, it works offline. See docs/dashboard.md.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from inbox.web import actions, audit, insight, pages, triggers
from inbox.web.common import router
from inbox.web.render import HERE

__all__ = ["audit", "insight", "install", "pages", "triggers"]


def install(app: FastAPI) -> None:
    """Add the dashboard's pages, its static files (``/static``) and its refusal handling to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    actions.install_handlers(app)
