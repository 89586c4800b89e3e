"""The Python API's delivery methods (``Inbox.add_channel``, ``channels``, ``remove_channel``, ``set_session``,
``sessions``), kept apart from inbox.api so each stays short; :class:`inbox.api.Inbox` has them all."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from inbox import validation as check
from inbox.channels import define_channel, deliver_choice
from inbox.enums import ChannelKind
from inbox.store import channels as channel_store
from inbox.store.engine import read_transaction, transaction
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
            row = channel_store.add(db, definition, now=self.clock(), created_by=self.actor)
        return NewChannel(**dict(channel_view(row, sessions=[])), secret=row.secret)

    def channels(self) -> list[ChannelInfo]:
        with read_transaction(self.engine) as db:
            rows = channel_store.listed(db)
            settings = channel_store.sessions(db)
        return [channel_view(row, sessions=[s.session for s in settings if s.deliver == row.name]) for row in rows]

    def remove_channel(self, name: str) -> ChannelInfo:
        """Remove a channel that no session or live task names; rows still waiting to go through it fail."""
        with transaction(self.engine) as db:
            return channel_view(channel_store.remove(db, name), sessions=[])

    def set_session(self, session: str, *, deliver: str) -> SessionInfo:
        """Set the channel ``session``'s outbox rows go to by default (``none``: the outbox only)."""
        check.session_name(session)
        choice = deliver_choice(deliver)
        with transaction(self.engine) as db:
            row = channel_store.set_session(db, session, deliver=choice, now=self.clock(), updated_by=self.actor)
            return session_view(row)

    def sessions(self) -> list[SessionInfo]:
        """The sessions that have settings."""
        with read_transaction(self.engine) as db:
            return [session_view(row) for row in channel_store.sessions(db)]
