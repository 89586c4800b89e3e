"""The fake provider's value objects (what a test scripts, what it records) and the two wire formats it speaks:
OpenAI Chat Completions and Anthropic Messages bodies, errors in each API's own shape, and the light request
checks the real APIs make. Stdlib only.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    json: Any  # the decoded body; the raw text when it was not JSON; None when empty
    api: str | None  # "openai" | "anthropic"


@dataclass(frozen=True)
class ScriptedReply:
    """A success. Tool-call arguments given as a string are sent verbatim (to script malformed JSON)."""

    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any] | str], ...] = ()
    input_tokens: int = 10
    output_tokens: int = 5
    delay_s: float = 0.0
    stop_reason: str | None = None  # default: stop/end_turn, or tool_calls/tool_use when there are calls


@dataclass(frozen=True)
class ScriptedError:
    status: int
    message: str = "scripted error"
    retry_after: float | None = None  # sent as the Retry-After header (seconds)
    error_type: str | None = None  # default: the API's own type for the status
    headers: Mapping[str, str] = field(default_factory=dict)  # extra response headers
    delay_s: float = 0.0


Scripted = ScriptedReply | ScriptedError

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_OPENAI_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}


def error_body(api: str, status: int, message: str, error_type: str | None) -> dict[str, Any]:
    if api == "anthropic":
        etype = error_type or _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": etype, "message": message}, "request_id": new_id("req_")}
    default_type = "server_error" if status >= 500 else "requests" if status == 429 else "invalid_request_error"
    code = error_type or _OPENAI_CODES.get(status)
    return {"error": {"message": message, "type": error_type or default_type, "param": None, "code": code}}


def reply_body(api: str, item: ScriptedReply, model: str) -> dict[str, Any]:
    if api == "anthropic":
        content: list[dict[str, Any]] = (
            [{"type": "text", "text": item.text}] if item.text or not item.tool_calls else []
        )
        for name, args in item.tool_calls:  # the API always sends an object; a scripted string is wrapped
            arguments = args if isinstance(args, dict) else {"_raw": args}
            content.append({"type": "tool_use", "id": new_id("toolu_"), "name": name, "input": arguments})
        return {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": item.stop_reason or ("tool_use" if item.tool_calls else "end_turn"),
            "stop_sequence": None,
            "usage": {"input_tokens": item.input_tokens, "output_tokens": item.output_tokens},
        }
    calls = [openai_call(name, args if isinstance(args, str) else json.dumps(args)) for name, args in item.tool_calls]
    message: dict[str, Any] = {"role": "assistant", "content": item.text or (None if calls else ""), "refusal": None}
    if calls:
        message["tool_calls"] = calls
    finish = item.stop_reason or ("tool_calls" if calls else "stop")
    i, o = item.input_tokens, item.output_tokens
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": dict(prompt_tokens=i, completion_tokens=o, total_tokens=i + o),
    }


def openai_call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": new_id("call_"), "type": "function", "function": {"name": name, "arguments": arguments}}


def models_body(api: str, models: Sequence[str]) -> dict[str, Any]:
    if api == "anthropic":
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in models]
        first, last = (models[0], models[-1]) if models else (None, None)
        return {"data": data, "has_more": False, "first_id": first, "last_id": last}
    return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in models]}


def problem(api: str, body: dict[str, Any]) -> str | None:
    """The first thing the real API would reject (a light check of what clients get wrong, not a schema)."""
    messages = body.get("messages")
    if not isinstance(body.get("model"), str) or not isinstance(messages, list) or not messages:
        return "model and a non-empty messages list are required"
    if api == "anthropic" and not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    open_ids: set[str] = set()  # calls of the latest assistant message not answered yet
    for i, msg in enumerate(messages):
        role, content = msg.get("role"), msg.get("content")
        if api == "anthropic":
            if role not in ("user", "assistant"):
                return f"messages.{i}.role: unexpected role {role!r}; system is a top-level parameter"
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
            if any(b.get("type") == "text" and not b.get("text") for b in blocks):
                return f"messages.{i}: text content blocks must be non-empty"
            if {str(b.get("tool_use_id")) for b in blocks if b.get("type") == "tool_result"} != open_ids:
                return f"messages.{i}: tool_result blocks must answer exactly the tool_use ids {sorted(open_ids)}"
            uses = {str(b.get("id")) for b in blocks if b.get("type") == "tool_use"}
            open_ids = uses if role == "assistant" else set()
        elif role == "tool":
            if str(msg.get("tool_call_id")) not in open_ids:
                return f"messages.{i}: role 'tool' must answer a preceding message with 'tool_calls'"
            open_ids.discard(str(msg.get("tool_call_id")))
        elif open_ids:
            return f"messages.{i}: 'tool_calls' must be followed by tool messages for {sorted(open_ids)}"
        else:
            calls = msg.get("tool_calls") or []
            if any(not isinstance(c.get("function", {}).get("arguments"), str) for c in calls):
                return f"messages.{i}.tool_calls: function.arguments must be a JSON string"
            open_ids = {str(c.get("id")) for c in calls}
    return None


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]
