"""The tables only the dashboard's side of the host uses: its sign-in sessions (docs/dashboard.md#signing-in) and
the hourly roll-ups of the run history its stats page reads (inbox/store/rollups.py). Registered on the metadata
by inbox.store.models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Float, Index
from sqlmodel import Field, SQLModel

from inbox.store.types import UTCDateTime, utcnow


class WebSession(SQLModel, table=True):
    """A dashboard sign-in: the SHA-256 digest of the session id the browser holds in its cookie, and the digest
    of the API token it signed in with.

    The session lives only while that token is accepted (an active stored token, or ``INBOX_API_TOKEN``): revoking
    the token ends its sessions on every host at the next request. Signing out deletes the row.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_expires", "expires_at"),)

    digest: str = Field(primary_key=True, max_length=64)  # hex SHA-256 of the cookie's session id
    token_digest: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RunRollup(SQLModel, table=True):
    """The runs that ended within one UTC hour with one outcome, added up (inbox/store/rollups.py).

    A host writes the rows of each hour once it has passed (a chore); the stats page reads them instead of the runs,
    so its cost does not grow with the history. ``durations`` counts the runs per duration bucket
    (``inbox.store.stats.DURATION_BUCKETS``, then one for longer); ``lateness`` the first attempts among them per
    lateness bucket (``LATENESS_BUCKETS``), empty in hours rolled up before it was counted.
    """

    __tablename__ = "run_rollups"

    hour: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    outcome: str = Field(primary_key=True, max_length=16)
    runs: int = 0
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    duration_s: float = 0.0
    durations: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    lateness: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    lateness_s: float = Field(default=0.0, sa_column=Column(Float, nullable=False, server_default="0"))
