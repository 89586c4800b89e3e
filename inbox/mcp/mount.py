"""``/mcp`` on the host's HTTP application, with the MCP SDK loaded at its first request rather than at start-up.

The SDK's protocol types alone are a large share of the host's resident size (docs/benchmarks.md, "Host memory"),
for an endpoint most hosts are never asked for. So the route is mounted at once
and the SDK imported (in a worker thread: the import takes a while and must not hold the event loop) when a
request first reaches it; its transport then runs in the app's lifespan like any other, until the host stops.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    from inbox.api import Inbox
    from inbox.mcp.server import McpEndpoint

PATH = "/mcp"
log = logging.getLogger("inbox.host")


class LazyMcp:
    """An ASGI app for ``/mcp`` that builds the SDK's endpoint (``inbox.mcp.server.McpEndpoint``) when first asked.

    ``check`` is the ``/v1`` token check, which the endpoint runs on every request.
    """

    def __init__(self, inbox: Inbox, check: Callable[[Request], None]) -> None:
        self._inbox = inbox
        self._check = check
        self._endpoint: McpEndpoint | None = None
        self._wanted: anyio.Event | None = None
        self._ready: anyio.Event | None = None
        self._broken: str | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Enter in the app's lifespan: the task that loads the SDK once asked, then runs its transport."""
        self._wanted, self._ready = anyio.Event(), anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(self._serve, self._wanted, self._ready)
            try:
                yield
            finally:
                group.cancel_scope.cancel()

    async def _serve(self, wanted: anyio.Event, ready: anyio.Event) -> None:
        await wanted.wait()
        try:
            server = await anyio.to_thread.run_sync(importlib.import_module, "inbox.mcp.server")
            endpoint: McpEndpoint = server.McpEndpoint(server.acting_inbox(self._inbox), self._check)
        except Exception as exc:  # the rest of the host goes on without /mcp
            log.error("/mcp is unavailable: the MCP server could not be loaded: %r", exc)
            self._broken = f"the MCP server could not be loaded: {exc!r}"
            ready.set()
            return
        async with endpoint.running():
            self._endpoint = endpoint
            ready.set()
            await anyio.sleep_forever()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._wanted is None or self._ready is None:
            raise RuntimeError("/mcp is served only by an app whose lifespan runs LazyMcp.running()")
        self._wanted.set()
        await self._ready.wait()
        if self._endpoint is None:
            await JSONResponse({"error": self._broken or "/mcp is unavailable"}, status_code=503)(scope, receive, send)
            return
        await self._endpoint(scope, receive, send)
