"""The runner protocol: what a runner and its host say to each other over the host's unix socket.

Pydantic only (no server stack): the runner container imports this module, and so does the host. Every call
carries the runner's bearer token, which the host issued for one session; the host answers only with that
session's work and accepts results only for rows the runner's lease still holds. A lease is (row, attempt): a
runner that claims the retry of its own taken-back attempt still cannot report the old attempt.

    POST /runner/v1/claim        ClaimRequest  -> ClaimReply     (long-polls up to wait_s when nothing is due)
    POST /runner/v1/heartbeat    Heartbeat     -> HeartbeatReply (renews leases; names the ones lost)
    POST /runner/v1/results      RunResult     -> ResultReply    (records the outcome; 409 if the lease was lost)
    POST /runner/v1/model        ModelRequest  -> ModelReply     (the host calls the provider with its key)
                                               -> 502 ModelFailure when the provider failed
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_runner.providers.base import ChatTurn, ToolSpec

PREFIX = "/runner/v1"
OUTCOMES = ("completed", "failed", "skipped", "script_error", "timeout", "silent")


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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
    agent_written: bool = False  # written by an agent session: refused unsandboxed unless the user opted in


class ClaimRequest(_Wire):
    limit: int = Field(default=4, ge=1, le=100)
    wait_s: float = Field(default=0, ge=0, le=60)


class ClaimReply(_Wire):
    lease_s: float
    items: list[WorkItem]


class Heartbeat(_Wire):
    leases: dict[str, int]  # message id -> the attempt this runner holds it for


class HeartbeatReply(_Wire):
    lost: list[str]  # leases this runner no longer holds: stop working on them, their results will be refused


class RunResult(_Wire):
    """How one attempt ended. ``transient`` failures are retried with backoff while tries remain."""

    id: str
    attempt: int  # WorkItem.attempt: a result for an attempt that was taken back is refused
    outcome: Literal["completed", "failed", "skipped", "script_error", "timeout", "silent"]
    started_at: datetime
    error: str | None = None
    transient: bool = False
    retry_after_s: float | None = None
    script_output: str | None = None
    model_output: str | None = None
    reply: str | None = None  # delivered to the session's outbox, in reply to the message
    input_tokens: int = 0
    output_tokens: int = 0


class ResultReply(_Wire):
    status: str  # the row's status after the result: completed, failed, skipped, pending (retry), ...
    follow_up_id: str | None = None


class ModelRequest(_Wire):
    system: str
    turns: list[ChatTurn]
    tools: list[ToolSpec] = Field(default_factory=list)
    max_tokens: int = Field(default=1024, ge=1, le=64_000)


class ModelFailure(_Wire):
    """The provider's error, classified by the host (see agent_runner.providers.base.ProviderError)."""

    kind: str
    message: str
    transient: bool
    status: int | None = None
    retry_after_s: float | None = None
