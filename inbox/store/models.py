"""The tables: inbound messages (every task is one), outbound messages and their channels, run history, API tokens,
web sessions, events, dependencies, webhooks and the drop folder's ingested files.

A recurring task is a *series* of rows in ``messages_in`` sharing ``series_id`` (the first row's id). Each
row is one *occurrence* standing for the slot ``occurrence_at``. The row that carries the series forward is
its *live* row (pending, running or paused); the database itself refuses a second live row per series and
a second row for the same (series, slot). Rows marked ``is_extra`` (a run-now, a missed-slot record) stand
beside the chain and never carry it forward.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from inbox.enums import (
    CatchUp,
    ChannelKind,
    DeliveryStatus,
    Kind,
    OutboxKind,
    Outcome,
    Status,
    TokenScope,
)
from inbox.ids import new_id
from inbox.store.page_tables import RunRollup, WebSession  # noqa: F401  (registers them on the metadata)
from inbox.store.tag_tables import TagLimit, TagStart, TaskTag  # noqa: F401  (registers them on the metadata)
from inbox.store.trigger_tables import (  # noqa: F401  (registers them on the metadata)
    Dependency,
    DependencyRound,
    DropIngested,
    Event,
    EventMatch,
    EventTrigger,
    Hook,
    SeriesState,
)
from inbox.store.types import UTCDateTime, utcnow
from inbox.task_rows import kind_of, script_of, text_of

LIVE_SQL = "status IN ('pending', 'running', 'paused')"
PENDING_SQL = "status = 'pending'"
WINDOWED_SQL = "status = 'pending' AND active_hours IS NOT NULL"
REMINDERS_SQL = "status = 'pending' AND remind = true"
# Pending http tasks: the JSON path is spelled per dialect (each planner matches a partial index's predicate by
# its expression, so the queries spell it the same way: inbox.store.filters.PENDING_HTTP).
HTTP_SQL = {
    "sqlite": "status = 'pending' AND json_extract(content, '$.do') = 'http'",
    "postgresql": "status = 'pending' AND (content ->> 'do') = 'http'",
}


def _instant(*, index: bool = False, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class MessageIn(SQLModel, table=True):
    __tablename__ = "messages_in"
    __table_args__ = (
        UniqueConstraint("series_id", "occurrence_at", name="uq_messages_in_series_slot"),
        # "What is due" walks this index from the oldest pending row: cost O(due rows), not O(table).
        Index("ix_messages_in_status_due", "status", "process_after", "id"),
        Index("ix_messages_in_session_status", "session", "status", "process_after", "id"),  # a session's listing
        # What a claim walks: per lane (``gate``) and priority, the oldest due rows first (inbox.store.due). Only
        # pending rows: a row leaves it once claimed, and what ends never costs it a write again.
        Index(
            "ix_messages_in_claim",
            "gate",
            "priority",
            "process_after",
            "id",
            sqlite_where=text(PENDING_SQL),
            postgresql_where=text(PENDING_SQL),
        ),
        Index("ix_messages_in_series", "series_id", "id"),
        # Finding a task by its name (the CLI, the API, the dashboard's search) without reading the table.
        Index(
            "ix_messages_in_name",
            "name",
            sqlite_where=text("name IS NOT NULL"),
            postgresql_where=text("name IS NOT NULL"),
        ),
        Index(
            "uq_messages_in_one_live_row",
            "series_id",
            unique=True,
            sqlite_where=text(f"{LIVE_SQL} AND NOT is_extra"),
            postgresql_where=text(f"{LIVE_SQL} AND NOT is_extra"),
        ),
        # The host's pass finds due rows held to their own window, due reminders and due http tasks without reading
        # the other due rows. They lead as the due index does, so that SQLite, planning without statistics, prefers
        # them to it.
        Index(
            "ix_messages_in_windowed",
            "status",
            "process_after",
            "id",
            sqlite_where=text(WINDOWED_SQL),
            postgresql_where=text(WINDOWED_SQL),
        ),
        Index(
            "ix_messages_in_reminders",
            "status",
            "process_after",
            "id",
            sqlite_where=text(REMINDERS_SQL),
            postgresql_where=text(REMINDERS_SQL),
        ),
        Index(
            "ix_messages_in_http",
            "status",
            "process_after",
            "id",
            sqlite_where=text(HTTP_SQL["sqlite"]),
            postgresql_where=text(HTTP_SQL["postgresql"]),
        ),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=26)
    session: str = Field(default="main", max_length=200)
    kind: Kind = Field(default=Kind.CHAT, sa_type=String(16))
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: Status = Field(default=Status.PENDING, sa_type=String(16))
    process_after: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recurrence: str | None = Field(default=None, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    series_id: str | None = Field(default=None, max_length=26)
    occurrence_at: datetime | None = _instant(nullable=True)
    occurrence_no: int = 1
    is_extra: bool = False
    tries: int = 0
    created_by: str = Field(default="user", max_length=200)
    # Who last wrote the script (an agent may attach one to a task a person made): what decides whether it may
    # run without a sandbox. None only on rows written by an older release: read it through ``script_author``.
    script_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    # Series settings, copied onto each occurrence so the live row always holds the current definition.
    name: str | None = Field(default=None, max_length=200)
    catch_up: CatchUp = Field(default=CatchUp.ONCE, sa_type=String(8))
    max_runs: int | None = None
    retries: int = 3
    timeout_s: float | None = None
    context: str | None = Field(default=None, max_length=16)
    remind: bool = False
    consecutive_failures: int = 0
    # When the series last alerted its channel about failing (inbox.store.alerts); None while it is not failing.
    alerted_at: datetime | None = _instant(nullable=True)
    # The channel its outbox rows go to: a channel's name, "none" (the outbox only), or None (its session's).
    deliver: str | None = Field(default=None, max_length=64)
    # What the follow-up of a running occurrence becomes: None (pending), "paused", or "cancelled" (none).
    next_status: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=2000)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = _instant(nullable=True)
    # Tags (docs/limits.md), None for none; the series' own, mirrored in ``task_tags``.
    tags: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # -10..10: due rows of a higher priority are claimed first, a waiting row rising a step per 5 minutes.
    priority: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # The claim lane: the first of the row's tags that has a limit, "" when none has (inbox.store.limits).
    gate: str = Field(default="", sa_column=Column(String(64), nullable=False, server_default=""))
    # The daily window its occurrences may run in, "HH:MM-HH:MM" on its zone's clock (inbox.schedules.active_hours);
    # None: its session's window, if the session has one.
    active_hours: str | None = Field(default=None, max_length=11)

    @property
    def text(self) -> str:
        return text_of(self.content)

    @property
    def script(self) -> str | None:
        return script_of(self.content)

    @property
    def do(self) -> str:
        """What a run of this row does (inbox.kinds): ``remind`` is its own column, other kinds are in content."""
        return kind_of(self.remind, self.content)

    @property
    def script_author(self) -> str:
        return self.script_by or self.created_by

    @property
    def kind_author(self) -> str:
        """Who wrote what a run does (``do`` and ``with``): the task's maker, or whoever changed them since."""
        return kind_author_of(self.content, self.created_by)


def kind_author_of(content: dict[str, Any], created_by: str) -> str:
    """``MessageIn.kind_author`` of a row read without building the model."""
    return str(content.get("kind_by") or created_by)


class Run(SQLModel, table=True):
    """One attempt at one occurrence, from start to recorded outcome."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_series", "series_id", "started_at"),
        Index("ix_runs_message", "message_id"),
        Index("ix_runs_ended", "ended_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=26)
    message_id: str = Field(max_length=26)
    series_id: str | None = Field(default=None, max_length=26)
    session: str = Field(default="main", max_length=200)
    attempt: int = 1
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    outcome: Outcome = Field(sa_type=String(16))
    error: str | None = Field(default=None, max_length=4000)
    script_output: str | None = Field(default=None, max_length=4000)
    model_output: str | None = Field(default=None, max_length=16384)
    input_tokens: int = 0
    output_tokens: int = 0
    runner: str | None = Field(default=None, max_length=100)

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


DELIVERABLE_SQL = "delivery = 'pending'"


class MessageOut(SQLModel, table=True):
    """What the agent (or a reminder, or the system) says to a session, and how its delivery through a channel
    stands (docs/delivery.md). A row to deliver is ``pending`` with ``next_attempt_at`` set: a deliverer claims it
    by moving that time to the end of its lease, so a host that dies mid-send leaves it due again then."""

    __tablename__ = "messages_out"
    __table_args__ = (
        Index("ix_messages_out_session", "session", "id"),
        # What is due to be sent: only pending rows are in it, so it stays small whatever the outbox holds.
        Index(
            "ix_messages_out_deliverable",
            "next_attempt_at",
            "id",
            sqlite_where=text(DELIVERABLE_SQL),
            postgresql_where=text(DELIVERABLE_SQL),
        ),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=26)
    session: str = Field(default="main", max_length=200)
    kind: OutboxKind = Field(default=OutboxKind.REPLY, sa_type=String(16))
    text: str = Field(default="", sa_type=Text)
    in_reply_to: str | None = Field(default=None, max_length=26)
    series_id: str | None = Field(default=None, max_length=26)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    channel: str | None = Field(default=None, max_length=64)  # decided when the row is written
    # Defaults in the database too: the batched reminder path leaves these out when no row of a batch has a channel.
    delivery: DeliveryStatus = Field(
        default=DeliveryStatus.NONE,
        sa_column=Column(String(16), nullable=False, server_default=DeliveryStatus.NONE.value),
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))  # sends started
    delivery_error: str | None = Field(default=None, max_length=2000)  # the last attempt's, while it matters
    next_attempt_at: datetime | None = _instant(nullable=True)
    delivery_owner: str | None = Field(default=None, max_length=100)  # the host sending it now
    delivered_at: datetime | None = _instant(nullable=True)


class Channel(SQLModel, table=True):
    """Where outbox rows are sent: a webhook, a local command, or a mailbox over SMTP (docs/delivery.md).

    The webhook's signing secret and any SMTP password (in ``target``'s URL) are kept as given: the host needs
    them to sign and to log in. Listings never show them.
    """

    __tablename__ = "channels"

    name: str = Field(primary_key=True, max_length=64)
    kind: ChannelKind = Field(sa_type=String(16))
    target: str = Field(sa_type=Text)  # the webhook URL, the command line, or the SMTP server's URL
    secret: str | None = Field(default=None, max_length=200)  # webhook: the HMAC-SHA256 key
    mail_to: str | None = Field(default=None, max_length=320)
    mail_from: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(default="user", max_length=200)


class SessionSettings(SQLModel, table=True):
    """What a session is set to beyond its messages: the channel its outbox rows go to by default, and the active
    hours of its tasks that have no window of their own."""

    __tablename__ = "session_settings"

    session: str = Field(primary_key=True, max_length=200)
    deliver: str | None = Field(default=None, max_length=64)  # a channel's name; None: the outbox only
    active_hours: str | None = Field(default=None, max_length=11)  # "HH:MM-HH:MM"; None: no window
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str = Field(default="user", max_length=200)


class ConversationTurn(SQLModel, table=True):
    """One turn of a conversation: a session's (``session:NAME``) or a series' own (``series:ID``).

    ``turn`` holds the provider-neutral turn (role, text, tool calls or tool result). Role ``summary`` stands
    for every older turn of its scope, written when the history outgrew its token budget.
    """

    __tablename__ = "conversation_turns"
    __table_args__ = (Index("ix_conversation_turns_scope", "scope", "id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=26)
    scope: str = Field(max_length=250)
    session: str = Field(max_length=200)
    message_id: str | None = Field(default=None, max_length=26)
    role: str = Field(max_length=16)
    turn: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    tokens: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Chore(SQLModel, table=True):
    """A job one host does for all (retention): who last took it, and when it is next due.

    Hosts sharing a store take a chore by moving ``due_at`` forward in one conditional update, so at most one
    host runs it per interval however many are up (sweeper/chores.py).
    """

    __tablename__ = "chores"

    name: str = Field(primary_key=True, max_length=64)
    owner: str | None = Field(default=None, max_length=100)
    started_at: datetime | None = _instant(nullable=True)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ApiToken(SQLModel, table=True):
    """A token of the public API, kept as its SHA-256 digest only (the token itself is shown once).

    Every host on the store checks a bearer token against this table on each request, so a revocation made by
    any process takes effect on all of them at once. Names are unique among tokens not revoked.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (
        Index("uq_api_tokens_digest", "digest", unique=True),
        Index(
            "uq_api_tokens_active_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=26)
    name: str = Field(max_length=64)
    digest: str = Field(max_length=64)  # hex SHA-256 of the token
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(default="user", max_length=200)
    last_used_at: datetime | None = _instant(nullable=True)
    revoked_at: datetime | None = _instant(nullable=True)
    scope: TokenScope = Field(default=TokenScope.ADMIN, sa_type=String(8))


class AuditRecord(SQLModel, table=True):
    """One change in the audit trail (docs/audit.md): who (``actor``, set by the server), when, what (``action`` on
    ``subject``: a series id, or a token's, hook's, channel's or session's name) and the fields it changed
    (``{field: {"before": ..., "after": ...}}``). Written in the transaction of the change itself; never updated,
    deleted only by retention (``INBOX_KEEP_AUDIT_DAYS``)."""

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_subject", "subject", "id"),  # one subject's records, newest first, by keyset
        Index("ix_audit_at", "at"),  # what retention deletes
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=26)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(max_length=200)
    action: str = Field(max_length=32)
    subject: str = Field(max_length=200)
    session: str | None = Field(default=None, max_length=200)
    changes: Any = Field(default=None, sa_column=Column(JSON, nullable=False))


# Size limits applied before writing run history, documented in docs/data-model.md.
MAX_ERROR_CHARS = 4000
MAX_SCRIPT_OUTPUT_CHARS = 4000
MAX_MODEL_OUTPUT_CHARS = 16384


def clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to at most ``limit`` characters, saying how many were cut."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 20] + f"… [{len(text) - limit + 20} chars cut]"
