"""The public ``/v1`` HTTP API, over a real socket: a uvicorn server in a thread, on every store backend."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select

from inbox import Inbox
from inbox.enums import Outcome
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.views import MessageDetail
from sweeper.http.app import HostState, make_app
from sweeper.sweep import sweep_once
from tests.conftest import Clock
from tests.integration.helpers import claim, end, fail, run_due
from tests.integration.unix_server import serving_on_loopback

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # before FastAPI 0.165 included routers were copied into app.routes, already flat

    def iter_route_contexts(routes: Any) -> Any:  # type: ignore[misc]
        return iter(routes)


TOKEN = "secret-token"
JSON = {"content-type": "application/json"}
NOW = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # two days before the UK moves to summer time


@dataclass
class Served:
    http: httpx.Client  # carries the admin token
    app: FastAPI
    inbox: Inbox
    url: str


@pytest.fixture
def api(store_url: str, tmp_path: Path, clock: Clock) -> Iterator[Served]:
    clock.set(NOW)
    inbox = Inbox(store_url, actor="api", clock=clock, env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"})
    app = make_app(HostState(inbox=inbox, admin_token=TOKEN), runner_routes=False)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with serving_on_loopback(app) as url, httpx.Client(base_url=url, headers=auth, timeout=10) as http:
            yield Served(http=http, app=app, inbox=inbox, url=url)
    finally:
        inbox.close()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) <= {"error", "field"} and body["error"], body
    if field is not None:
        assert body["field"] == field, body
        assert body["error"].startswith(f"{field}: "), body
    return body


def all_tasks(api: Served) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(api.http.get("/v1/tasks", params={"status": "all"}))
    return found


def test_a_cron_task_in_a_zone_answers_its_next_runs_with_their_offsets(api: Served) -> None:
    body = {"prompt": "Stand-up notes", "cron": "0 9 * * *", "tz": "Europe/London", "name": "standup"}
    made = ok(api.http.post("/v1/tasks", json=body), 201)

    assert made["timezone"] == "Europe/London"
    assert made["series_id"] == made["id"] and made["name"] == "standup"
    # 9:00 London is 09:00 GMT until 29 March, then 09:00 BST (08:00 UTC)
    assert made["next_runs"] == ["2026-03-28T09:00:00+00:00", "2026-03-29T09:00:00+01:00", "2026-03-30T09:00:00+01:00"]

    task = ok(api.http.get("/v1/tasks/standup"))  # the name works as an id
    assert task["series_id"] == made["series_id"] and task["next_run"] == "2026-03-28T09:00:00+00:00"
    assert task["status"] == "active" and task["prompt"] == "Stand-up notes"
    assert task["created_by"] == "token:INBOX_API_TOKEN"
    assert task["created_at"] == "2026-03-27T12:00:00+00:00"


def test_a_task_is_listed_changed_paused_resumed_run_and_cancelled(api: Served) -> None:
    made = ok(api.http.post("/v1/tasks", json={"prompt": "Check the mail", "every": "1h", "session": "ops"}), 201)
    sid = made["series_id"]
    listed = ok(api.http.get("/v1/tasks", params={"session": "ops"}))
    assert [(t["series_id"], t["next_run"]) for t in listed] == [(sid, "2026-03-27T13:00:00+00:00")]
    assert ok(api.http.get("/v1/tasks", params={"session": "elsewhere"})) == []
    assert ok(api.http.get(f"/v1/tasks/{sid[:20]}"))["series_id"] == sid  # a unique prefix will do

    changed = ok(api.http.patch(f"/v1/tasks/{sid}", json={"cron": "30 18 * * *", "name": "mail"}))
    assert changed["next_run"] == "2026-03-27T18:30:00+00:00"  # the new schedule moves the live row at once
    assert changed["name"] == "mail" and "30 18 * * *" in changed["schedule"]

    # ":pause" is its own route: a GET of the same path is not read as a task id and pauses nothing
    refused(api.http.get(f"/v1/tasks/{sid}:pause"), 404)
    assert ok(api.http.post(f"/v1/tasks/{sid}:pause"))["status"] == "paused"
    assert [t["series_id"] for t in ok(api.http.get("/v1/tasks", params={"status": "paused"}))] == [sid]
    assert ok(api.http.get("/v1/tasks")) == []
    assert ok(api.http.post(f"/v1/tasks/{sid}:resume"))["status"] == "active"

    extra = ok(api.http.post(f"/v1/tasks/{sid}:run"), 201)
    assert extra["kind"] == "task" and extra["status"] == "pending"
    assert extra["process_after"] == "2026-03-27T12:00:00+00:00" and extra["created_by"] == "token:INBOX_API_TOKEN"
    assert ok(api.http.get(f"/v1/tasks/{sid}"))["next_run"] == "2026-03-27T18:30:00+00:00"  # schedule unmoved

    cancelled = ok(api.http.delete(f"/v1/tasks/{sid}"))
    assert cancelled["status"] == "cancelled" and cancelled["next_run"] is None
    assert ok(api.http.get("/v1/tasks")) == []
    assert [t["status"] for t in ok(api.http.get("/v1/tasks", params={"status": "ended"}))] == ["cancelled"]
    refused(api.http.post(f"/v1/tasks/{sid}:resume"), 409)
    refused(api.http.patch(f"/v1/tasks/{sid}", json={"name": "late"}), 409)


def test_runs_and_the_outbox_show_what_was_delivered(api: Served) -> None:
    body = {"prompt": "Take the bins out", "cron": "0 19 * * 2", "remind": True, "session": "home"}
    sid = ok(api.http.post("/v1/tasks", json=body), 201)["series_id"]
    extra = ok(api.http.post(f"/v1/tasks/{sid}:run"), 201)
    assert sweep_once(api.inbox.engine, now=api.inbox.clock()).delivered == 1  # the host's pass delivers it

    runs = ok(api.http.get(f"/v1/tasks/{sid}/runs"))
    assert [(r["message_id"], r["outcome"], r["attempt"]) for r in runs] == [(extra["id"], "completed", 1)]
    assert runs[0]["ended_at"] == "2026-03-27T12:00:00+00:00"
    assert ok(api.http.get(f"/v1/tasks/{sid}/runs", params={"status": "failed"})) == []
    assert ok(api.http.get(f"/v1/tasks/{sid}"))["runs"] == 1

    items = ok(api.http.get("/v1/outbox", params={"session": "home"}))
    assert [(i["kind"], i["text"], i["in_reply_to"]) for i in items] == [("reminder", "Take the bins out", extra["id"])]
    assert ok(api.http.get("/v1/outbox", params={"after": items[0]["id"]})) == []
    assert ok(api.http.get("/v1/outbox", params={"session": "office"})) == []
    refused(api.http.get(f"/v1/tasks/{sid}/runs", params={"limit": 0}), 422, "limit")
    refused(api.http.get(f"/v1/tasks/{sid}/runs", params={"status": "great"}), 422, "status")


def test_a_message_is_dropped_now_or_later(api: Served) -> None:
    now = ok(api.http.post("/v1/messages", json={"text": "hello"}), 201)
    assert (now["kind"], now["session"], now["status"], now["created_by"]) == (
        "chat",
        "main",
        "pending",
        "token:INBOX_API_TOKEN",
    )
    later = ok(api.http.post("/v1/messages", json={"text": "later", "in": "10m", "session": "s2"}), 201)
    assert later["process_after"] == "2026-03-27T12:10:00+00:00" and later["session"] == "s2"
    refused(api.http.post("/v1/messages", json={"text": "x", "in_": "10m"}), 422, "in_")
    refused(api.http.post("/v1/messages", json={"text": "x", "at": "2020-01-01T00:00"}), 422, "at")


def test_created_by_is_set_by_the_server_and_a_body_cannot_choose_it(api: Served) -> None:
    body = {"prompt": "Pay rent", "every": "1d", "created_by": "mallory"}
    error = refused(api.http.post("/v1/tasks", json=body), 422, "created_by")
    assert "not a known field" in error["error"]
    refused(api.http.post("/v1/messages", json={"text": "hi", "created_by": "mallory"}), 422, "created_by")
    assert all_tasks(api) == []
    assert ok(api.http.get("/v1/outbox")) == []
    del body["created_by"]
    sid = ok(api.http.post("/v1/tasks", json=body), 201)["series_id"]
    refused(api.http.patch(f"/v1/tasks/{sid}", json={"created_by": "mallory"}), 422, "created_by")
    assert [t["created_by"] for t in all_tasks(api)] == ["token:INBOX_API_TOKEN"]


INVALID_TASKS: list[tuple[Any, str]] = [
    ({"prompt": "x", "cron": "0 9 31 2 *"}, "cron"),  # 31 February never comes
    ({"prompt": "x", "cron": "every morning"}, "cron"),
    ({"cron": "0 9 * * *"}, "prompt"),
    ({"prompt": " ", "every": "1h"}, "prompt"),
    ({"prompt": "x", "cron": "0 9 * * *", "every": "1h"}, "schedule"),
    ({"prompt": "x"}, "schedule"),
    ({"prompt": "x", "every": "1h", "max_runs": "3"}, "max_runs"),  # a string is not a number
    ({"prompt": "x", "every": "1h", "remind": "yes"}, "remind"),
    ({"prompt": "x", "every": "1h", "catch_up": "sometimes"}, "catch_up"),
    ({"prompt": "x", "every": "1h", "timeout": "soon"}, "timeout"),
    ({"prompt": "x", "every": "1h", "session": "no spaces"}, "session"),
    ({"prompt": "x", "every": "1h", "tz": "Mars/Olympus"}, "tz"),  # named as in the request, not "--tz"
    ({"prompt": "x", "at": "2026-03-27T11:00:00Z"}, "at"),  # in the past
    (["prompt", "x"], "body"),
    ({"prompt": "x", "every": "1h", "do": "http", "with": {"url": "gopher://x"}}, "with.url"),
    ({"prompt": "x", "every": "1h", "do": "command", "with": {"argv": []}}, "with.argv"),
    ({"prompt": "x", "every": "1h", "do": "teleport"}, "do"),
]


def test_a_task_says_what_it_does_and_with_what(api: Served) -> None:
    body = {"prompt": "ping", "every": "5m", "do": "http", "with": {"url": "https://example.com/up", "method": "GET"}}
    sid = ok(api.http.post("/v1/tasks", json=body), 201)["series_id"]
    shown = ok(api.http.get(f"/v1/tasks/{sid}"))
    assert shown["do"] == "http"
    assert shown["with"] == {"url": "https://example.com/up", "method": "GET", "headers": {}}
    assert shown["progress"] is None


def test_invalid_input_is_refused_naming_the_field_and_writes_nothing(api: Served) -> None:
    for body, field in INVALID_TASKS:
        refused(api.http.post("/v1/tasks", json=body), 422, field)
    refused(api.http.post("/v1/tasks", content=b'{"prompt": "x",', headers=JSON), 422, "body")
    refused(api.http.post("/v1/tasks"), 422, "body")
    assert all_tasks(api) == []

    sid = ok(api.http.post("/v1/tasks", json={"prompt": "x", "every": "1h"}), 201)["series_id"]
    refused(api.http.patch(f"/v1/tasks/{sid}", json={"cron": "61 * * * *"}), 422, "cron")
    refused(api.http.patch(f"/v1/tasks/{sid}", json={}), 422, "update")
    assert ok(api.http.get(f"/v1/tasks/{sid}"))["schedule"] == ok(api.http.get("/v1/tasks"))[0]["schedule"]
    assert ok(api.http.get(f"/v1/tasks/{sid}"))["next_run"] == "2026-03-27T13:00:00+00:00"


def test_an_unknown_id_is_404(api: Served) -> None:
    for method, path, body in [
        ("GET", "/v1/tasks/01NOSUCHTASK", None),
        ("PATCH", "/v1/tasks/01NOSUCHTASK", {"name": "x"}),
        ("DELETE", "/v1/tasks/01NOSUCHTASK", None),
        ("POST", "/v1/tasks/01NOSUCHTASK:pause", None),
        ("POST", "/v1/tasks/01NOSUCHTASK:resume", None),
        ("POST", "/v1/tasks/01NOSUCHTASK:run", None),
        ("GET", "/v1/tasks/01NOSUCHTASK/runs", None),
    ]:
        error = refused(api.http.request(method, path, json=body), 404)
        assert "01NOSUCHTASK" in error["error"], (method, path)
    error = refused(api.http.get("/v1/messages/01NOSUCHMESSAGE"), 404, "message_id")
    assert "no message" in error["error"] and "01NOSUCHMESSAGE" in error["error"]


def v1_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves under /v1, as the app routes them."""
    return sorted(
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if (route.path or "").startswith("/v1/")
        for method in route.methods or ()
    )


def test_every_route_refuses_a_missing_or_wrong_token(api: Served) -> None:
    sid = ok(api.http.post("/v1/tasks", json={"prompt": "x", "every": "1h"}), 201)["series_id"]
    routes = v1_routes(api.app)
    assert len(routes) == 21, routes
    for headers in [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}, {"Authorization": "Bearer"}]:
        with httpx.Client(base_url=api.url, headers=headers, timeout=10) as stranger:
            for (method, path), content in itertools.product(routes, [b'{"prompt": "y", "text": "y"}', b'{"pro']):
                where = path.replace("{task_id}", sid).replace("{message_id}", sid)
                response = stranger.request(method, where, content=content, headers=JSON)
                assert response.status_code == 401, (headers, method, path, content, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
    assert [(t["series_id"], t["status"], t["runs"]) for t in all_tasks(api)] == [(sid, "active", 0)]
    with transaction(api.inbox.engine) as db:  # no message was dropped, no occurrence added
        assert db.exec(select(MessageIn.id)).all() == [sid]


def test_input_the_store_cannot_hold_is_refused_with_422_and_writes_nothing(api: Served) -> None:
    # Found by tests/fuzz: each was a 500 on PostgreSQL (a NUL, a lone surrogate, too long for its column, past
    # the year 9999) or an undocumented 400 (a body that is not UTF-8).
    long_cron = ",".join(str(minute % 60) for minute in range(100)) + " * * * *"
    cases = [
        (api.http.post("/v1/tasks", content=b'{"prompt": "caf\xe9", "every": "1h"}', headers=JSON), "body"),
        (api.http.post("/v1/tasks", json={"prompt": "a\x00b", "every": "1h"}), "prompt"),
        (api.http.post("/v1/tasks", content=b'{"prompt": "\\udc80", "every": "1h"}', headers=JSON), "prompt"),
        (api.http.post("/v1/tasks", json={"prompt": "p", "cron": long_cron}), "cron"),
        (api.http.post("/v1/tasks", json={"prompt": "p", "every": "1h", "max_runs": 2**31}), "max_runs"),
        (api.http.post("/v1/messages", json={"text": "hi", "in": "142857143w"}), "in"),
        (api.http.post("/v1/messages", json={"text": "hi", "at": "9999-12-31T23:59:59-12:00"}), "at"),
        (api.http.get("/v1/tasks", params={"session": "\x00"}), "session"),
        (api.http.get("/v1/outbox", params={"session": "\x00"}), "session"),
        (api.http.get("/v1/outbox", params={"after": "a\x00"}), "after"),
        (api.http.get("/v1/tasks/ab%00cd"), "id"),
    ]
    for response, field in cases:
        refused(response, 422, field)
    assert all_tasks(api) == [] and api.inbox.outbox() == []


def test_the_openapi_document_lists_every_v1_route(api: Served) -> None:
    document = ok(httpx.get(f"{api.url}/openapi.json", timeout=10))
    documented = sorted(
        (method.upper(), path) for path, item in document["paths"].items() if path.startswith("/v1/") for method in item
    )
    assert documented == v1_routes(api.app)
    create = document["paths"]["/v1/tasks"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Scheduled"
    }
    assert {"401", "422"} <= set(create["responses"])
    schemas = document["components"]["schemas"]
    assert "in" in schemas["NewTask"]["properties"] and "created_by" not in schemas["NewTask"]["properties"]
    assert schemas["NewTask"]["additionalProperties"] is False
    assert set(schemas["ErrorBody"]["properties"]) == {"error", "field"}
    refusal = {"$ref": "#/components/schemas/ErrorBody"}  # what 401 and 403 answer too, as the app sends it
    for code in ("401", "403", "422"):
        assert create["responses"][code]["content"]["application/json"]["schema"] == refusal, code


def test_a_failed_message_shows_its_status_runs_and_error_and_tells_the_session(api: Served, clock: Clock) -> None:
    sent = ok(api.http.post("/v1/messages", json={"text": "book a table", "session": "home"}), 201)
    assert ok(api.http.get(f"/v1/messages/{sent['id']}"))["status"] == "pending"
    [row] = claim(api.inbox)
    fail(api.inbox, row.id, "HTTP 429 rate limited")  # transient: retried later, nobody told yet
    waiting = ok(api.http.get(f"/v1/messages/{sent['id']}"))
    assert (waiting["status"], waiting["tries"], waiting["error"]) == ("pending", 1, "HTTP 429 rate limited")
    assert api.inbox.outbox() == []

    clock.advance(minutes=5)
    claim(api.inbox)
    end(api.inbox, row.id, Outcome.FAILED, error="invalid API key")
    shown = ok(api.http.get(f"/v1/messages/{sent['id'][:12]}"))  # a unique prefix will do
    assert (shown["id"], shown["kind"], shown["session"]) == (sent["id"], "chat", "home")
    assert (shown["status"], shown["error"], shown["text"]) == ("failed", "invalid API key", "book a table")
    assert shown["created_at"] == "2026-03-27T12:00:00+00:00" and shown["series_id"] is None
    assert [(r["attempt"], r["outcome"], r["error"]) for r in shown["runs"]] == [
        (2, "failed", "invalid API key"),
        (1, "failed", "HTTP 429 rate limited"),
    ]
    detail = api.inbox.message(sent["id"])  # the Python API: a typed view
    assert isinstance(detail, MessageDetail) and detail.runs[0].error == "invalid API key"

    [notice] = ok(api.http.get("/v1/outbox", params={"session": "home"}))
    assert (notice["kind"], notice["in_reply_to"]) == ("system", sent["id"])
    assert sent["id"] in notice["text"] and "invalid API key" in notice["text"]


def test_a_recurring_task_says_when_it_starts_failing_not_at_every_failure(api: Served, clock: Clock) -> None:
    made = ok(api.http.post("/v1/tasks", json={"prompt": "Sync", "every": "1h", "name": "sync"}), 201)
    for error in ("disk full", "disk still full"):
        clock.advance(hours=1)
        [row] = claim(api.inbox)
        end(api.inbox, row.id, Outcome.FAILED, error=error)
    notices = ok(api.http.get("/v1/outbox"))
    assert [(n["kind"], n["series_id"], n["task_name"]) for n in notices] == [("system", made["series_id"], "sync")]
    assert '"sync"' in notices[0]["text"] and "disk full" in notices[0]["text"]
    clock.advance(hours=1)
    run_due(api.inbox)  # a success ends the streak: the next failure is told again
    clock.advance(hours=1)
    [row] = claim(api.inbox)
    end(api.inbox, row.id, Outcome.TIMEOUT, error="took longer than 10m")
    assert len(ok(api.http.get("/v1/outbox"))) == 2


def test_healthz_needs_no_token_and_no_page_loads_from_a_cdn(api: Served) -> None:
    assert ok(httpx.get(f"{api.url}/healthz", timeout=10)) == {"status": "ok"}
    assert httpx.get(f"{api.url}/openapi.json", timeout=10).status_code == 200
    for page in ("/docs", "/redoc"):
        assert httpx.get(f"{api.url}{page}", timeout=10).status_code == 404, page


def test_a_task_names_its_channel_and_the_outbox_shows_each_rows_delivery(api: Served, clock: Clock) -> None:
    api.inbox.add_channel("phone", command="true")
    refusal = refused(api.http.post("/v1/tasks", json={"prompt": "Hi", "in": "1h", "deliver": "pager"}), 422, "deliver")
    assert "no channel named 'pager'" in refusal["error"] and all_tasks(api) == []
    made = ok(api.http.post("/v1/tasks", json={"prompt": "Hi", "in": "1h", "remind": True, "deliver": "phone"}), 201)
    assert ok(api.http.get(f"/v1/tasks/{made['id']}"))["deliver"] == "phone"
    changed = ok(api.http.patch(f"/v1/tasks/{made['id']}", json={"deliver": "none"}))
    assert changed["deliver"] == "none"
    ok(api.http.patch(f"/v1/tasks/{made['id']}", json={"deliver": "phone"}))
    clock.advance(hours=1)
    sweep_once(api.inbox.engine, now=clock())
    [item] = ok(api.http.get("/v1/outbox"))
    assert {key: item[key] for key in ("channel", "delivery", "attempts", "delivery_error", "delivered_at")} == {
        "channel": "phone",
        "delivery": "pending",
        "attempts": 0,
        "delivery_error": None,
        "delivered_at": None,
    }
    assert item["next_attempt_at"] == clock().isoformat()
