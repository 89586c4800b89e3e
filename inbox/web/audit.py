"""The dashboard's audit page: who changed what and when (docs/audit.md), newest first, filterable by subject.

It reads the trail as ``GET /v1/audit`` does (inbox.audit), a page at a time by keyset on the records' ids, so an
older page costs what the first does however long the trail is.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from inbox.audit import read
from inbox.store import pages, queries
from inbox.web.access import Viewer, host_inbox, viewer
from inbox.web.common import PAGE, refusing, router, text_filter
from inbox.web.render import page

Seen = Annotated[Viewer, Depends(viewer)]


def shown(value: Any) -> str:
    """A field's value as the page writes it: text as it is, anything else as JSON, nothing as a dash."""
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@router.get("/audit")
def audit_page(request: Request, seen: Seen, subject: str | None = None, cursor: str | None = None) -> Response:
    wanted = text_filter(subject, "subject")
    engine = host_inbox(request).engine
    with refusing():
        found = read(engine, wanted, limit=PAGE, cursor=cursor)
    with pages.reading(engine) as db:  # the tasks' names, for the eye; the record keeps the series id
        names = queries.series_names(db, [e.subject for e in found.rows if e.action.startswith("task.")])
    return page(
        request,
        "audit.html",
        seen,
        title="Audit",
        active="audit",
        entries=found.rows,
        subject=wanted or "",
        shown=shown,
        names=names,
        following=found.next_cursor,
    )
