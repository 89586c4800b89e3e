"""The tables of what starts work besides time: events and what each started (docs/events.md), the patterns tasks
listen to, a pre-script's state, dependencies and their rounds (docs/dependencies.md), webhooks (docs/hooks.md) and
the drop folder's ingested files (docs/drop-folder.md). Registered on the metadata by inbox.store.models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String
from sqlmodel import Field, SQLModel

from inbox.enums import MatchState, Outcome, When
from inbox.ids import new_id
from inbox.store.types import UTCDateTime, utcnow


class Event(SQLModel, table=True):
    """One emitted event (docs/events.md). ``session`` None: it is for every session's tasks.

    ``key`` (an idempotency key) is unique within ``scope`` (the session, or "" for an event without one) while
    it is younger than a day; an older event's key is cleared when the key is used again.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("uq_events_key", "key", "scope", unique=True),
        Index("ix_events_name", "name", "id"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=26)
    name: str = Field(max_length=200)
    session: str | None = Field(default=None, max_length=200)
    data: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    key: str | None = Field(default=None, max_length=200)
    scope: str = Field(default="", max_length=200)
    created_by: str = Field(default="user", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class EventMatch(SQLModel, table=True):
    """What one event did to one series: exactly one row per (event, series), whichever host or retry wrote it.

    ``message_id`` is the occurrence it started (``started`` or ``queued`` behind a running one); a ``coalesced``
    event started none, because the series already had one waiting.
    """

    __tablename__ = "event_matches"
    __table_args__ = (Index("ix_event_matches_series", "series_id", "event_id"),)

    event_id: str = Field(primary_key=True, max_length=26)
    series_id: str = Field(primary_key=True, max_length=26)
    message_id: str | None = Field(default=None, max_length=26)
    state: MatchState = Field(sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class EventTrigger(SQLModel, table=True):
    """One pattern a series listens to (``--on``): the index an event's candidates are found by.

    ``head`` is the pattern's first word, or "" when that is a wildcard (inbox.event_names.head_of): an event
    looks only at the patterns under its own first word and under "".
    """

    __tablename__ = "event_triggers"
    __table_args__ = (Index("ix_event_triggers_head", "head", "session"),)

    series_id: str = Field(primary_key=True, max_length=26)
    pattern: str = Field(primary_key=True, max_length=200)
    head: str = Field(max_length=200)
    session: str = Field(max_length=200)


class SeriesState(SQLModel, table=True):
    """The ``state`` a series' pre-script returned last, given to its next run (docs/prescripts.md)."""

    __tablename__ = "series_state"

    series_id: str = Field(primary_key=True, max_length=26)
    state: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Dependency(SQLModel, table=True):
    """One edge of the dependency graph: ``downstream_id`` runs after ``upstream_id`` (docs/dependencies.md).

    The ``ended_*`` columns hold the upstream's latest ending since the downstream's last round (None: none yet);
    a round takes them and clears them. ``when`` is the downstream's rule, the same on each of its edges.
    """

    __tablename__ = "dependencies"
    __table_args__ = (Index("ix_dependencies_upstream", "upstream_id", "downstream_id"),)

    downstream_id: str = Field(primary_key=True, max_length=26)
    upstream_id: str = Field(primary_key=True, max_length=26)
    when: When = Field(default=When.ALL_SUCCESS, sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    ended_message_id: str | None = Field(default=None, max_length=26)
    ended_run_id: str | None = Field(default=None, max_length=26)
    ended_outcome: Outcome | None = Field(default=None, sa_type=String(16))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class DependencyRound(SQLModel, table=True):
    """One round of a downstream task: the occurrence it started (or recorded ``upstream_failed``) and the upstream
    endings it took. The key (downstream, round) is what keeps two hosts from writing one round twice."""

    __tablename__ = "dependency_rounds"
    __table_args__ = (Index("ix_dependency_rounds_message", "message_id"),)

    downstream_id: str = Field(primary_key=True, max_length=26)
    round_no: int = Field(primary_key=True)
    message_id: str = Field(max_length=26)
    # [{"series_id", "message_id", "outcome", "ended_at"}], one per upstream ending the round took
    upstream: Any = Field(default=None, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Hook(SQLModel, table=True):
    """A named webhook (docs/hooks.md): ``POST /v1/hooks/NAME`` emits ``hook.NAME``.

    The secret is kept as it is, not as a digest: checking an ``X-Inbox-Signature`` (an HMAC of the body) needs
    the secret itself. Whoever can read the store can therefore call the hook; docs/hooks.md says so.
    """

    __tablename__ = "hooks"

    name: str = Field(primary_key=True, max_length=64)
    secret: str = Field(max_length=100)
    session: str | None = Field(default=None, max_length=200)  # None: its event is for every session's tasks
    message: bool = False  # the body is also dropped into the session as a chat message
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(default="user", max_length=200)


class DropIngested(SQLModel, table=True):
    """A file of the drop folder that became a message or an event (docs/drop-folder.md), written in the same
    transaction as what it became: a host that finds its key here moves the file without writing again."""

    __tablename__ = "drop_ingested"

    key: str = Field(primary_key=True, max_length=64)  # SHA-256 of the path in the folder, size and mtime
    path: str = Field(max_length=1000)
    message_id: str | None = Field(default=None, max_length=26)
    event_id: str | None = Field(default=None, max_length=26)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
