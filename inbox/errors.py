"""Errors the public API raises.

Every rejection of user input is an :class:`InvalidInput` naming the field, so the CLI can print one line
and exit 2, the HTTP API can answer 422, and the agent's tools can hand the model an error it can act on.
"""

from __future__ import annotations

from collections.abc import Sequence


class InboxError(Exception):
    """Base class of the errors this package raises on purpose."""


class InvalidInput(InboxError, ValueError):
    """The caller gave a value that cannot be accepted; nothing was written.

    ``field`` and the fields the reason names (``mentions``: "give exactly one of cron, every, at, in") are
    spelled as fields; the CLI prints its flags for them instead (``--cron``).
    """

    def __init__(self, field: str, reason: str, *, mentions: Sequence[str] = ()) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.mentions = tuple(mentions)


class NotFound(InboxError, LookupError):
    """No message, task or run has the given id (or id prefix)."""

    def __init__(self, what: str, ident: str, *, field: str | None = None) -> None:
        super().__init__(f"no {what} with id {ident!r}")
        self.what = what
        self.ident = ident
        self.field = field  # the request field that held the id, when known


class Conflict(InboxError):
    """The request is well formed but the target's state does not allow it (e.g. resuming a cancelled task)."""
