"""The Python API's delivery methods (``Inbox.add_channel``, ``channels``, ``remove_channel``, ``set_session``,
``sessions``), kept apart from inbox.api so each stays short; :class:`inbox.api.Inbox` has them all."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from inbox import validation as check
from inbox.channels import NO_CHANNEL, define_channel, deliver_choice
from inbox.enums import AuditAction, ChannelKind
from inbox.errors import InvalidInput
from inbox.schedules.active_hours import normalized as window_of
from inbox.store import channels as channel_store
from inbox.store.audit import record
from inbox.store.engine import read_transaction, transaction
from inbox.store.models import SessionSettings
from inbox.views import ChannelInfo, NewChannel, SessionInfo, channel_view, session_view

SECRET_BYTES = 32


class DeliveryMethods:
    engine: Engine
    actor: str
    clock: Callable[[], datetime]

    def add_channel(
        self,
        name: str,
        *,
        webhook: str | None = None,
        secret: str | None = None,
        command: str | None = None,
        smtp: str | None = None,
        to: str | None = None,
        sender: str | None = None,
    ) -> NewChannel:
        """Add a channel: exactly one of ``webhook`` (with ``secret``; one is made when not given), ``command``,
        or ``smtp`` with ``to`` (and ``sender``, the From address). A webhook's secret is in the answer."""
        definition = define_channel(
            name, webhook=webhook, secret_value=secret, command=command, smtp=smtp, to=to, sender=sender
        )
        if definition.kind == ChannelKind.WEBHOOK and definition.secret is None:
            definition = type(definition)(**{**definition.__dict__, "secret": secrets.token_urlsafe(SECRET_BYTES)})
        with transaction(self.engine) as db:
            now = self.clock()
            row = channel_store.add(db, definition, now=now, created_by=self.actor)
            made = channel_view(row, sessions=[])
            record(db, actor=self.actor, action=AuditAction.CHANNEL_ADD, subject=name, now=now, after=_fields(made))
        return NewChannel(**dict(made), secret=row.secret)

    def channels(self) -> list[ChannelInfo]:
        with read_transaction(self.engine) as db:
            rows = channel_store.listed(db)
            settings = channel_store.sessions(db)
        return [channel_view(row, sessions=[s.session for s in settings if s.deliver == row.name]) for row in rows]

    def remove_channel(self, name: str) -> ChannelInfo:
        """Remove a channel that no session or live task names; rows still waiting to go through it fail."""
        with transaction(self.engine) as db:
            gone = channel_view(channel_store.remove(db, name), sessions=[])
            before = _fields(gone)
            record(
                db, actor=self.actor, action=AuditAction.CHANNEL_REMOVE, subject=name, now=self.clock(), before=before
            )
            return gone

    def set_session(self, session: str, *, deliver: str | None = None, active_hours: str | None = None) -> SessionInfo:
        """Set the channel ``session``'s outbox rows go to by default (``none``: the outbox only) and the active hours
        of its tasks that have no window of their own (``HH:MM-HH:MM``; ``""`` removes them). None leaves a setting
        as it is; give at least one."""
        check.session_name(session)
        if deliver is None and active_hours is None:
            raise InvalidInput("session", "nothing to set; give deliver or active_hours", mentions=_SETTINGS)
        choice = deliver_choice(deliver) if deliver is not None else None
        window = None if active_hours is None else window_of(active_hours) if active_hours.strip() else ""
        with transaction(self.engine) as db:
            now = self.clock()
            kept = db.get(SessionSettings, session, with_for_update=True)  # before: as no other change leaves it
            before = _settings(kept) if kept is not None else dict.fromkeys(_SETTINGS)
            row = channel_store.set_session(
                db, session, deliver=choice, active_hours=window, now=now, updated_by=self.actor
            )
            record(
                db,
                actor=self.actor,
                action=AuditAction.SESSION_SET,
                subject=session,
                session=session,
                now=now,
                before=before,
                after=_settings(row),
            )
            return session_view(row)

    def sessions(self) -> list[SessionInfo]:
        """The sessions that have settings."""
        with read_transaction(self.engine) as db:
            return [session_view(row) for row in channel_store.sessions(db)]


_SETTINGS = ("deliver", "active_hours")


def _settings(row: SessionSettings) -> dict[str, str | None]:
    """What the audit trail records of a session's settings."""
    return {"deliver": row.deliver or NO_CHANNEL, "active_hours": row.active_hours}


def _fields(channel: ChannelInfo) -> dict[str, object]:
    """What the audit trail records of a channel: its kind and where it sends (an SMTP URL without its password;
    never a webhook's secret, only whether it signs)."""
    return {"kind": str(channel.kind), "target": channel.target, "to": channel.to, "signed": channel.signed}
