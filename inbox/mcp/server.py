"""The MCP server (the official ``mcp`` SDK's low-level :class:`~mcp.server.Server`) over stdio or HTTP.

``inbox mcp`` serves it on standard input and output; ``inbox serve --listen`` also at ``/mcp`` (streamable
HTTP) behind the ``/v1`` API's bearer-token check (:class:`McpEndpoint`). Either way the tools are
:mod:`inbox.mcp.tools`, applied by an :class:`~inbox.api.Inbox` that acts as ``mcp``.

The low-level server is used rather than the SDK's decorator-based one so that each tool's input schema is its
argument model's (derived from the one model of a task's fields), and the arguments are checked by that model,
refusals in its words, not by a second description of the same fields written as function signatures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any

import anyio
import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from inbox import __version__
from inbox.api import Inbox
from inbox.mcp.tools import ACTOR, BY_NAME, TOOLS, Effect, Refusal, Tool, call

Context = ServerRequestContext[Any]
INSTRUCTIONS = (
    "A scheduler for a personal AI assistant: schedule tasks and reminders (schedule_task), manage them, talk to "
    "the assistant (send_message) and read what it delivered (read_outbox). Every tool takes an optional "
    "session (default main): tasks are made, listed and found in that session."
)


def acting_inbox(inbox: Inbox) -> Inbox:
    """An inbox on the same store and clock that acts as ``mcp``: what the tools write carries that name."""
    return Inbox(inbox.url, env=inbox.settings.env, actor=ACTOR, clock=inbox.clock, engine=inbox.engine)


def _text(value: Any) -> list[types.ContentBlock]:
    return [types.TextContent(text=json.dumps(value, ensure_ascii=False))]


def _shown(tool: Tool) -> types.Tool:
    hints = types.ToolAnnotations(
        read_only_hint=tool.effect is Effect.READS,
        destructive_hint=tool.effect is Effect.CHANGES,
        open_world_hint=False,  # the inbox's own store, nothing beyond it
    )
    return types.Tool(name=tool.name, description=tool.description, input_schema=tool.input_schema, annotations=hints)


def make_server(inbox: Inbox) -> Server[Any]:
    """The MCP server whose tools act through ``inbox`` (see :func:`acting_inbox`)."""
    listed = types.ListToolsResult(tools=[_shown(tool) for tool in TOOLS])

    async def list_tools(_: Context, __: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return listed

    async def call_tool(_: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        # The store is blocking: off the event loop, which also serves the runners when mounted in the host
        try:
            result = await anyio.to_thread.run_sync(partial(call, inbox, params.name, dict(params.arguments or {})))
        except Refusal as exc:
            return types.CallToolResult(content=[types.TextContent(text=str(exc))], is_error=True)
        return types.CallToolResult(content=_text(result))

    def input_schema(name: str) -> dict[str, Any] | None:
        tool = BY_NAME.get(name)
        return tool.input_schema if tool is not None else None

    return Server(
        "inbox",
        version=__version__,
        instructions=INSTRUCTIONS,
        get_tool_input_schema=input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(inbox: Inbox) -> None:
    """Serve MCP on this process's standard input and output until the client closes them."""
    server = make_server(inbox)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


class McpEndpoint:
    """``/mcp`` as an ASGI app: ``check`` (the ``/v1`` token check) first, then the SDK's transport.

    Stateless, with JSON answers: every request carries its own token and is checked on its own (no session
    outlives it, none is tied to a token), and any host on the store can answer any request.
    """

    def __init__(self, inbox: Inbox, check: Callable[[Request], None]) -> None:
        self.check = check
        self.manager = StreamableHTTPSessionManager(app=make_server(inbox), json_response=True, stateless=True)

    def running(self) -> AbstractAsyncContextManager[None]:
        """The transport's task group: enter it in the lifespan of the app that serves this endpoint."""
        return self.manager.run()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # blocking (it may ask the store), as the /v1 routes run it: in a worker thread
            await run_in_threadpool(self.check, Request(scope, receive))
        except HTTPException as exc:
            refused = JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)
            await refused(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)
