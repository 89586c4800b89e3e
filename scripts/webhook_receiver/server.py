"""A small HTTP/1.1 server on 127.0.0.1 (asyncio, stdlib only) that records each POST it gets and answers it with
the status its policy picks: to test and measure webhook delivery over real loopback HTTP.

In process: ``with Receiver() as receiver: ... receiver.url("/hook") ... receiver.received``. It keeps connections
open (HTTP/1.1 keep-alive) as a real receiver would, so a sender's connection reuse is exercised too. Out of
process: ``python -m scripts.webhook_receiver --port 0 [--refuse 0.5]`` prints ``listening on http://…``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"
MAX_BODY = 1024 * 1024
REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 408: "Request Timeout"}
REASONS |= {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Received:
    at: float  # time.time() when the body had arrived
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int  # what it was answered

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("x-inbox-signature", ""), expected)


# A policy: the status to answer a request with (0: close the connection without answering), or the status and
# headers to add (``Retry-After``).
Answer = int | tuple[int, dict[str, str]]
Policy = Callable[[str, dict[str, str], bytes], Answer]


def always(status: Answer) -> Policy:
    return lambda _path, _headers, _body: status


def in_turn(*answers: Answer) -> Policy:
    """The answers in this order, one per request; the last again once they run out."""
    given = list(answers)
    lock = threading.Lock()

    def answer(_path: str, _headers: dict[str, str], _body: bytes) -> Answer:
        with lock:
            return given.pop(0) if len(given) > 1 else given[0]

    return answer


def refusing(share: float, *, seed: int = 0, status: int = 503) -> Policy:
    """Refuse about ``share`` of the requests (at random, reproducibly) with ``status``, accept the rest."""
    draw = random.Random(seed)
    lock = threading.Lock()

    def answer(_path: str, _headers: dict[str, str], _body: bytes) -> Answer:
        with lock:
            return status if draw.random() < share else 200

    return answer


class Receiver:
    def __init__(
        self,
        policy: Policy | None = None,
        *,
        port: int = 0,
        delay_s: float = 0.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy or always(200)
        self.port = port
        self.tls = tls  # serve HTTPS with this server context
        self.delay_s = delay_s  # how long each answer takes (the request is recorded when it is answered)
        self._received: list[Received] = []
        self.connections = 0  # how many connections senders opened to it
        self._open: set[asyncio.StreamWriter] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # -- life ------------------------------------------------------------------------------------------------
    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="webhook-receiver", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the webhook receiver did not start")

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            with contextlib.suppress(Exception):  # its connections end with it: none is left pending at exit
                asyncio.run_coroutine_threadsafe(self._close_open(), self._loop).result(timeout=5)
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}{path}"

    # -- what it got -----------------------------------------------------------------------------------------
    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def accepted(self) -> list[Received]:
        """The requests answered 2xx."""
        return [r for r in self.received if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout_s: float = 20.0, *, accepted: bool = True) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.accepted() if accepted else self.received
            if len(got) >= count:
                return got
            time.sleep(0.02)
        got = self.accepted() if accepted else self.received
        raise AssertionError(f"the receiver got {len(got)} requests, not {count}, within {timeout_s:g} s")

    # -- serving ---------------------------------------------------------------------------------------------
    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        serving = asyncio.start_server(self._connection, HOST, self.port, backlog=512, ssl=self.tls)
        self._server = loop.run_until_complete(serving)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def close_idle(self) -> None:
        """End every open connection, as a server does with a connection idle past its keep-alive time."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._close_open(), self._loop).result(timeout=10)

    async def _close_open(self) -> None:
        for writer in list(self._open):
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1  # the loop's thread only
        self._open.add(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            while await self._one_request(reader, writer):
                pass
        self._open.discard(writer)
        writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request and answer it; False when the connection is to be closed."""
        line = await reader.readline()
        if not line:
            return False
        _method, path, _version = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(min(length, MAX_BODY))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        answer = self.policy(path, headers, body)
        status, extra = answer if isinstance(answer, tuple) else (answer, {})
        with self._lock:
            self._received.append(Received(time.time(), path, headers, body, status))
        if status == 0:
            return False  # dropped without an answer
        reason = REASONS.get(status, "Status")
        added = "".join(f"{name}: {value}\r\n" for name, value in extra.items())
        writer.write(f"HTTP/1.1 {status} {reason}\r\n{added}Content-Length: 0\r\n\r\n".encode())
        await writer.drain()
        return headers.get("connection", "").lower() != "close"
