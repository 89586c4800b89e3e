"""Anthropic Messages API client: ``POST {base_url}/v1/messages``, non-streaming, client tools only."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from sweeper.providers.base import (
    ChatTurn,
    ModelReply,
    ProviderError,
    ToolCall,
    ToolSpec,
    Usage,
    WireClient,
    error_details,
)

DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider(WireClient):
    """A :class:`~sweeper.providers.base.Provider` speaking the Anthropic Messages wire format.

    ``base_url`` is the host root (``https://api.anthropic.com``); a trailing ``/v1`` is tolerated.
    ``api_key`` may be ``None`` when a gateway in front of the API adds the credentials.
    """

    name = "anthropic"

    def __init__(
        self,
        base_url: str = DEFAULT_ANTHROPIC_BASE_URL,
        api_key: str | None = None,
        *,
        timeout_s: float = 120,
        client: httpx.Client | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        super().__init__(base_url, headers=headers, timeout_s=timeout_s, client=client, extra_headers=extra_headers)
        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        self.url = f"{root}/v1/messages"

    def complete(
        self,
        *,
        model: str,
        system: str,
        turns: Sequence[ChatTurn],
        tools: Sequence[ToolSpec] = (),
        max_tokens: int = 1024,
    ) -> ModelReply:
        body = self.post(self.url, build_request(model, system, turns, tools, max_tokens), model=model)
        return parse_reply(body, model, self.url)


def build_request(
    model: str, system: str, turns: Sequence[ChatTurn], tools: Sequence[ToolSpec], max_tokens: int
) -> dict[str, Any]:
    """Turns become alternating messages: consecutive tool results (and a user line right after them) are
    merged into one user message, ``tool_result`` blocks first, as the API requires."""
    messages: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return  # the API rejects empty content and empty text blocks
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    for turn in turns:
        text_blocks: list[dict[str, Any]] = [{"type": "text", "text": turn.text}] if turn.text else []
        if turn.role == "user":
            add("user", text_blocks)
        elif turn.role == "tool":
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": turn.tool_call_id,
                "content": turn.text,
            }
            if turn.is_error:
                result["is_error"] = True
            add("user", [result])
        else:
            uses = [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments)} for c in turn.tool_calls
            ]
            add("assistant", text_blocks + uses)
    payload: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
    if system:
        payload["system"] = system
    if tools:
        payload["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]
    return payload


def parse_reply(body: Mapping[str, Any], model: str, url: str = "") -> ModelReply:
    content = body.get("content")
    if not isinstance(content, list):
        said = error_details(body)[0]
        raise ProviderError(
            f"anthropic: answer from {url} has no content" + (f": {said}" if said else ""), kind="bad_response"
        )
    texts: list[str] = []
    calls: list[ToolCall] = []
    for i, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        elif block.get("type") == "tool_use":
            raw = block.get("input")
            arguments = raw if isinstance(raw, dict) else {"_raw": json.dumps(raw)}
            call_id = str(block.get("id") or f"toolu_{i}")
            calls.append(ToolCall(id=call_id, name=str(block.get("name") or ""), arguments=arguments))
        # thinking and other block types carry nothing the runner acts on
    usage = body.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    # Cached prompt tokens are reported apart from input_tokens; all of them were read by the model.
    input_tokens = sum(
        _int(usage.get(k)) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    return ModelReply(
        text="".join(texts),
        tool_calls=tuple(calls),
        usage=Usage(input_tokens=input_tokens, output_tokens=_int(usage.get("output_tokens"))),
        stop_reason=str(body.get("stop_reason") or ""),
        model=str(body.get("model") or model),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
