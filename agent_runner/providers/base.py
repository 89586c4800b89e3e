"""The model-provider interface: provider-neutral value objects, the error type and the ``Provider`` protocol.

Only the runner's own dependencies (httpx, pydantic): this module is imported inside the runner container
and by the host alike. The wire-format clients live next to it (``openai.py``, ``anthropic.py``); what they
share (error classification, ``Retry-After`` parsing, error bodies, the POST itself) is here.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import httpx
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


@runtime_checkable
class Provider(Protocol):
    def complete(
        self,
        *,
        model: str,
        system: str,
        turns: Sequence[ChatTurn],
        tools: Sequence[ToolSpec] = (),
        max_tokens: int = 1024,
    ) -> ModelReply:
        """Ask the model for the next assistant turn; raises :class:`ProviderError`."""
        ...


# --- helpers shared by the wire-format clients -----------------------------------------------------------

_MODEL_MISSING = re.compile(
    r"\bmodel\b.{0,120}?\b(not found|does not exist|doesn't exist|not exist)|\b(unknown|no such) model\b",
    re.IGNORECASE,
)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (preferred, more precise) or ``Retry-After`` (seconds or date).

    ``headers`` must look keys up case-insensitively (``httpx.Headers`` does) or use lower-case keys.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = (headers.get("retry-after") or "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_details(body: Any) -> tuple[str, str, str]:
    """``(message, type, code)`` from an error body in OpenAI, Anthropic or plain ``{"error": "..."}`` shape."""
    if not isinstance(body, dict):
        return "", "", ""
    err = body.get("error")
    if isinstance(err, str):
        return err, "", ""
    if isinstance(err, dict):
        message = err.get("message")
        etype = err.get("type")
        code = err.get("code")
        return (
            message if isinstance(message, str) else "",
            etype if isinstance(etype, str) else "",
            str(code) if isinstance(code, str | int) else "",
        )
    detail = body.get("detail") or body.get("message")  # some OpenAI-compatible servers
    return (detail if isinstance(detail, str) else ""), "", ""


def error_from_status(
    status: int, headers: Mapping[str, str], body: Any, *, provider: str, model: str, url: str
) -> ProviderError:
    """Classify an HTTP error answer (see docs/providers.md for the table)."""
    message, etype, code = error_details(body)
    retry_after = parse_retry_after(headers)
    said = message or etype or "no error message"
    where = f"{provider} HTTP {status} from {url}"
    if "insufficient_quota" in (code, etype):
        # Out of credits: retrying in minutes will not help.
        return ProviderError(f"{where}: quota exhausted: {said}", kind="quota", status=status)
    if status in (408, 409, 429) or status >= 500:
        kind = "rate_limited" if status == 429 else "server_error"
        if status == 408:
            kind = "timeout"
        return ProviderError(f"{where}: {said}", kind=kind, status=status, retry_after_s=retry_after)
    if status in (401, 403):
        return ProviderError(f"{where}: credentials rejected: {said}", kind="auth", status=status)
    if status == 404 or code == "model_not_found" or _MODEL_MISSING.search(message):
        return ProviderError(f"{where}: unknown model {model!r}: {said}", kind="unknown_model", status=status)
    return ProviderError(f"{where}: request rejected: {said}", kind="bad_request", status=status)


def post_json(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    *,
    headers: Mapping[str, str],
    timeout: httpx.Timeout | float,
    provider: str,
    model: str,
) -> dict[str, Any]:
    """POST one request; every way it can fail becomes a classified :class:`ProviderError`."""
    try:
        resp = client.post(url, json=payload, headers=dict(headers), timeout=timeout)
    except httpx.TimeoutException as exc:
        raise ProviderError(f"{provider}: no answer from {url} in time ({type(exc).__name__})", kind="timeout") from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise ProviderError(f"{provider}: invalid URL {url!r}: {exc}", kind="bad_request") from exc
    except httpx.RequestError as exc:
        raise ProviderError(f"{provider}: cannot reach {url}: {type(exc).__name__}: {exc}", kind="network") from exc
    try:
        body: Any = resp.json()
    except ValueError:
        body = None
    if not 200 <= resp.status_code < 300:
        raise error_from_status(resp.status_code, resp.headers, body, provider=provider, model=model, url=url)
    if not isinstance(body, dict):
        raise ProviderError(
            f"{provider}: HTTP {resp.status_code} from {url} is not a JSON object: {resp.text[:200]!r}",
            kind="bad_response",
            status=resp.status_code,
        )
    return body
