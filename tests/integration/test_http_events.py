"""``POST /v1/events`` over a real socket, on every store backend."""

from __future__ import annotations

import pytest

from tests.integration.helpers import stored_text
from tests.integration.test_public_api import JSON, Served, api, ok, refused

__all__ = ["api"]  # the fixture, shared with the other HTTP tests


def test_an_event_answers_202_with_what_it_started(api: Served) -> None:
    task = ok(api.http.post("/v1/tasks", json={"prompt": "sort", "on": ["mail.*"]}), 201)
    assert task["next_runs"] == [] and task["schedule"] == "on mail.*"
    listed = ok(api.http.get("/v1/tasks"))
    assert [(t["series_id"], t["next_run"], t["on"]) for t in listed] == [(task["series_id"], None, ["mail.*"])]

    body = {"name": "mail.received", "data": {"from": "ann"}, "key": "m-1"}
    first = ok(api.http.post("/v1/events", json=body), 202)
    assert set(first) >= {"id", "name", "matched", "coalesced"}
    assert (first["name"], first["matched"], first["duplicate"]) == ("mail.received", [task["series_id"]], False)
    again = ok(api.http.post("/v1/events", json=body), 202)
    assert (again["id"], again["duplicate"]) == (first["id"], True)
    other = ok(api.http.post("/v1/events", json={"name": "mail.received", "session": "elsewhere"}), 202)
    assert other["matched"] == [] and other["session"] == "elsewhere"
    [run] = [m for m in api.inbox.events(task["id"]) if m.event_id == first["id"]]
    assert run.state == "started" and run.created_by == "token:INBOX_API_TOKEN"


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"name": "a..b"}', "name"),
        (b'{"name": 7}', "name"),
        (b"{}", "name"),
        (b'{"name": "a.b", "data": NaN}', "data"),
        (b'{"name": "a.b", "session": "x y"}', "session"),
        (b'{"name": "a.b", "key": ""}', "key"),
        (b'{"name": "a.b", "created_by": "me"}', "created_by"),
        (b'{"name": "a.b", "data": "\\u0000"}', "data"),
        (b'{"name": "a', "body"),
    ],
)
def test_bad_events_are_refused_with_422_naming_the_field_and_write_nothing(
    api: Served, content: bytes, field: str
) -> None:
    ok(api.http.post("/v1/tasks", json={"prompt": "sort", "on": ["**"]}), 201)
    before = stored_text(api.inbox.engine)
    refused(api.http.post("/v1/events", content=content, headers=JSON), 422, field)
    assert stored_text(api.inbox.engine) == before
