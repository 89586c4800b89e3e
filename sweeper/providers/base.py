"""The model-provider interface (the ``Provider`` protocol) and what the wire-format clients share.

The wire-format clients live next to it (``openai.py``, ``anthropic.py``); what they share (error
classification, ``Retry-After`` parsing, error bodies, the POST itself) is here. The value objects they
speak in are the runner's wire contract (:mod:`agent_runner.conversation`).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Self, runtime_checkable

import httpx

from agent_runner.conversation import (
    TRANSIENT_KINDS,
    ChatTurn,
    ModelReply,
    ProviderError,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "MAX_RETRY_AFTER_S",
    "TRANSIENT_KINDS",
    "ChatTurn",
    "ModelReply",
    "Provider",
    "ProviderError",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "WireClient",
]


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


# The longest Retry-After honoured. A longer one (a daily quota's) would hold an occurrence of an hourly series past
# its next slot, where the series' catch-up policy decides better what to run; the retry is then an hour on.
MAX_RETRY_AFTER_S = 3600.0


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait, at most :data:`MAX_RETRY_AFTER_S`, from ``retry-after-ms`` (preferred, more precise) or
    ``Retry-After`` (seconds or date).

    ``headers`` must look keys up case-insensitively (``httpx.Headers`` does) or use lower-case keys.
    """
    found = _retry_after(headers, now=now)
    return None if found is None else min(found, MAX_RETRY_AFTER_S)


def _retry_after(headers: Mapping[str, str], *, now: float | None) -> float | None:
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


class WireClient:
    """What the wire-format clients share: checking the base URL, the HTTP client (a given one is used and left
    open; otherwise one of their own, closed by :meth:`close`), the timeouts, the headers, and the POST that turns
    every failure into a :class:`ProviderError`. A client adds its URL, credentials, request and reply formats."""

    name = "provider"

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        timeout_s: float,
        client: httpx.Client | None,
        extra_headers: Mapping[str, str] | None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: {base_url!r} is not an http:// or https:// URL")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()
        self._headers = {"content-type": "application/json", "accept": "application/json", **headers}
        self._headers.update(extra_headers or {})

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post(self, url: str, payload: dict[str, Any], *, model: str) -> dict[str, Any]:
        return post_json(
            self._client, url, payload, headers=self._headers, timeout=self._timeout, provider=self.name, model=model
        )
