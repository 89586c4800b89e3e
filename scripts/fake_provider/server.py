"""A scripted fake model server on 127.0.0.1 speaking the OpenAI Chat Completions and Anthropic Messages wire
formats, so provider clients are tested over real HTTP (stdlib only). See docs/providers.md for usage.

Out of process: ``python -m scripts.fake_provider --port 0`` prints ``listening on http://127.0.0.1:PORT``;
control it with ``POST /_fake/script`` (a JSON list of items), ``POST /_fake/outage`` (one item answering every
call until ``null`` is posted), ``GET /_fake/requests``, ``POST /_fake/reset``.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scripts.fake_provider.wire import (
    RecordedRequest,
    Scripted,
    ScriptedError,
    ScriptedReply,
    error_body,
    models_body,
    problem,
    reply_body,
)

__all__ = ["HOST", "FakeProvider", "RecordedRequest", "Scripted", "ScriptedError", "ScriptedReply"]

HOST = "127.0.0.1"  # never anything else


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
        self._outage: Scripted | None = None
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

    def outage(self, item: Scripted | None) -> None:
        """Answer every call with ``item`` until ``outage(None)``, ahead of the queue: a provider that is down
        (``ScriptedError(503)``), rate limits everyone (``ScriptedError(429, retry_after=30)``) or hangs
        (``ScriptedReply(delay_s=300)``, longer than the client waits)."""
        with self._lock:
            self._outage = item

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
            self._outage = None

    def _push(self, item: Scripted) -> None:
        with self._lock:
            self._queue.append(item)

    def _next(self, request: RecordedRequest) -> Scripted:
        with self._lock:
            if self._outage is not None:
                return self._outage
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
            return self._send(404, error_body(api, 404, f"Unknown request URL: {method} {path}", None))
        if fake.api_key is not None:
            given = headers.get("x-api-key") if api == "anthropic" else headers.get("authorization")
            expected = fake.api_key if api == "anthropic" else f"Bearer {fake.api_key}"
            if given != expected:
                text = "invalid x-api-key" if is_anthropic else "Incorrect API key provided."
                return self._send(401, error_body(api, 401, text, None))
        if method == "GET":
            return self._send(200, models_body(api, fake.models or ()))
        rejected: str | None = "body: not a JSON object"
        if parsed and isinstance(body, dict):
            try:
                rejected = problem(api, body)
            except (AttributeError, TypeError) as exc:  # a message or block that is not an object
                rejected = f"messages: malformed ({exc})"
        if rejected:
            return self._send(400, error_body(api, 400, rejected, None))
        model = body["model"]
        if fake.models is not None and model not in fake.models:
            if api == "anthropic":
                return self._send(404, error_body(api, 404, f"model: {model}", None))
            text = f"The model `{model}` does not exist or you do not have access to it."
            return self._send(404, error_body(api, 404, text, None))
        item = fake._next(request)
        if item.delay_s and fake._stopping.wait(item.delay_s):
            self.close_connection = True
            return None
        if isinstance(item, ScriptedError):
            extra = dict(item.headers)
            if item.retry_after is not None:
                extra.setdefault("retry-after", f"{item.retry_after:g}")
            return self._send(item.status, error_body(api, item.status, item.message, item.error_type), extra)
        return self._send(200, reply_body(api, item, model))

    def _control(self, method: str, path: str, body: Any) -> None:
        fake = self.server.fake
        if method == "GET" and path == "/_fake/requests":
            return self._send(200, [asdict(r) for r in list(fake.requests)])
        if method == "POST" and path == "/_fake/reset":
            fake.reset()
            return self._send(200, {"ok": True})
        if method == "POST" and path == "/_fake/outage":
            try:
                fake.outage(None if body is None else _item_from_json(body))
            except (ValueError, TypeError, AttributeError) as exc:
                return self._send(400, {"error": f"bad outage item: {exc}"})
            return self._send(200, {"outage": body is not None})
        if method == "POST" and path == "/_fake/script":
            try:
                if not isinstance(body, list):
                    raise ValueError("the script must be a JSON list of items")
                count = fake.script(body)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                return self._send(400, {"error": f"bad script: {exc}"})
            return self._send(200, {"queued": count})
        return self._send(404, {"error": f"unknown control endpoint {method} {path}"})
