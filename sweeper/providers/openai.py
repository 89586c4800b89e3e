"""OpenAI Chat Completions client (also Ollama, vLLM, llama.cpp and other OpenAI-compatible servers).

``POST {base_url}/chat/completions`` with ``base_url`` such as ``https://api.openai.com/v1`` or
``http://127.0.0.1:11434/v1``. Non-streaming; function tools only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

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

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIProvider(WireClient):
    """A :class:`~sweeper.providers.base.Provider` speaking the Chat Completions wire format.

    ``api_key`` may be ``None`` for local servers: no ``Authorization`` header is sent then.
    ``max_tokens_param`` names the limit field; newer OpenAI reasoning models want ``max_completion_tokens``,
    while most compatible servers only know ``max_tokens`` (the default).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str = DEFAULT_OPENAI_BASE_URL,
        api_key: str | None = None,
        *,
        timeout_s: float = 120,
        client: httpx.Client | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
    ) -> None:
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        super().__init__(base_url, headers=headers, timeout_s=timeout_s, client=client, extra_headers=extra_headers)
        self.url = f"{self.base_url}/chat/completions"
        self.max_tokens_param = max_tokens_param

    def complete(
        self,
        *,
        model: str,
        system: str,
        turns: Sequence[ChatTurn],
        tools: Sequence[ToolSpec] = (),
        max_tokens: int = 1024,
    ) -> ModelReply:
        payload = build_request(model, system, turns, tools, max_tokens, self.max_tokens_param)
        return parse_reply(self.post(self.url, payload, model=model), model, self.url)


def build_request(
    model: str,
    system: str,
    turns: Sequence[ChatTurn],
    tools: Sequence[ToolSpec],
    max_tokens: int,
    max_tokens_param: str = "max_tokens",
) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    for turn in turns:
        if turn.role == "user":
            messages.append({"role": "user", "content": turn.text})
        elif turn.role == "tool":
            messages.append({"role": "tool", "tool_call_id": turn.tool_call_id, "content": turn.text})
        else:
            msg: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
            if turn.tool_calls:
                msg["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": _arguments_text(call.arguments)},
                    }
                    for call in turn.tool_calls
                ]
            messages.append(msg)
    payload: dict[str, Any] = {"model": model, "messages": messages, max_tokens_param: max_tokens}
    if tools:
        payload["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            }
            for t in tools
        ]
    return payload


def _arguments_text(arguments: Mapping[str, Any]) -> str:
    """Replay what the model produced: a malformed call goes back as its original text."""
    raw = arguments.get("_raw")
    if len(arguments) == 1 and isinstance(raw, str):
        return raw
    return json.dumps(arguments, ensure_ascii=False)


def parse_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments: a JSON object string (some servers send the object itself)."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    text = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        value = json.loads(text)
    except ValueError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_raw": text}


def parse_reply(body: Mapping[str, Any], model: str, url: str = "") -> ModelReply:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        said = error_details(body)[0]
        raise ProviderError(
            f"openai: answer from {url} has no choices" + (f": {said}" if said else ""), kind="bad_response"
        )
    choice: dict[str, Any] = choices[0]
    message = _obj(choice.get("message"))
    content = message.get("content")
    if isinstance(content, list):  # content parts
        text = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    else:
        text = content if isinstance(content, str) else ""
    calls: list[ToolCall] = []
    for i, tc in enumerate(message.get("tool_calls") or []):
        if not isinstance(tc, dict):
            continue
        fn = _obj(tc.get("function"))
        calls.append(
            ToolCall(
                id=str(tc.get("id") or f"call_{i}"),
                name=str(fn.get("name") or ""),
                arguments=parse_arguments(fn.get("arguments")),
            )
        )
    usage = _obj(body.get("usage"))
    return ModelReply(
        text=text,
        tool_calls=tuple(calls),
        usage=Usage(input_tokens=_int(usage.get("prompt_tokens")), output_tokens=_int(usage.get("completion_tokens"))),
        stop_reason=str(choice.get("finish_reason") or ""),
        model=str(body.get("model") or model),
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
