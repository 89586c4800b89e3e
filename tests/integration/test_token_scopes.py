"""Token scopes on ``/v1`` over real HTTP: read looks, send also sends messages and events, admin does everything.

A refused request (403) names the token's scope and the one needed, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inbox import Inbox
from sweeper.http.app import HostState, make_app
from tests.integration.helpers import stored_text
from tests.integration.unix_server import serving_on_loopback

CONFIGURED = "configured-admin-token-from-the-environment"


@pytest.fixture
def host(store_url: str, tmp_path: Path) -> Iterator[tuple[Inbox, str]]:
    inbox = Inbox(store_url, env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}, actor="api")
    try:
        with serving_on_loopback(make_app(HostState(inbox=inbox, admin_token=CONFIGURED))) as url:
            yield inbox, url
    finally:
        inbox.close()


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_each_scope_reaches_what_it_allows_and_no_more(host: tuple[Inbox, str]) -> None:
    inbox, url = host
    task = inbox.schedule("water the plants", every="1d", name="plants")
    tokens = {scope: inbox.create_token(scope, scope=scope).token for scope in ("read", "send", "admin")}
    calls = {
        "list tasks": ("GET", "/v1/tasks", None),
        "one task": ("GET", f"/v1/tasks/{task.series_id}", None),
        "runs": ("GET", f"/v1/tasks/{task.series_id}/runs", None),
        "outbox": ("GET", "/v1/outbox", None),
        "send": ("POST", "/v1/messages", {"text": "hello"}),
        "emit": ("POST", "/v1/events", {"name": "plants.dry"}),
        "schedule": ("POST", "/v1/tasks", {"prompt": "p", "every": "1h"}),
        "change": ("PATCH", f"/v1/tasks/{task.series_id}", {"name": "renamed"}),
        "pause": ("POST", f"/v1/tasks/{task.series_id}:pause", None),
        "run now": ("POST", f"/v1/tasks/{task.series_id}:run", None),
        "cancel": ("DELETE", f"/v1/tasks/{task.series_id}", None),
    }
    reads = {"list tasks", "one task", "runs", "outbox"}
    allowed = {"read": reads, "send": reads | {"send", "emit"}, "admin": set(calls)}

    for scope in ("read", "send"):
        with _client(url, tokens[scope]) as client:
            for what, (method, path, body) in calls.items():
                before = stored_text(inbox.engine)
                answer = client.request(method, path, json=body)
                if what in allowed[scope]:
                    assert answer.status_code in (200, 201, 202), f"{scope} {what}: {answer.text}"
                    continue
                assert answer.status_code == 403, f"{scope} {what}: {answer.status_code} {answer.text}"
                error = answer.json()["error"]
                assert f"the {scope} scope" in error and scope in error, error
                assert stored_text(inbox.engine) == before, f"{scope} {what} wrote"
    with _client(url, tokens["admin"]) as client:
        for what, (method, path, body) in calls.items():
            assert client.request(method, path, json=body).status_code in (200, 201, 202), what


def test_a_weak_token_with_a_malformed_body_is_refused_for_its_scope_first(host: tuple[Inbox, str]) -> None:
    """The scope is checked before the body is read, as the token is: a read token learns nothing of the schema."""
    inbox, url = host
    reader = inbox.create_token("viewer", scope="read").token
    with _client(url, reader) as client:
        answer = client.post("/v1/tasks", content=b"{not json", headers={"content-type": "application/json"})
    assert answer.status_code == 403, answer.text
    assert inbox.tasks(status="all") == []


def test_inbox_api_token_and_tokens_from_before_scopes_are_admin(host: tuple[Inbox, str]) -> None:
    inbox, url = host
    old = inbox.create_token("from-before")  # no scope given: admin, as every token made before scopes
    for token in (CONFIGURED, old.token):
        with _client(url, token) as client:
            made = client.post("/v1/tasks", json={"prompt": "p", "every": "1h"})
            assert made.status_code == 201, made.text
    assert [t.scope for t in inbox.tokens()] == ["admin"]


def test_mcp_opens_to_admin_tokens_only(host: tuple[Inbox, str]) -> None:
    """/mcp's tools change tasks: a read or send token is known there but refused, before any tool runs."""
    inbox, url = host
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "schedule_task", "arguments": {}}}
    accept = {"Accept": "application/json, text/event-stream"}
    before = stored_text(inbox.engine)
    for scope in ("read", "send"):
        with _client(url, inbox.create_token(f"mcp-{scope}", scope=scope).token) as client:
            answer = client.post("/mcp", json=call, headers=accept)
        assert answer.status_code == 403 and f"the {scope} scope; this needs admin" in answer.json()["error"]
    assert inbox.tasks(status="all") == [] and len(stored_text(inbox.engine)) > len(before)  # only the tokens
