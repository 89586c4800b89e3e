"""A session's settings over HTTP, on every backend: ``GET /v1/sessions`` with a read token, ``PATCH
/v1/sessions/{session}`` with an admin one. The change is audited as ``token:NAME`` and holds the session's tasks
to its window from the next claim; bad input is 422 naming the field and writes nothing."""

from __future__ import annotations

import httpx

from tests.conftest import Clock
from tests.integration.helpers import claim, stored_text
from tests.integration.test_public_api import JSON, Served, api, ok, refused

__all__ = ["api"]


def as_token(served: Served, token: str) -> httpx.Client:
    return httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_a_sessions_window_set_over_http_holds_its_tasks_and_is_audited(api: Served, clock: Clock) -> None:
    laptop = api.inbox.create_token("laptop").token
    made = api.inbox.schedule("check the feeds", every="1h")  # the clock says 12:00 UTC
    with as_token(api, laptop) as http:
        changed = ok(http.patch("/v1/sessions/main", json={"active_hours": "20:00-08:00"}))
        assert (changed["session"], changed["active_hours"], changed["deliver"]) == ("main", "20:00-08:00", "none")
        assert changed["updated_by"] == "token:laptop"
        listed = ok(http.get("/v1/sessions"))
        assert [(x["session"], x["active_hours"]) for x in listed] == [("main", "20:00-08:00")]
    clock.advance(hours=1, minutes=1)
    assert claim(api.inbox) == []  # 13:00 is outside 20:00-08:00: nothing for a runner
    ended = api.inbox.runs(made.id)
    assert [run.outcome for run in ended] == ["skipped"]
    assert ended[0].error == "outside active hours (20:00-08:00 UTC, session main's)"
    records = [e for e in ok(api.http.get("/v1/audit")) if e["action"] == "session.set"]
    assert [(e["actor"], e["subject"]) for e in records] == [("token:laptop", "main")]
    assert records[0]["changes"]["active_hours"] == {"before": None, "after": "20:00-08:00"}

    ok(api.http.patch("/v1/sessions/main", json={"active_hours": ""}))  # "" removes the window
    assert ok(api.http.get("/v1/sessions"))[0]["active_hours"] is None
    clock.advance(hours=1)
    assert [row.series_id for row in claim(api.inbox)] == [made.series_id]


def test_bad_session_changes_are_422_naming_the_field_and_write_nothing(api: Served) -> None:
    ok(api.http.patch("/v1/sessions/main", json={"active_hours": "08:00-22:00"}))
    before = stored_text(api.inbox.engine)
    for session, body, field in (
        ("main", {"active_hours": "25:00-08:00"}, "active_hours"),
        ("main", {"active_hours": "08:00-08:00"}, "active_hours"),
        ("main", {"active_hours": 8}, "active_hours"),
        ("main", {"deliver": "no-such-channel"}, "deliver"),
        ("main", {}, "session"),  # nothing to set
        ("main", {"active_hours": "08:00-22:00", "updated_by": "me"}, "updated_by"),
        ("Not A Session!", {"active_hours": "08:00-22:00"}, "session"),
    ):
        refused(api.http.patch(f"/v1/sessions/{session}", json=body, headers=JSON), 422, field)
    assert stored_text(api.inbox.engine) == before


def test_a_read_token_lists_sessions_but_cannot_change_them(api: Served) -> None:
    ok(api.http.patch("/v1/sessions/main", json={"active_hours": "08:00-22:00"}))
    reader = api.inbox.create_token("reader", scope="read").token
    with as_token(api, reader) as http:
        assert [x["session"] for x in ok(http.get("/v1/sessions"))] == ["main"]
        assert "admin" in refused(http.patch("/v1/sessions/main", json={"active_hours": ""}), 403)["error"]
    assert ok(api.http.get("/v1/sessions"))[0]["active_hours"] == "08:00-22:00"
