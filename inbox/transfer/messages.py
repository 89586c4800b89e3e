"""The ``messages`` section: inbound messages not yet handled that belong to no series (a chat line sent for
later with ``inbox send --at``, a webhook's body waiting for its runner). What was handled already is history and
stays behind, as a series' runs do. A message being handled when exported is exported as pending."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, JsonValue, Strict
from sqlmodel import Session, col, select

from inbox import validation as check
from inbox.enums import LIVE_STATUSES, Kind, Status
from inbox.store.models import MessageIn
from inbox.transfer.section import Author, Content, Id, Instant, Item, Section, SessionName, chunks


class MessageContent(Content):
    """The message's ``content``: its text and any data it carries."""

    text: Annotated[str, Field(max_length=check.MAX_TEXT)] = ""
    data: JsonValue = None


class MessageItem(Item):
    id: Id
    session: SessionName = "main"
    kind: Annotated[Kind, Strict(False)] = Kind.CHAT
    content: MessageContent
    status: Literal["pending", "paused"] = "pending"
    process_after: Instant
    tries: Annotated[int, Field(ge=0, le=check.MAX_RUNS)] = 0
    created_by: Author = "user"
    created_at: Instant


def _dump(db: Session) -> list[MessageItem]:
    rows = db.exec(
        select(MessageIn)
        .where(
            col(MessageIn.series_id).is_(None),
            col(MessageIn.status).in_([s.value for s in LIVE_STATUSES]),
        )
        .order_by(col(MessageIn.id))
    ).all()
    return [
        MessageItem.model_validate(
            {
                "id": row.id,
                "session": row.session,
                "kind": row.kind,
                "content": dict(row.content),
                "status": Status.PAUSED.value if row.status == Status.PAUSED else Status.PENDING.value,
                "process_after": row.process_after,
                "tries": row.tries,
                "created_by": row.created_by,
                "created_at": row.created_at,
            },
            strict=False,
        )
        for row in rows
    ]


def _present(db: Session, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(list(keys)):
        found.update(db.exec(select(MessageIn.id).where(col(MessageIn.id).in_(part))).all())
    return found


def _write(db: Session, items: Sequence[MessageItem], now: datetime) -> None:
    for item in items:
        db.add(
            MessageIn(
                id=item.id,
                session=item.session,
                kind=item.kind,
                content=item.content.model_dump(mode="json"),
                status=Status(item.status),
                process_after=item.process_after,
                tries=item.tries,
                created_by=item.created_by,
                created_at=item.created_at,
                updated_at=now,
            )
        )
    db.flush()


MESSAGES: Section[MessageItem] = Section(
    name="messages",
    item=MessageItem,
    dump=_dump,
    key=lambda item: item.id,
    present=_present,
    write=_write,
)
