"""MCP as a client program uses it: the official SDK's own client over stdio (``inbox mcp``, spawned as an MCP
client spawns it) and over streamable HTTP (``/mcp`` of a real ``inbox serve --listen``, with a bearer token),
on every store backend. A host serves the store in both cases, so what is scheduled also runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from tests.acceptance.served import Served
from tests.fuzz.served_api import ApiHost, start_api_host
from tests.fuzz.store_state import store_state

pytestmark = pytest.mark.slow

TOOLS = {"schedule_task", "list_tasks", "get_task", "get_task_runs", "update_task", "pause_task", "resume_task"}
TOOLS |= {"cancel_task", "run_task_now", "send_message", "read_outbox", "emit_event"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ARGUMENTS = {"prompt": "let in?", "every": "1h"}
CALL = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "schedule_task", "arguments": ARGUMENTS}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass
class McpServer:
    """Where an MCP client finds the inbox: the command it spawns, or the host's URL and token."""

    transport: str
    served: Served
    api: ApiHost

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Client]:
        if self.transport == "stdio":
            command = StdioServerParameters(command=sys.executable, args=["-m", "inbox.cli.main", "mcp"], env=self.env)
            async with Client(command) as client:
                yield client
            return
        async with (
            httpx2.AsyncClient(headers=self.api.auth, timeout=60) as http,
            Client(streamable_http_client(f"{self.api.base_url}/mcp", http_client=http)) as client,
        ):
            yield client

    @property
    def env(self) -> dict[str, str]:
        return self.served.env  # INBOX_HOME, the store, PYTHONPATH: what the user's MCP client configuration gives


@pytest.fixture(params=["stdio", "http"])
def server(request: pytest.FixtureRequest, served: Served) -> Iterator[McpServer]:
    api = start_api_host(served)
    yield McpServer(str(request.param), served, api)
    served.stop_hosts()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario)


def text(result: CallToolResult) -> str:
    [content] = result.content
    assert isinstance(content, TextContent), content
    return content.text


def answer(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    return json.loads(text(result))


def test_list_tools_schedule_list_pause_cancel(server: McpServer) -> None:
    async def scenario() -> None:
        async with server.client() as client:
            listed = await client.list_tools()
            assert {tool.name for tool in listed.tools} == TOOLS
            reading = {tool.name for tool in listed.tools if tool.annotations and tool.annotations.read_only_hint}
            assert reading == {"list_tasks", "get_task", "get_task_runs", "read_outbox"}
            made = answer(
                await client.call_tool(
                    "schedule_task", {"prompt": "Standup", "cron": "0 9 * * 1-5", "name": "standup", "session": "work"}
                )
            )
            assert made["session"] == "work" and made["schedule"] == "cron 0 9 * * 1-5"
            tasks = answer(await client.call_tool("list_tasks", {"session": "work"}))
            assert [task["series_id"] for task in tasks] == [made["series_id"]]
            assert answer(await client.call_tool("list_tasks", {})) == []  # session main: not there
            paused = answer(await client.call_tool("pause_task", {"task_id": "standup", "session": "work"}))
            assert paused["status"] == "paused"
            cancelled = answer(await client.call_tool("cancel_task", {"task_id": made["id"], "session": "work"}))
            assert cancelled["status"] == "cancelled"
            assert server.served.inbox.get(made["id"]).created_by == "mcp"

    run(scenario)


def test_an_invalid_call_is_a_tool_error_naming_the_field_and_writes_nothing(server: McpServer) -> None:
    calls = [
        ("schedule_task", {"prompt": "x", "cron": "61 * * * *"}, "cron: '61 * * * *' is not a valid cron expression"),
        ("schedule_task", {"prompt": "x", "every": "1h", "colour": "red"}, "colour: is not an argument of"),
        ("pause_task", {"task_id": "no-such-task"}, "task_id: no task 'no-such-task' in session 'main'"),
        ("update_task", {"task_id": "no-such-task", "cron": "0 9 * * *"}, "task_id: no task 'no-such-task'"),
    ]

    async def scenario() -> None:
        async with server.client() as client:
            kept = answer(await client.call_tool("schedule_task", {"prompt": "kept", "every": "1h"}))
            before = store_state(server.served.inbox.engine)
            for tool, arguments, expected in calls:
                result = await client.call_tool(tool, arguments)
                assert result.is_error, (tool, arguments)
                assert text(result).startswith(expected), text(result)
            assert store_state(server.served.inbox.engine) == before
            assert server.served.inbox.get(kept["id"]).status == "active"

    run(scenario)


def test_a_reminder_scheduled_over_mcp_is_delivered_and_read_from_the_outbox(server: McpServer) -> None:
    async def scenario() -> None:
        async with server.client() as client:
            made = answer(await client.call_tool("schedule_task", {"prompt": "Stretch!", "at": "1s", "remind": True}))
            sent = answer(await client.call_tool("send_message", {"text": "hello", "session": "elsewhere"}))
            assert sent["created_by"] == "mcp" and server.served.inbox.message(sent["id"]).created_by == "mcp"
            delivered: list[Any] = []
            with anyio.fail_after(60):
                while not delivered:
                    delivered = answer(await client.call_tool("read_outbox", {}))
                    await anyio.sleep(0.2)
            assert [(item["text"], item["series_id"]) for item in delivered] == [("Stretch!", made["series_id"])]
            after = answer(await client.call_tool("read_outbox", {"after": delivered[-1]["id"]}))
            assert after == []

    run(scenario)


@pytest.fixture
def api_host(served: Served) -> Iterator[ApiHost]:
    yield start_api_host(served)
    served.stop_hosts()


STRANGERS = {
    "no token": {},
    "wrong token": {"Authorization": "Bearer not-the-token"},
    "no value": {"Authorization": "Bearer"},
    "other scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
}


def test_mcp_over_http_refuses_a_caller_without_the_token(api_host: ApiHost) -> None:
    before = store_state(api_host.served.inbox.engine)
    url = f"{api_host.base_url}/mcp"
    for who, headers in STRANGERS.items():
        for method, body in (("POST", INITIALIZE), ("POST", CALL), ("GET", None), ("DELETE", None)):
            response = httpx.request(method, url, json=body, headers={**MCP_HEADERS, **headers}, timeout=30)
            assert response.status_code == 401, (who, method, body, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    assert store_state(api_host.served.inbox.engine) == before
    # with the token, the same call is carried out
    allowed = httpx.post(url, json=CALL, headers={**MCP_HEADERS, **api_host.auth}, timeout=30)
    assert allowed.status_code == 200 and not allowed.json()["result"]["isError"]
    assert store_state(api_host.served.inbox.engine) != before


def test_mcp_is_not_an_operation_of_the_openapi_document(api_host: ApiHost) -> None:
    """It is JSON-RPC, described by MCP itself (tools/list), not a REST operation a client generator could use."""
    paths = httpx.get(f"{api_host.base_url}/openapi.json", timeout=30).json()["paths"]
    assert "/mcp" not in paths and any(path.startswith("/v1/") for path in paths)
