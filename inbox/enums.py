"""The closed vocabularies of the store: statuses, outcomes and policies."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    CHAT = "chat"
    TASK = "task"
    WEBHOOK = "webhook"
    EVENT = "event"
    SYSTEM = "system"


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    PAUSED = "paused"
    CANCELLED = "cancelled"

    @property
    def is_live(self) -> bool:
        """A live row still has work ahead of it; ended rows are history."""
        return self in LIVE_STATUSES


LIVE_STATUSES = frozenset({Status.PENDING, Status.RUNNING, Status.PAUSED})


class Outcome(StrEnum):
    """How one run (one attempt at one occurrence) ended."""

    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    SCRIPT_ERROR = "script_error"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"
    MISSED = "missed"
    SILENT = "silent"
    UPSTREAM_FAILED = "upstream_failed"  # a round of a dependent task whose upstream did not succeed: no model call


# Outcomes that count as a failed occurrence: they make (or lengthen) a series' run of failures.
FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.TIMEOUT, Outcome.INTERRUPTED, Outcome.SCRIPT_ERROR})

# The status an occurrence row is left in once its run ends with this outcome.
STATUS_AFTER: dict[Outcome, Status] = {
    Outcome.COMPLETED: Status.COMPLETED,
    Outcome.SILENT: Status.COMPLETED,
    Outcome.FAILED: Status.FAILED,
    Outcome.TIMEOUT: Status.FAILED,
    Outcome.INTERRUPTED: Status.FAILED,
    Outcome.SCRIPT_ERROR: Status.FAILED,
    Outcome.SKIPPED: Status.SKIPPED,
    Outcome.MISSED: Status.SKIPPED,
    Outcome.UPSTREAM_FAILED: Status.SKIPPED,
}
# What counts as an upstream's success for the tasks that depend on it (docs/dependencies.md).
SUCCESS_OUTCOMES = frozenset({Outcome.COMPLETED, Outcome.SILENT})


class CatchUp(StrEnum):
    """What a series does with slots that passed while it could not run."""

    ONCE = "once"
    SKIP = "skip"
    ALL = "all"


class ContextMode(StrEnum):
    SESSION = "session"
    SERIES = "series"
    FRESH = "fresh"


class TaskFilter(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"
    ALL = "all"


class OutboxKind(StrEnum):
    REPLY = "reply"
    REMINDER = "reminder"
    SYSTEM = "system"


class TokenStatus(StrEnum):
    """An API token is accepted while active; a revoked one never again."""

    ACTIVE = "active"
    REVOKED = "revoked"


class TokenScope(StrEnum):
    """What an API token may do; each scope includes the ones before it.

    ``read``: look (GET routes, the dashboard's pages, ``/metrics``); ``send``: also drop messages into a session
    (``POST /v1/messages``, the dashboard's chat); ``admin``: everything (change tasks, pause, cancel, ...).
    """

    READ = "read"
    SEND = "send"
    ADMIN = "admin"

    def allows(self, needed: TokenScope) -> bool:
        return _SCOPE_ORDER.index(self) >= _SCOPE_ORDER.index(needed)


_SCOPE_ORDER = (TokenScope.READ, TokenScope.SEND, TokenScope.ADMIN)


class MatchState(StrEnum):
    """What an event did to a series whose trigger it matched."""

    STARTED = "started"  # an occurrence was written, due now
    QUEUED = "queued"  # an occurrence was written; it waits for the one running to end
    COALESCED = "coalesced"  # none: the series already had an occurrence waiting


class When(StrEnum):
    """When a task that depends on others (``--after``) runs a round (docs/dependencies.md)."""

    ALL_SUCCESS = "all_success"  # every upstream ended, each a success; else the round ends upstream_failed
    ALL_DONE = "all_done"  # every upstream ended, whatever the outcome
    ANY_SUCCESS = "any_success"  # at the first success; upstream_failed when every upstream ended without one


class DeliveryStatus(StrEnum):
    """Where an outbox row stands with its channel, apart from the run that wrote it."""

    PENDING = "pending"  # to be sent (again): on its first attempt or waiting to retry
    DELIVERED = "delivered"
    FAILED = "failed"  # for good: a refusal, or every attempt used
    NONE = "none"  # no channel: the outbox is where it is read


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    COMMAND = "command"
    SMTP = "smtp"


class AuditAction(StrEnum):
    """What one record of the audit trail (docs/audit.md) says was done; the word before the dot names the kind of
    thing its ``subject`` is."""

    TASK_CREATE = "task.create"
    TASK_UPDATE = "task.update"
    TASK_PAUSE = "task.pause"
    TASK_RESUME = "task.resume"
    TASK_CANCEL = "task.cancel"
    TASK_RUN = "task.run"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    HOOK_CREATE = "hook.create"
    HOOK_DELETE = "hook.delete"
    CHANNEL_ADD = "channel.add"
    CHANNEL_REMOVE = "channel.remove"
    SESSION_SET = "session.set"
    STORE_IMPORT = "store.import"
    STORE_RESTORE = "store.restore"
    LIMIT_SET = "limit.set"
    LIMIT_REMOVE = "limit.remove"
