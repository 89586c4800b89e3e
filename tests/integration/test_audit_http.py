"""The audit trail over HTTP, on every backend: a change made with token NAME is recorded as ``token:NAME`` (through
``/mcp`` as ``mcp``), whatever the body says; ``GET /v1/audit`` pages by keyset with a ``Link`` header."""

from __future__ import annotations

import re

import httpx

from tests.integration.test_mcp_http import host, result, tool_call
from tests.integration.test_public_api import Served, api, ok, refused

__all__ = ["api", "host"]  # the fixtures


def as_token(served: Served, token: str) -> httpx.Client:
    return httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def actions(served: Served, subject: str) -> list[tuple[str, str]]:
    entries = ok(served.http.get("/v1/audit", params={"subject": subject}))
    return [(e["actor"], e["action"]) for e in reversed(entries)]


def test_each_change_made_with_a_token_is_recorded_as_that_token(api: Served) -> None:
    laptop = api.inbox.create_token("laptop")
    with as_token(api, laptop.token) as http:
        sid = ok(http.post("/v1/tasks", json={"prompt": "water the plants", "every": "1d", "name": "plants"}), 201)[
            "series_id"
        ]
        ok(http.patch(f"/v1/tasks/{sid}", json={"prompt": "water the plants well"}))
        ok(http.post(f"/v1/tasks/{sid}:pause"))
        ok(http.post(f"/v1/tasks/{sid}:resume"))
        ok(http.post(f"/v1/tasks/{sid}:run"), 201)
        ok(http.delete(f"/v1/tasks/{sid}"))

    assert actions(api, "plants") == [
        ("token:laptop", action)
        for action in ("task.create", "task.update", "task.pause", "task.resume", "task.run", "task.cancel")
    ]
    [update] = [e for e in ok(api.http.get("/v1/audit", params={"subject": sid})) if e["action"] == "task.update"]
    assert update["changes"] == {"prompt": {"before": "water the plants", "after": "water the plants well"}}
    assert re.fullmatch(r"[0-9A-Z]{26}", update["id"]) and update["at"].endswith("+00:00")
    assert update["subject"] == sid and update["session"] == "main"


def test_a_caller_cannot_choose_the_actor_and_a_refused_change_writes_no_record(api: Served) -> None:
    sid = ok(api.http.post("/v1/tasks", json={"prompt": "x", "every": "1h"}), 201)["series_id"]
    reader = api.inbox.create_token("phone", scope="read")
    before = ok(api.http.get("/v1/audit"))

    forged = [
        api.http.post("/v1/tasks", json={"prompt": "y", "every": "1h", "created_by": "cli"}),
        api.http.post("/v1/tasks", json={"prompt": "y", "every": "1h", "actor": "cli"}),
        api.http.patch(f"/v1/tasks/{sid}", json={"prompt": "z", "actor": "agent:main"}),
        api.http.patch(f"/v1/tasks/{sid}", json={"created_by": "mcp"}),
    ]
    for answer in forged:
        assert answer.status_code == 422, answer.text
    refused(api.http.post("/v1/tasks", json={"prompt": "y", "cron": "99 * * * *"}), 422, "cron")
    refused(api.http.patch(f"/v1/tasks/{sid}", json={"cron": "not cron"}), 422, "cron")
    with as_token(api, reader.token) as http:
        assert http.post(f"/v1/tasks/{sid}:pause").status_code == 403
        assert http.delete(f"/v1/tasks/{sid}").status_code == 403

    assert ok(api.http.get("/v1/audit")) == before
    assert {e["actor"] for e in before} == {"token:INBOX_API_TOKEN", "api"}  # the task's; the token made in-process


def test_the_trail_is_read_page_by_page_following_the_link_header(api: Served) -> None:
    sid = ok(api.http.post("/v1/tasks", json={"prompt": "x", "every": "1h"}), 201)["series_id"]
    for _ in range(3):
        ok(api.http.post(f"/v1/tasks/{sid}:pause"))
        ok(api.http.post(f"/v1/tasks/{sid}:resume"))
    reader = api.inbox.create_token("phone", scope="read")  # the 8th record: a read token may read them all

    seen: list[str] = []
    with as_token(api, reader.token) as http:
        url: str | None = "/v1/audit?limit=3"
        while url is not None:
            answer = http.get(url)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            assert 1 <= len(page) <= 3
            seen += [e["id"] for e in page]
            link = answer.headers.get("link")
            url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None  # type: ignore[union-attr]
        one = ok(http.get("/v1/audit", params={"subject": sid, "limit": 1}))
    assert len(seen) == 8 and seen == sorted(seen, reverse=True)
    assert [e["id"] for e in one] == [seen[1]]  # the token's record is newest; then the task's last resume

    refused(api.http.get("/v1/audit", params={"limit": 1001}), 422, "limit")
    refused(api.http.get("/v1/audit", params={"limit": 0}), 422, "limit")
    refused(api.http.get("/v1/audit", params={"cursor": "x' OR 1=1"}), 422, "cursor")
    assert ok(api.http.get("/v1/audit", params={"subject": "no such thing"})) == []


def test_a_change_made_through_mcp_is_recorded_as_mcp_whichever_token_opened_it(host: tuple[object, str]) -> None:
    state, url = host
    inbox = state.inbox  # type: ignore[attr-defined]
    made = inbox.create_token("assistant")
    task = result(tool_call(url, made.token, "schedule_task", {"prompt": "from mcp", "every": "1h"}))
    result(tool_call(url, made.token, "pause_task", {"task_id": task["id"]}))

    entries = inbox.audit(task["series_id"])
    assert [(e.actor, e.action) for e in reversed(entries)] == [("mcp", "task.create"), ("mcp", "task.pause")]
