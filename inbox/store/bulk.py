"""Set-based writes on the hot paths: due one-shot reminders ended, and inbound messages inserted, in batches.

A one-shot reminder without a pre-script is the simplest work there is: its text goes to the outbox, its run is
recorded ``completed``, and it has no follow-up and no catch-up (one-shots are never missed). So a batch is
ended with one ``UPDATE … WHERE id IN``, one multi-row insert into ``runs`` and one into ``messages_out``, all
in the caller's transaction: the same rows and the same guarantees as ``end_occurrence``, without building an
ORM object per row. Recurring reminders keep the general path (inbox.store.endings), which writes follow-ups.
Likewise ``insert_messages`` writes many inbound messages in one statement (``Inbox.send`` and ``send_many``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlmodel import Session, col

from inbox.enums import Kind, OutboxKind, Outcome, Status
from inbox.ids import new_id
from inbox.store.models import MessageIn, MessageOut, Run


def deliver_one_shot_reminders(db: Session, *, now: datetime, limit: int, runner: str) -> int:
    """End up to ``limit`` due one-shot, script-free reminders with their text in the outbox; returns how many."""
    table = MessageIn.__table__  # type: ignore[attr-defined]
    script = col(MessageIn.content)["script"].as_string()
    query = (
        select(table.c.id, table.c.session, table.c.content, table.c.series_id, table.c.tries)
        .where(
            table.c.status == Status.PENDING.value,
            table.c.process_after <= now,
            table.c.remind.is_(True),
            table.c.recurrence.is_(None),
            or_(script.is_(None), script == ""),
        )
        .order_by(table.c.process_after, table.c.id)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = db.execute(query).all()
    if not rows:
        return 0
    ids = [row.id for row in rows]
    db.execute(
        update(table)
        .where(table.c.id.in_(ids), table.c.status == Status.PENDING.value)
        .values(status=Status.COMPLETED.value, reason=None, lease_owner=None, lease_expires_at=None, updated_at=now)
    )
    db.execute(
        insert(Run.__table__),  # type: ignore[attr-defined]
        [
            {
                "id": new_id(),
                "message_id": row.id,
                "series_id": row.series_id,
                "session": row.session,
                "attempt": row.tries + 1,
                "started_at": now,
                "ended_at": now,
                "outcome": Outcome.COMPLETED.value,
                "input_tokens": 0,
                "output_tokens": 0,
                "runner": runner,
            }
            for row in rows
        ],
    )
    db.execute(
        insert(MessageOut.__table__),  # type: ignore[attr-defined]
        [
            {
                "id": new_id(),
                "session": row.session,
                "kind": OutboxKind.REMINDER.value,
                "text": str(row.content.get("text", "")),
                "in_reply_to": row.id,
                "series_id": row.series_id,
                "created_at": now,
            }
            for row in rows
        ],
    )
    return len(rows)


def insert_messages(
    db: Session,
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
    template_row = MessageIn(process_after=process_after)
    template = {column.name: getattr(template_row, column.name) for column in table.columns}
    rows = [
        {
            **template,
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
        db.info["wake"] = True  # PostgreSQL: tell sleeping sweepers (see inbox.store.engine.transaction)
    return rows
