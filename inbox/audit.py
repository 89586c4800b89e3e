"""Reading the audit trail (docs/audit.md): ``inbox audit``, ``GET /v1/audit`` and the dashboard's audit page.

The records are written by the changes themselves (inbox.store.audit); here they are read, newest first, a page at
a time by keyset on their ids, for one subject (anything that names a task, token, hook, channel or session) or all.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from inbox import validation as check
from inbox.audit_limits import DEFAULT_LIMIT as DEFAULT_LIMIT
from inbox.audit_limits import MAX_LIMIT as MAX_LIMIT
from inbox.store import audit
from inbox.store.engine import read_transaction
from inbox.store.models import AuditRecord
from inbox.views import Instant


class AuditEntry(BaseModel):
    """One change: who made it (set by the server, never by the caller), when, what, and the fields it changed."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str = Field(description="Sortable: a newer record has a greater id.")
    at: Instant
    actor: str = Field(description="cli, token:NAME, web:NAME, agent:SESSION, hook:NAME or mcp.")
    action: str = Field(description="task.create, task.update, task.pause, ..., token.revoke, channel.add, ...")
    subject: str = Field(description="The series id, or the token's, hook's, channel's or session's name.")
    session: str | None
    changes: dict[str, Any] = Field(description='Each changed field: {"before": ..., "after": ...}.')


class AuditPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: list[AuditEntry]
    more: bool  # older records follow: ask again with ``before`` = the last entry's id


def read(
    engine: Engine, ident: str | None = None, *, limit: int = DEFAULT_LIMIT, before: str | None = None
) -> AuditPage:
    """The newest ``limit`` records (of what ``ident`` names, else all) older than the record ``before``."""
    check.positive_int(limit, field="limit", maximum=MAX_LIMIT)
    check.filter_text(ident, field="subject")
    check.filter_text(before, field="cursor")
    with read_transaction(engine) as db:
        subjects = audit.subjects_of(db, ident) if ident is not None else None
        rows = audit.newest(db, subjects, before=before, limit=limit + 1)
    return AuditPage(entries=[_entry(row) for row in rows[:limit]], more=len(rows) > limit)


def count_older(engine: Engine, ident: str | None, *, before: str) -> int:
    with read_transaction(engine) as db:
        subjects = audit.subjects_of(db, ident) if ident is not None else None
        return audit.count_older(db, subjects, before=before)


def _entry(row: AuditRecord) -> AuditEntry:
    return AuditEntry.model_validate(row)
