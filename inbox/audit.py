"""Reading the audit trail (docs/audit.md): ``inbox audit``, ``GET /v1/audit`` and the dashboard's audit page.

The records are written by the changes themselves (inbox.store.audit); here they are read newest first, for one
subject (anything that names a task, token, hook, channel or session) or all, paged as every listing is
(:mod:`inbox.paging`: keyset on the records' ids, an opaque cursor, a count that stops at 1,000).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from inbox import paging
from inbox import validation as check
from inbox.paging import Count, Key, Page
from inbox.store import audit
from inbox.store.engine import read_transaction
from inbox.views import Instant

LISTING = "audit"


class AuditEntry(BaseModel):
    """One change: who made it (set by the server, never by the caller), when, what, and the fields it changed."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str = Field(description="Sortable: a newer record has a greater id.")
    at: Instant
    actor: str = Field(description="cli, token:NAME, web:NAME, agent:SESSION, hook:NAME, mcp or host.")
    action: str = Field(description="task.create, task.update, task.pause, ..., token.revoke, channel.add, ...")
    subject: str = Field(description="The series id, or the token's, hook's, channel's or session's name.")
    session: str | None
    changes: dict[str, Any] = Field(description='Each changed field: {"before": ..., "after": ...}.')


def read(
    engine: Engine,
    ident: str | None = None,
    *,
    limit: int | None = paging.DEFAULT_PAGE,
    cursor: str | None = None,
    count: bool = False,
) -> Page[AuditEntry]:
    """The newest ``limit`` records (of what ``ident`` names, else all; every one for None), after ``cursor``."""
    check.filter_text(ident, field="subject")
    start = paging.decode_cursor(cursor, LISTING, parts=1)
    with read_transaction(engine) as db:
        subjects = audit.subjects_of(db, ident) if ident is not None else None

    def fetch(after: Key | None, size: int) -> tuple[list[AuditEntry], Key | None]:
        with read_transaction(engine) as db:
            rows = audit.newest(db, subjects, before=after[0] if after else None, limit=size + 1)
        found = [AuditEntry.model_validate(row) for row in rows[:size]]
        return found, (found[-1].id,) if len(rows) > size and found else None

    def more(after: Key) -> Count:
        with read_transaction(engine) as db:
            return paging.capped(audit.count_older(db, subjects, before=after[0], cap=paging.COUNT_CAP + 1))

    return paging.read(fetch, listing=LISTING, start=start, limit=limit, count=more if count else None)
