"""``/mcp`` of the host's app served on loopback, on every store backend: which tokens it takes, and that what it
writes is the server's ``mcp`` whoever the token names. The SDK's client against a real ``inbox serve`` is in
tests/acceptance/test_mcp.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inbox import Inbox
from sweeper.http.app import HostState, make_app
from sweeper.http.runner_auth import RunnerIdentity
from tests.conftest import Clock
from tests.fuzz.store_state import store_state
from tests.integration.unix_server import serving_on_loopback

TOKEN = "configured-admin-token-7d2e"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def host(store_url: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[HostState, str]]:
    inbox = Inbox(store_url, actor="api", clock=clock, env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"})
    state = HostState(inbox=inbox, admin_token=TOKEN)
    try:
        with serving_on_loopback(make_app(state)) as url:
            yield state, f"{url}/mcp"
    finally:
        inbox.close()


def tool_call(url: str, token: str, name: str, arguments: dict[str, Any]) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    return httpx.post(url, json=body, headers={**HEADERS, "Authorization": f"Bearer {token}"}, timeout=30)


def result(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    answer = response.json()["result"]
    assert not answer["isError"], answer
    return json.loads(answer["content"][0]["text"])


def test_a_stored_admin_token_works_until_revoked_and_the_writer_is_mcp(host: tuple[HostState, str]) -> None:
    state, url = host
    inbox = state.inbox
    made = inbox.create_token("my-assistant")
    task = result(tool_call(url, made.token, "schedule_task", {"prompt": "from a stored token", "every": "1h"}))
    assert inbox.get(task["id"]).created_by == "mcp"  # not "api", not the token's name
    assert result(tool_call(url, TOKEN, "get_task", {"task_id": task["id"]}))["prompt"] == "from a stored token"
    inbox.revoke_token("my-assistant")
    before = store_state(inbox.engine)
    refused = tool_call(url, made.token, "schedule_task", {"prompt": "after revoking", "every": "1h"})
    assert refused.status_code == 401 and refused.json() == {"error": "invalid or revoked token"}
    assert store_state(inbox.engine) == before


def test_a_runner_token_is_refused_on_mcp(host: tuple[HostState, str]) -> None:
    state, url = host
    runner = state.runner_tokens.issue(RunnerIdentity(session="main", owner="r-1"))
    before = store_state(state.inbox.engine)
    refused = tool_call(url, runner, "schedule_task", {"prompt": "a runner's reach", "every": "1h"})
    assert refused.status_code == 403, refused.text
    assert "runner token" in refused.json()["error"]
    assert store_state(state.inbox.engine) == before


def test_a_refused_tool_call_over_http_is_a_tool_error_and_writes_nothing(host: tuple[HostState, str]) -> None:
    state, url = host
    before = store_state(state.inbox.engine)
    response = tool_call(url, TOKEN, "schedule_task", {"prompt": "x", "every": "often"})
    assert response.status_code == 200
    answer = response.json()["result"]
    assert answer["isError"] and answer["content"][0]["text"].startswith("every: 'often' is not a duration")
    assert store_state(state.inbox.engine) == before
