"""Conversation history: what a run of a chat or task sees of earlier exchanges, by context mode.

* ``session``: the session's conversation (chat lines and tasks run in it share it);
* ``series``: one conversation per series, so a recurring task remembers its earlier runs;
* ``fresh``: none; nothing is read or written.

Chat messages always use their session's conversation. A task uses its ``--context``; without one, recurring
tasks run ``fresh`` and one-shots in the ``session`` (the default a person scheduling "remind me to follow up on
this" expects). Turns are stored as the runner reports them, in the transaction that ends the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete
from sqlmodel import Session, col, select

from inbox.enums import ContextMode, Kind
from inbox.store.models import ConversationTurn, MessageIn

SUMMARY = "summary"
_TURNS = ConversationTurn.__table__  # type: ignore[attr-defined]


def context_of(row: MessageIn) -> ContextMode:
    if row.kind == Kind.CHAT or (row.kind != Kind.TASK and not row.series_id):
        return ContextMode.SESSION
    if row.context:
        return ContextMode(row.context)
    return ContextMode.FRESH if row.recurrence else ContextMode.SESSION


def scope_of(row: MessageIn) -> str | None:
    mode = context_of(row)
    if mode == ContextMode.FRESH:
        return None
    if mode == ContextMode.SERIES:
        return f"series:{row.series_id or row.id}"
    return f"session:{row.session}"


def estimate_tokens(turn: dict[str, Any]) -> int:
    """About four characters a token: enough to keep a history under its budget."""
    size = len(str(turn.get("text", ""))) + sum(len(str(c)) for c in turn.get("tool_calls", ()))
    return size // 4 + 4


class StoredTurn(NamedTuple):
    id: str
    role: str
    turn: dict[str, Any]


def load(db: Session, scope: str, *, limit: int = 500) -> list[StoredTurn]:
    """The scope's newest summary (if any) and every turn after it, oldest first (at most ``limit``).

    Read as plain rows, not ORM objects: this read is on the way from a claim to the model request (the claim
    sends the conversation along), and building an ORM object per turn cost more than the read itself
    (docs/benchmarks.md, "Lateness").
    """
    query = (
        select(_TURNS.c.id, _TURNS.c.role, _TURNS.c.turn)
        .where(_TURNS.c.scope == scope)
        .order_by(_TURNS.c.id.desc())
        .limit(limit)
    )
    newest_first: list[StoredTurn] = []
    for row in db.connection().execute(query):
        newest_first.append(StoredTurn(row.id, row.role, row.turn))
        if row.role == SUMMARY:
            break
    return newest_first[::-1]


def newest(db: Session, scope: str) -> str | None:
    """The id of the scope's newest turn (a summary included), or None: whether a conversation read earlier is still
    the whole of it, in one step of the index :func:`load` reads."""
    query = select(_TURNS.c.id).where(_TURNS.c.scope == scope).order_by(_TURNS.c.id.desc()).limit(1)
    found: str | None = db.connection().execute(query).scalar()
    return found


def after(db: Session, scope: str, newest_id: str, *, limit: int = 500) -> list[StoredTurn]:
    """The scope's turns after ``newest_id``, oldest first (at most ``limit``): what a conversation read earlier,
    whose newest turn that was, lacks."""
    query = (
        select(_TURNS.c.id, _TURNS.c.role, _TURNS.c.turn)
        .where(_TURNS.c.scope == scope, _TURNS.c.id > newest_id)
        .order_by(_TURNS.c.id)
        .limit(limit)
    )
    return [StoredTurn(row.id, row.role, row.turn) for row in db.connection().execute(query)]


def summarized_since(db: Session, scope: str, since: datetime) -> bool:
    """Whether a summary was written to ``scope`` at ``since`` or later. A summary takes the id of the last turn it
    replaces (:func:`compact`), so :func:`after` cannot tell a conversation read earlier that some of it is gone."""
    query = select(_TURNS.c.id).where(_TURNS.c.scope == scope, _TURNS.c.role == SUMMARY, _TURNS.c.created_at >= since)
    return db.connection().execute(query.limit(1)).first() is not None


def append(
    db: Session, scope: str, *, session: str, message_id: str, turns: Sequence[dict[str, Any]], now: datetime
) -> None:
    for turn in turns:
        db.add(
            ConversationTurn(
                scope=scope,
                session=session,
                message_id=message_id,
                role=str(turn.get("role", "user")),
                turn=dict(turn),
                tokens=estimate_tokens(turn),
                created_at=now,
            )
        )


def compact(db: Session, scope: str, *, session: str, through_id: str, summary: str, now: datetime) -> None:
    """Replace every turn of ``scope`` up to ``through_id`` with one summary turn standing for them."""
    db.exec(
        delete(ConversationTurn).where(col(ConversationTurn.scope) == scope, col(ConversationTurn.id) <= through_id)
    )
    db.add(
        ConversationTurn(
            id=through_id,  # freed just above; sorts before every turn the summary did not replace
            scope=scope,
            session=session,
            role=SUMMARY,
            turn={"role": SUMMARY, "text": summary},
            tokens=len(summary) // 4 + 4,
            created_at=now,
        )
    )
