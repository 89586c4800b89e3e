"""Inbound messages inserted set-based: many rows in one statement (``Inbox.send`` and ``send_many``).

Due reminders are ended set-based too, in inbox.store.reminders.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, insert
from sqlmodel import Session

from inbox.enums import Kind, Status
from inbox.ids import new_id
from inbox.store.models import MessageIn


@cache
def _defaults() -> dict[str, Any]:
    """Every column's default as the model gives it (building a model object costs more than the insert)."""
    row = MessageIn(process_after=datetime.fromtimestamp(0, UTC))
    return {column.name: getattr(row, column.name) for column in MessageIn.__table__.columns}  # type: ignore[attr-defined]


def insert_messages(
    db: Session | Connection,
    texts: Sequence[str],
    *,
    session: str,
    kind: Kind,
    process_after: datetime,
    now: datetime,
    created_by: str,
) -> list[dict[str, Any]]:
    """Insert inbound messages with one multi-row statement; returns the rows as written.

    Every column gets the value the model's own defaults would give (taken once from a template row), so a
    message written here is indistinguishable from one written through the ORM.
    """
    table = MessageIn.__table__  # type: ignore[attr-defined]
    rows = [
        {
            **_defaults(),
            "id": new_id(),
            "session": session,
            "kind": kind.value,
            "status": Status.PENDING.value,
            "content": {"text": text},
            "process_after": process_after,
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        }
        for text in texts
    ]
    if rows:
        db.execute(insert(table), rows)
        db.info["wake"] = True  # PostgreSQL: tell sleeping sweepers (see inbox.store.engine)
    return rows
