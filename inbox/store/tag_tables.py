"""The tables of tags and their limits (docs/limits.md), apart from ``models.py`` to keep it short.

A task's tags live on each of its rows (``messages_in.tags``, copied like every series setting) and, mirrored here,
in ``task_tags``: the index that finds a tag's tasks (``inbox tasks --tag``, a limit's running rows) without
reading every row. ``tag_limits`` holds one row per limited tag; a claimer locks the rows of the limits it fills
(PostgreSQL), so two hosts never both take the last slot. ``tag_starts`` logs each start of a rate-limited tag's
rows for as long as its window lasts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from inbox.ids import new_id
from inbox.store.types import UTCDateTime, utcnow


class TaskTag(SQLModel, table=True):
    __tablename__ = "task_tags"
    __table_args__ = (Index("ix_task_tags_tag", "tag", "series_id"),)

    series_id: str = Field(primary_key=True, max_length=26)
    tag: str = Field(primary_key=True, max_length=64)


class TagLimit(SQLModel, table=True):
    """At most ``max_running`` rows with ``tag`` running at once, and at most ``rate_count`` starts per
    ``rate_seconds``; either may be None (no such bound)."""

    __tablename__ = "tag_limits"

    tag: str = Field(primary_key=True, max_length=64)
    max_running: int | None = None
    rate_count: int | None = None
    rate_seconds: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(default="user", max_length=200)


class TagStart(SQLModel, table=True):
    """One start of a row carrying a rate-limited tag, kept while it counts against the rate's window."""

    __tablename__ = "tag_starts"
    __table_args__ = (Index("ix_tag_starts_tag", "tag", "started_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=26)
    tag: str = Field(max_length=64)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
