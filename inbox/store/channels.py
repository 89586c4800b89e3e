"""Channels and the session settings (a session's channel and active hours), and which channel an outbox row goes to.

A row's channel is decided once, when the row is written (:func:`channel_for`): the task's own ``deliver`` when it
has one (``none`` meaning the outbox only), else its session's channel, else none. Changing a session's channel
later does not re-route what was already written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from inbox.channels import NO_CHANNEL, ChannelDefinition
from inbox.enums import LIVE_STATUSES
from inbox.errors import Conflict, InvalidInput, NotFound
from inbox.store.models import Channel, MessageIn, SessionSettings

_LIVE = [s.value for s in LIVE_STATUSES]
SHOWN_USERS = 5  # tasks named when a channel cannot be removed


def add(db: Session, definition: ChannelDefinition, *, now: datetime, created_by: str) -> Channel:
    if db.get(Channel, definition.name) is not None:
        raise InvalidInput("name", f"a channel named {definition.name!r} exists; remove it first to change it")
    row = Channel(
        name=definition.name,
        kind=definition.kind,
        target=definition.target,
        secret=definition.secret,
        mail_to=definition.mail_to,
        mail_from=definition.mail_from,
        created_at=now,
        created_by=created_by,
    )
    db.add(row)
    db.flush()
    return row


def listed(db: Session) -> list[Channel]:
    return list(db.exec(select(Channel).order_by(col(Channel.name))).all())


def users(db: Session, name: str) -> tuple[list[str], list[str]]:
    """The sessions whose channel ``name`` is, and the live tasks (series ids) that name it."""
    sessions = db.exec(select(SessionSettings.session).where(SessionSettings.deliver == name)).all()
    tasks = db.exec(
        select(MessageIn.series_id)
        .where(MessageIn.deliver == name, col(MessageIn.status).in_(_LIVE), col(MessageIn.series_id).is_not(None))
        .distinct()
    ).all()
    return sorted(sessions), sorted(str(series) for series in tasks)


def remove(db: Session, name: str) -> Channel:
    """Remove a channel no session or live task names (they would silently fall back to the outbox)."""
    row = db.get(Channel, name, with_for_update=True)
    if row is None:
        raise NotFound("channel", name, field="name")
    sessions, tasks = users(db, name)
    if sessions or tasks:
        named = [f"session {s}" for s in sessions] + [f"task {t}" for t in tasks[:SHOWN_USERS]]
        more = f" and {len(tasks) - SHOWN_USERS} more tasks" if len(tasks) > SHOWN_USERS else ""
        raise Conflict(
            f"channel {name!r} is in use by {', '.join(named)}{more}: give them another channel first "
            "(inbox session set S --deliver none, inbox update ID --deliver '')"
        )
    db.delete(row)
    return row


def existing(db: Session, deliver: str | None, *, field: str = "deliver") -> str | None:
    """``deliver`` when it is None, ``none`` or the name of a channel; else a refusal naming ``field``."""
    if deliver is None or deliver == NO_CHANNEL or db.get(Channel, deliver) is not None:
        return deliver
    names = [row.name for row in listed(db)]
    known = f"the channels are: {', '.join(names)}" if names else "there are no channels yet (inbox channel add)"
    raise InvalidInput(field, f"no channel named {deliver!r}; {known}")


def set_session(
    db: Session,
    session: str,
    *,
    deliver: str | None,
    active_hours: str | None = None,
    now: datetime,
    updated_by: str,
) -> SessionSettings:
    """Set ``session``'s channel (``none``: the outbox only) and its tasks' active hours (checked; ``""`` removes
    them); None leaves a setting as it is."""
    existing(db, deliver)
    row = db.get(SessionSettings, session, with_for_update=True)
    if row is None:
        row = SessionSettings(session=session)
        db.add(row)
    if deliver is not None:
        row.deliver = None if deliver == NO_CHANNEL else deliver
    if active_hours is not None:
        row.active_hours = active_hours or None
    row.updated_at, row.updated_by = now, updated_by
    db.flush()
    return row


def sessions(db: Session) -> list[SessionSettings]:
    return list(db.exec(select(SessionSettings).order_by(col(SessionSettings.session))).all())


# Built once: the batched reminder path asks it for every batch, where building it anew costs more than running it.
_SESSION_CHANNELS = select(SessionSettings.session, SessionSettings.deliver).where(
    col(SessionSettings.session).in_(bindparam("sessions", expanding=True)), col(SessionSettings.deliver).is_not(None)
)


def session_channels(db: Session, names: Iterable[str]) -> dict[str, str]:
    """The channel of each of these sessions that has one."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    found = db.connection().execute(_SESSION_CHANNELS, {"sessions": wanted}).all()
    return {session: str(deliver) for session, deliver in found if deliver}


def decide(deliver: str | None, session_channel: str | None) -> str | None:
    """The channel of a row from its task's ``deliver`` and its session's channel; None: the outbox only."""
    if deliver == NO_CHANNEL:
        return None
    return deliver or session_channel


def channel_for(db: Session, session: str, deliver: str | None) -> str | None:
    """The channel a row of ``session`` written for a task with ``deliver`` goes to (None: the outbox only)."""
    if deliver is not None:
        return decide(deliver, None)
    settings = db.get(SessionSettings, session)
    return settings.deliver if settings is not None else None
