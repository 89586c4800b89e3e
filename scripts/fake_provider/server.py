"""A scripted fake model server on 127.0.0.1 speaking the OpenAI Chat Completions and Anthropic Messages wire
formats, so provider clients are tested over real HTTP (stdlib only). See docs/providers.md for usage.

Out of process: ``python -m scripts.fake_provider --port 0`` prints ``listening on http://127.0.0.1:PORT``;
control it with ``POST /_fake/script`` (a JSON list of items), ``GET /_fake/requests``, ``POST /_fake/reset``.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"  # never anything else


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


class FakeProvider:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Iterable[str] | None = ("fake-model",),  # None: accept any model name
        default_text: str = "ok",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.models = None if models is None else tuple(models)
        self.default_text = default_text
        self.requests: list[RecordedRequest] = []
        self._port = port
        self._queue: deque[Scripted] = deque()
        self._responder: Callable[[RecordedRequest], Scripted] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---
    def start(self) -> FakeProvider:
        if self._server is None:
            self._stopping.clear()
            self._server = _Server((HOST, self._port), _Handler)
            self._server.fake = self
            serve = functools.partial(self._server.serve_forever, poll_interval=0.05)  # quick stop()
            self._thread = threading.Thread(target=serve, name="fake-provider", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._stopping.set()  # wakes delayed replies
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake provider is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    # --- scripting ---
    def reply(
        self,
        text: str = "",
        *,
        tool_calls: Sequence[tuple[str, dict[str, Any] | str]] = (),
        input_tokens: int = 10,
        output_tokens: int = 5,
        stop_reason: str | None = None,
    ) -> None:
        self._push(ScriptedReply(text, tuple(tool_calls), input_tokens, output_tokens, stop_reason=stop_reason))

    def error(
        self,
        status: int,
        *,
        message: str = "scripted error",
        retry_after: float | None = None,
        error_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._push(ScriptedError(status, message, retry_after, error_type, dict(headers or {})))

    def slow(self, delay_s: float, text: str = "") -> None:
        self._push(ScriptedReply(text or self.default_text, delay_s=delay_s))

    def respond_with(self, fn: Callable[[RecordedRequest], Scripted] | None) -> None:
        """Answer calls with ``fn(request)`` whenever the queue is empty (``None`` removes it)."""
        self._responder = fn

    def script(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Queue items in the JSON shape of ``POST /_fake/script``; returns how many were queued."""
        parsed = [_item_from_json(item) for item in items]
        for item in parsed:
            self._push(item)
        return len(parsed)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self._responder = None

    def _push(self, item: Scripted) -> None:
        with self._lock:
            self._queue.append(item)

    def _next(self, request: RecordedRequest) -> Scripted:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            responder = self._responder
        return responder(request) if responder else ScriptedReply(self.default_text)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _item_from_json(item: Mapping[str, Any]) -> Scripted:
    """``{"type": "reply"|"slow"|"error", ...}`` with the fields of ScriptedReply / ScriptedError."""
    fields = {k: v for k, v in item.items() if k != "type"}
    kind = item.get("type", "reply")
    if kind == "error":
        return ScriptedError(**fields)
    if kind not in ("reply", "slow"):
        raise ValueError(f"unknown scripted item type {kind!r} (reply, error, slow)")
    if kind == "slow":
        fields.setdefault("text", "ok")
    fields["tool_calls"] = tuple((str(name), args) for name, args in fields.get("tool_calls") or ())
    return ScriptedReply(**fields)


# --- wire formats ---


def _error_body(api: str, status: int, message: str, error_type: str | None) -> dict[str, Any]:
    if api == "anthropic":
        etype = error_type or _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": etype, "message": message}, "request_id": _id("req_")}
    default_type = "server_error" if status >= 500 else "requests" if status == 429 else "invalid_request_error"
    code = error_type or _OPENAI_CODES.get(status)
    return {"error": {"message": message, "type": error_type or default_type, "param": None, "code": code}}


def _reply_body(api: str, item: ScriptedReply, model: str) -> dict[str, Any]:
    if api == "anthropic":
        content: list[dict[str, Any]] = (
            [{"type": "text", "text": item.text}] if item.text or not item.tool_calls else []
        )
        for name, args in item.tool_calls:  # the API always sends an object; a scripted string is wrapped
            arguments = args if isinstance(args, dict) else {"_raw": args}
            content.append({"type": "tool_use", "id": _id("toolu_"), "name": name, "input": arguments})
        return {
            "id": _id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": item.stop_reason or ("tool_use" if item.tool_calls else "end_turn"),
            "stop_sequence": None,
            "usage": {"input_tokens": item.input_tokens, "output_tokens": item.output_tokens},
        }
    calls = [_openai_call(name, args if isinstance(args, str) else json.dumps(args)) for name, args in item.tool_calls]
    message: dict[str, Any] = {"role": "assistant", "content": item.text or (None if calls else ""), "refusal": None}
    if calls:
        message["tool_calls"] = calls
    finish = item.stop_reason or ("tool_calls" if calls else "stop")
    i, o = item.input_tokens, item.output_tokens
    return {
        "id": _id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": dict(prompt_tokens=i, completion_tokens=o, total_tokens=i + o),
    }


def _openai_call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": _id("call_"), "type": "function", "function": {"name": name, "arguments": arguments}}


def _models_body(api: str, models: Sequence[str]) -> dict[str, Any]:
    if api == "anthropic":
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in models]
        first, last = (models[0], models[-1]) if models else (None, None)
        return {"data": data, "has_more": False, "first_id": first, "last_id": last}
    return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in models]}


def _problem(api: str, body: dict[str, Any]) -> str | None:
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


def _id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


# --- HTTP ---


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeProvider

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away mid-request (a killed host): nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: stdout carries only the URL line
        pass

    def do_GET(self) -> None:
        self._handle(self.command)

    do_POST = do_GET

    def _send(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status, "Overloaded" if status == 529 else None)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout)
            self.close_connection = True

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        path = self.path.split("?", 1)[0]
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body: Any = json.loads(raw) if raw else None
            parsed = True
        except ValueError:
            body, parsed = raw.decode("utf-8", "replace"), False
        if path.startswith("/_fake/"):
            return self._control(method, path, body)
        headers = {k.lower(): v for k, v in self.headers.items()}
        is_anthropic = path == "/v1/messages" or "x-api-key" in headers or "anthropic-version" in headers
        api = "anthropic" if is_anthropic else "openai"
        request = RecordedRequest(method, path, headers, body, api)
        fake._record(request)
        if (method, path) not in {("POST", "/v1/chat/completions"), ("POST", "/v1/messages"), ("GET", "/v1/models")}:
            return self._send(404, _error_body(api, 404, f"Unknown request URL: {method} {path}", None))
        if fake.api_key is not None:
            given = headers.get("x-api-key") if api == "anthropic" else headers.get("authorization")
            expected = fake.api_key if api == "anthropic" else f"Bearer {fake.api_key}"
            if given != expected:
                text = "invalid x-api-key" if is_anthropic else "Incorrect API key provided."
                return self._send(401, _error_body(api, 401, text, None))
        if method == "GET":
            return self._send(200, _models_body(api, fake.models or ()))
        problem: str | None = "body: not a JSON object"
        if parsed and isinstance(body, dict):
            try:
                problem = _problem(api, body)
            except (AttributeError, TypeError) as exc:  # a message or block that is not an object
                problem = f"messages: malformed ({exc})"
        if problem:
            return self._send(400, _error_body(api, 400, problem, None))
        model = body["model"]
        if fake.models is not None and model not in fake.models:
            if api == "anthropic":
                return self._send(404, _error_body(api, 404, f"model: {model}", None))
            text = f"The model `{model}` does not exist or you do not have access to it."
            return self._send(404, _error_body(api, 404, text, None))
        item = fake._next(request)
        if item.delay_s and fake._stopping.wait(item.delay_s):
            self.close_connection = True
            return None
        if isinstance(item, ScriptedError):
            extra = dict(item.headers)
            if item.retry_after is not None:
                extra.setdefault("retry-after", f"{item.retry_after:g}")
            return self._send(item.status, _error_body(api, item.status, item.message, item.error_type), extra)
        return self._send(200, _reply_body(api, item, model))

    def _control(self, method: str, path: str, body: Any) -> None:
        fake = self.server.fake
        if method == "GET" and path == "/_fake/requests":
            return self._send(200, [asdict(r) for r in list(fake.requests)])
        if method == "POST" and path == "/_fake/reset":
            fake.reset()
            return self._send(200, {"ok": True})
        if method == "POST" and path == "/_fake/script":
            try:
                if not isinstance(body, list):
                    raise ValueError("the script must be a JSON list of items")
                count = fake.script(body)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                return self._send(400, {"error": f"bad script: {exc}"})
            return self._send(200, {"queued": count})
        return self._send(404, {"error": f"unknown control endpoint {method} {path}"})
