"""What the Python API, the CLI and the HTTP API hand back: frozen pydantic models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from inbox.channels import NO_CHANNEL, shown_target
from inbox.enums import ChannelKind, DeliveryStatus, Status, TokenScope, TokenStatus
from inbox.store.changes import apply_changes
from inbox.store.models import ApiToken, Channel, MessageIn, MessageOut, Run, SessionSettings
from inbox.task_rows import describe_schedule as describe_schedule
from inbox.task_rows import status_word as status_word
from inbox.task_rows import task_fields

# ISO 8601 with a numeric offset everywhere ("+00:00", never "Z"), in the zone the value carries.
Instant = Annotated[datetime, PlainSerializer(lambda value: value.isoformat(), when_used="json")]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, serialize_by_alias=True, validate_by_name=True)  # Task.with_ is "with"


class _FromRow(Frozen):
    """A view whose fields are its row's attributes of the same names: ``model_validate(row)``."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


class Scheduled(Frozen):
    """The echo of a created task: where it lives and when it fires next."""

    id: str
    series_id: str
    session: str
    name: str | None
    schedule: str
    timezone: str
    next_runs: list[Instant]  # aware, in the task's zone


class Task(Frozen):
    """One series, as ``inbox tasks`` lists it."""

    series_id: str
    id: str  # the live occurrence, or the newest one once the series has ended
    name: str | None
    session: str
    status: str  # active | running | paused | ended | cancelled
    schedule: str
    recurrence: str | None
    on: list[str]  # the event patterns that start it (docs/events.md)
    after: list[str]  # the series ids of the tasks it runs after (docs/dependencies.md)
    when: str | None  # all_success | all_done | any_success; None without after
    timezone: str
    next_run: Instant | None  # UTC; None once ended, and for a task no time starts (only events)
    next_run_local: Instant | None  # in the task's zone
    last_outcome: str | None
    runs: int
    prompt: str
    script: str | None
    script_by: str | None  # who wrote the script ("agent:SESSION" when an agent did); None without a script
    remind: bool
    do: str  # what a run does: agent, remind, http, command or a worker (inbox.kinds)
    with_: dict[str, Any] | None = Field(alias="with")  # the kind's input
    # While an occurrence runs and a change of do/with waits on it: what that occurrence still does (do and with
    # above are what the next one does); None otherwise.
    running_do: str | None = None
    running_with: dict[str, Any] | None = None
    progress: dict[str, Any] | None  # the live (or last) run's latest {fraction, note, at}
    deliver: str | None  # its own channel, "none" (the outbox only), or None: its session's channel
    tags: list[str]
    priority: int
    waiting_on: str | None  # due but held back by a full limit of one of its tags: which, in words
    active_hours: str | None  # its own window "HH:MM-HH:MM" in its zone; None: its session's, if any
    catch_up: str
    max_runs: int | None
    context: str | None
    created_by: str
    created_at: Instant
    reason: str | None


class RunRecord(_FromRow):
    id: str
    message_id: str
    series_id: str | None
    outcome: str
    attempt: int
    started_at: Instant
    ended_at: Instant
    duration_s: float
    error: str | None
    script_output: str | None
    model_output: str | None
    input_tokens: int
    output_tokens: int


class OutboxItem(_FromRow):
    id: str
    session: str
    kind: str
    text: str
    created_at: Instant
    in_reply_to: str | None  # the inbound message (chat line or task occurrence) this answers
    series_id: str | None  # the task it came from
    task_name: str | None = None  # that task's name, when it has one (not a column: outbox_view adds it)
    channel: str | None  # where it is sent; None: the outbox only
    delivery: DeliveryStatus  # pending | delivered | failed | none, apart from the outcome of the run that wrote it
    attempts: int  # sends started
    delivery_error: str | None  # the last attempt's error, while pending (to retry) or once failed
    next_attempt_at: Instant | None  # while pending: when it is (next) sent
    delivered_at: Instant | None


class ChannelInfo(Frozen):
    """A delivery channel as ``inbox channel list`` shows it: never its secret, nor an SMTP password."""

    name: str
    kind: ChannelKind
    target: str  # the webhook URL, the command line, or the SMTP server (without its password)
    to: str | None  # smtp: the address mail goes to
    signed: bool  # webhook: each request carries an HMAC-SHA256 signature made with its secret
    sessions: list[str]  # the sessions whose channel it is
    created_at: Instant
    created_by: str


class NewChannel(ChannelInfo):
    """A channel just added; a webhook's secret is shown this once (the one given, or one made for it)."""

    secret: str | None


class SessionInfo(Frozen):
    """What a session is set to."""

    session: str
    deliver: str  # its channel, or "none": the outbox only
    active_hours: str | None  # the window of its tasks that have none of their own; None: any hour
    updated_at: Instant
    updated_by: str


class Message(_FromRow):
    id: str
    session: str
    kind: str
    status: str
    text: str
    process_after: Instant
    created_by: str
    created_at: Instant


class MessageDetail(Frozen):
    """One inbound row as ``inbox show ID`` gives it for a message: what became of it, and each attempt."""

    id: str
    session: str
    kind: str  # chat | task | webhook | event | system
    status: str  # pending | running | completed | failed | skipped | paused | cancelled
    text: str
    series_id: str | None  # set for an occurrence of a task
    timezone: str
    process_after: Instant
    tries: int  # attempts that failed and were retried
    error: str | None  # why it failed (or is waiting to retry); None once completed
    created_by: str
    created_at: Instant
    updated_at: Instant
    runs: list[RunRecord]  # newest first


class TokenInfo(Frozen):
    """An API token as ``inbox token list`` shows it: never the token, nor its digest."""

    id: str
    name: str
    scope: TokenScope  # read | send | admin
    status: TokenStatus
    created_at: Instant
    created_by: str
    last_used_at: Instant | None  # updated at most once a minute
    revoked_at: Instant | None


class NewToken(TokenInfo):
    """A token just created: the only time its value is shown."""

    token: str


def series_status(row: MessageIn) -> str:
    return status_word(row.status, row.next_status)


def task_view(
    row: MessageIn,
    *,
    runs: int,
    last_outcome: str | None,
    created_at: datetime | None = None,
    waiting_on: str | None = None,
) -> Task:
    """``created_at``: the series' creation (its first row's); the row's own when not given. A running row with a
    change waiting on it is shown as its follow-up will be: what the task does next (inbox.task_rows)."""
    fields = task_fields(
        as_next(row), running=row, runs=runs, last_outcome=last_outcome, created_at=created_at, waiting_on=waiting_on
    )
    return Task(**fields)


def as_next(row: MessageIn) -> MessageIn:
    """``row``, or when it runs with a change waiting on it (``content["pending_update"]``, applied to its follow-up
    when it ends: inbox.store.changes) a detached copy with the change applied, so a view never writes the row."""
    waiting = row.content.get("pending_update")
    if row.status != Status.RUNNING or not waiting:
        return row
    shown = MessageIn(**row.model_dump(warnings=False))  # the columns hold plain strings where enums are typed
    apply_changes(shown, dict(waiting))
    return shown


def run_view(run: Run) -> RunRecord:
    return RunRecord.model_validate(run)


def outbox_view(message: MessageOut, *, task: str | None = None) -> OutboxItem:
    return OutboxItem.model_validate(message).model_copy(update={"task_name": task})


def channel_view(row: Channel, *, sessions: list[str]) -> ChannelInfo:
    return ChannelInfo(
        name=row.name,
        kind=row.kind,
        target=shown_target(row.kind, row.target),
        to=row.mail_to,
        signed=bool(row.secret),
        sessions=sessions,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def session_view(row: SessionSettings) -> SessionInfo:
    return SessionInfo(
        session=row.session,
        deliver=row.deliver or NO_CHANNEL,
        active_hours=row.active_hours,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def message_view(row: MessageIn) -> Message:
    return Message.model_validate(row)


def message_detail(row: MessageIn, runs: list[Run]) -> MessageDetail:
    return MessageDetail(
        id=row.id,
        session=row.session,
        kind=str(row.kind),
        status=str(row.status),
        text=row.text,
        series_id=row.series_id,
        timezone=row.timezone,
        process_after=row.process_after,
        tries=row.tries,
        error=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        runs=[run_view(run) for run in runs],
    )


def token_view(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        scope=TokenScope(row.scope),
        status=TokenStatus.REVOKED if row.revoked_at else TokenStatus.ACTIVE,
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def as_json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
