"""The conversation's value objects, as runner and host exchange them: turns, tool calls and specs, replies,
and the classified error of a failed model call.

Only pydantic: this module is imported inside the runner container and, as the wire contract, by the host.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolSpec(_Frozen):
    """A tool the model may call; ``parameters`` is a JSON schema of its arguments object."""

    name: str
    description: str
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolCall(_Frozen):
    """One call the model asked for. Unparseable arguments arrive as ``{"_raw": "<text>"}``."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ChatTurn(_Frozen):
    """A provider-neutral conversation turn.

    ``user``: ``text``. ``assistant``: ``text`` and/or ``tool_calls``. ``tool``: the result (``text``) of the
    call ``tool_call_id``; ``is_error`` marks a failed tool so the model can tell (sent where the API has it).
    """

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False

    @model_validator(mode="after")
    def _check_role_fields(self) -> ChatTurn:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("tool_call_id: a tool turn needs the id of the call it answers")
        if self.role != "tool" and self.tool_call_id is not None:
            raise ValueError("tool_call_id: only a tool turn answers a call")
        if self.role != "assistant" and self.tool_calls:
            raise ValueError("tool_calls: only an assistant turn makes tool calls")
        return self


class Usage(_Frozen):
    input_tokens: int = 0
    output_tokens: int = 0


class ModelReply(_Frozen):
    """What the model answered. ``stop_reason`` is the API's own value (``stop``/``end_turn``/``tool_calls``/...)."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    stop_reason: str = ""
    model: str = ""


TRANSIENT_KINDS = frozenset({"rate_limited", "server_error", "timeout", "network", "bad_response"})


class ProviderError(Exception):
    """A model call failed. ``transient`` errors are worth retrying with backoff; the others are not.

    ``kind`` is one of: ``rate_limited``, ``server_error``, ``timeout``, ``network``, ``bad_response``
    (transient); ``auth``, ``unknown_model``, ``quota``, ``bad_request`` (permanent).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        transient: bool | None = None,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.transient = kind in TRANSIENT_KINDS if transient is None else transient
        self.status = status
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[Any, ...]:  # keyword-only arguments: pickle (e.g. across processes) by fields
        return (_rebuild_error, (self.message, self.kind, self.transient, self.status, self.retry_after_s))

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.message!r}, kind={self.kind!r}, transient={self.transient}, "
            f"status={self.status}, retry_after_s={self.retry_after_s})"
        )


def _rebuild_error(
    message: str, kind: str, transient: bool, status: int | None, retry_after_s: float | None
) -> ProviderError:
    return ProviderError(message, kind=kind, transient=transient, status=status, retry_after_s=retry_after_s)
