"""The runner protocol: what a runner and its host say to each other over the host's unix socket.

Pydantic only (no server stack): the runner container imports this module, and so does the host. Every call
carries the runner's bearer token, which the host issued for one session; the host answers only with that
session's work and accepts results only for rows the runner's lease still holds. A lease is (row, attempt): a
runner that claims the retry of its own taken-back attempt still cannot report the old attempt.

    POST /runner/v1/claim        ClaimRequest  -> ClaimReply     (long-polls up to wait_s when nothing is due;
                                                                  an agent item without a pre-script comes with
                                                                  its history)
    POST /runner/v1/start        StartRequest  -> StartReply     (an item claimed early, asked just before its
                                                                  due time: go (with its history if it moved on), or
                                                                  handed back unstarted; 409 if the lease was
                                                                  lost)
    POST /runner/v1/heartbeat    Heartbeat     -> HeartbeatReply (renews leases; names the ones lost)
    POST /runner/v1/results      RunResult     -> ResultReply    (records the outcome; 409 if the lease was lost)
    POST /runner/v1/model        ModelRequest  -> ModelReply     (the host calls the provider with its key and
                                                                  counts the tokens against the held row)
                                               -> 502 ModelFailure when the provider failed
                                               -> 409 when the runner does not hold the row's lease
    POST /runner/v1/tools        ToolRequest   -> ToolAnswer     (a scheduling tool, applied by the host)
    POST /runner/v1/history      HistoryRequest -> HistoryReply  (the conversation a run continues)
    POST /runner/v1/http         HttpCall      -> HttpAnswer     (an ``http`` task's request, made by the host)
    POST /runner/v1/progress     Progress      -> 204            (how far a run has come)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from agent_runner.conversation import ChatTurn, ToolSpec
from agent_runner.prescript import state_problem

PREFIX = "/runner/v1"
# Sent by every runner as the VERSION_HEADER; the host refuses a runner built from other code (426), so a stale
# runner image fails at once with a message saying so, not later with puzzling errors.
PROTOCOL_VERSION = "12"
VERSION_HEADER = "x-inbox-runner-protocol"
AGENT_PREFIX = "agent:"  # who wrote a row or a script, when an agent session did: "agent:SESSION"


MAX_RETRY_AFTER_S = 86_400.0


def _storable(text: str) -> str:
    """What both stores can hold: a NUL (PostgreSQL refuses it) or a lone surrogate (not UTF-8) that a script,
    a model or a runner wrote is kept as U+FFFD instead of failing the whole result."""
    text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def _real_instant(at: datetime) -> datetime:
    try:
        return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("is outside the range of real instants") from None


def _wait(seconds: float) -> float:
    return min(seconds, MAX_RETRY_AFTER_S) if seconds >= 0 else 0.0  # NaN compares false: no wait


# Text the host stores, ids it looks rows up by, counts that fit the tables' integer columns.
Text = Annotated[str, AfterValidator(_storable)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
Instant = Annotated[datetime, AfterValidator(_real_instant)]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventInfo(_Wire):
    """The event that started an occurrence (docs/events.md): given to its pre-script and its model."""

    id: str
    name: str
    data: Any = None
    session: str | None = None  # None: the event was for every session's tasks


class HistoryRequest(_Wire):
    message_id: Text


class HistoryReply(_Wire):
    """The conversation the run of ``message_id`` continues (empty for ``fresh``)."""

    mode: str  # session | series | fresh
    summary: str | None = None  # stands for every turn older than ``turns``
    turns: list[ChatTurn] = Field(default_factory=list)
    newest_id: str | None = None  # the id of the last turn given, for a later summary to replace up to
    budget_tokens: int = 8000  # keep what is sent to the model under this; summarize the rest


class WorkItem(_Wire):
    """One claimed occurrence (or chat message) and what the runner needs to do it."""

    id: str
    session: str
    kind: str
    text: str
    script: str | None = None
    data: Any = None  # a message's attached data (webhooks), shown to the model
    remind: bool = False
    name: str | None = None
    series_id: str | None = None
    schedule: str | None = None
    timezone: str = "UTC"
    occurrence_at: datetime | None = None
    process_after: datetime
    attempt: int = 1
    timeout_s: float | None = None
    created_by: str = "user"
    # Who last wrote ``script``; one an agent wrote ("agent:SESSION") is refused unsandboxed unless allowed.
    script_by: str | None = None
    model: str | None = None  # the task's own model and provider, when it overrides the host's
    provider: str | None = None
    tools: list[ToolSpec] = Field(default_factory=list)  # the host's tools offered to the model for this item
    event: EventInfo | None = None  # the event that started this occurrence
    state: Any = None  # the state the series' pre-script returned last (None: none yet)
    do: str = "agent"  # what the run does: agent, remind, http, command or a worker's name (inbox.kinds)
    input: dict[str, Any] | None = None  # the kind's ``with``, as checked when the task was made
    # The conversation the model continues, read as the item was claimed, for an agent run the model starts at
    # once (no pre-script first): it saves the runner a request to /history. None: ask /history when needed. For one
    # claimed early, the start gate's go replaces it if it has moved on meanwhile.
    history: HistoryReply | None = None
    # Claimed before its due time (up to inbox.defaults.CLAIM_AHEAD): the runner asks /start just before
    # ``process_after`` and does nothing of it (no started_at, no script) unless the answer is go; then it starts at
    # ``process_after``.
    early: bool = False

    @property
    def starts_with_model(self) -> bool:
        """An agent run with no pre-script asks the model first thing: it wants its conversation at once, so the
        host sends it with the claim (one with a pre-script asks /history after its script, as the conversation may
        have moved on by then)."""
        return self.do == "agent" and not self.script and not self.remind


def _keepable(state: Any) -> Any:
    problem = state_problem(state)
    if problem is not None:
        raise ValueError(problem)
    return state


class StateUpdate(_Wire):
    """The ``state`` a pre-script returned: the series' next run gets ``value`` (null too) on its input."""

    value: Annotated[Any, AfterValidator(_keepable)] = None


class ClaimRequest(_Wire):
    limit: int = Field(default=4, ge=1, le=100)
    wait_s: float = Field(default=0, ge=0, le=60)


class StartRequest(_Wire):
    """May the attempt ``attempt`` of ``message_id`` (a WorkItem claimed early) start at its due time? ``history``:
    the runner holds the conversation it continues, as the claim sent it, whose newest turn was ``newest_id``; a go
    brings it again if it has moved on since."""

    message_id: Text
    attempt: Count
    history: bool = False
    newest_id: Text | None = None


class StartReply(_Wire):
    """``go``: start it at its ``process_after`` (the answer comes a little before: inbox.defaults.GO_AHEAD), with the
    conversation as it is then when it moved on since the claim (``history``; None: the claim's is current).
    Otherwise it was handed back unstarted (``reason``: paused, cancelled, updated, host shutting down): the runner
    drops it without a result; it is no longer its own."""

    go: bool
    reason: str | None = None
    history: HistoryReply | None = None
    # Or, when only turns were added since the claim (no summary among them), just those, oldest first, and the id
    # of the last: a long conversation sent whole took longer than the go's lead (docs/benchmarks.md, "Lateness").
    added: list[ChatTurn] = Field(default_factory=list)
    added_through: Text | None = None

    def continued(self, held: HistoryReply | None) -> HistoryReply | None:
        """The conversation to continue: ``held`` (the claim's) as this go brings it up to date."""
        if self.history is not None or held is None or self.added_through is None:
            return self.history or held
        return held.model_copy(update={"turns": [*held.turns, *self.added], "newest_id": self.added_through})


class ClaimReply(_Wire):
    lease_s: float
    items: list[WorkItem]


class Heartbeat(_Wire):
    leases: dict[Text, Count]  # message id -> the attempt this runner holds it for


class HeartbeatReply(_Wire):
    lost: list[str]  # leases this runner no longer holds: stop working on them, their results will be refused


class RunResult(_Wire):
    """How one attempt ended. ``transient`` failures are retried with backoff while tries remain."""

    id: Text
    attempt: Count  # WorkItem.attempt: a result for an attempt that was taken back is refused
    outcome: Literal["completed", "failed", "skipped", "script_error", "timeout", "silent"]
    started_at: Instant
    error: Text | None = None
    transient: bool = False
    retry_after_s: Annotated[float, AfterValidator(_wait)] | None = None  # at most a day
    script_output: Text | None = None
    model_output: Text | None = None
    reply: Text | None = None  # delivered to the session's outbox, in reply to the message
    # Ignored by the host, which counts the tokens of the model calls it made for this attempt itself; a runner
    # fills them in for its own logs.
    input_tokens: Count = 0
    output_tokens: Count = 0
    new_turns: list[ChatTurn] = Field(default_factory=list)  # this run's exchange, kept in its conversation
    summary: Text | None = None  # replaces the conversation's turns up to summary_through (the history was too long)
    summary_through: Text | None = None
    # The pre-script's state, kept for the series' next run when this attempt ends completed, silent or skipped.
    state: StateUpdate | None = None


class ResultReply(_Wire):
    status: str  # the row's status after the result: completed, failed, skipped, pending (retry), ...
    follow_up_id: str | None = None


class ModelRequest(_Wire):
    """One model turn for the attempt ``attempt`` of ``message_id``, a row this runner holds under lease.

    The host answers only while that lease holds, and charges the tokens the provider reports to that attempt.
    """

    message_id: Text
    attempt: Count
    system: str
    turns: list[ChatTurn]
    tools: list[ToolSpec] = Field(default_factory=list)
    max_tokens: int = Field(default=1024, ge=1, le=64_000)
    model: str | None = None  # None: the host's INBOX_MODEL
    provider: str | None = None  # None: the host's INBOX_PROVIDER


class ModelFailure(_Wire):
    """The provider's error, classified by the host (see agent_runner.conversation.ProviderError)."""

    kind: str
    message: str
    transient: bool
    status: int | None = None
    retry_after_s: float | None = None


class ToolRequest(_Wire):
    """A tool call the model made while the runner worked on ``message_id`` (a row this runner holds)."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    message_id: Text


class ToolAnswer(_Wire):
    """What the model gets back: the result, or an error it can act on (nothing was written then)."""

    ok: bool
    result: Any = None
    error: str | None = None


class HttpCall(_Wire):
    """Make the ``http`` request of ``message_id``, an attempt this runner holds: the host reads the request from
    the task itself (never from the runner) and checks where it goes (docs/kinds.md)."""

    message_id: Text
    attempt: Count


class HttpAnswer(_Wire):
    """How the request went: ``status`` (None: no answer), the answer's text (capped), or why it failed."""

    status: int | None = None
    body: str = ""
    error: str | None = None
    transient: bool = False
    retry_after_s: float | None = None


MAX_NOTE = 500


class Progress(_Wire):
    """How far the attempt ``attempt`` of ``message_id`` has come: 0..1 and a short note."""

    message_id: Text
    attempt: Count
    fraction: Annotated[float, Field(ge=0, le=1)]
    note: Annotated[Text, Field(max_length=MAX_NOTE)] = ""
