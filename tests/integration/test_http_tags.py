"""Tags and priorities through the public HTTP API: the ``tags`` and ``priority`` fields, ``GET /v1/tasks?tag=``."""

from __future__ import annotations

from tests.integration.test_public_api import JSON, Served, api, ok, refused

__all__ = ["api"]


def test_tags_are_given_filtered_by_and_changed_over_http(api: Served) -> None:
    made = ok(api.http.post("/v1/tasks", json={"prompt": "sync", "every": "1h", "tags": ["net"]}), 201)
    ok(api.http.post("/v1/tasks", json={"prompt": "other", "every": "1h", "priority": 4}), 201)
    listed = ok(api.http.get("/v1/tasks", params={"tag": "net"}))
    assert [(t["series_id"], t["tags"], t["priority"]) for t in listed] == [(made["series_id"], ["net"], 0)]
    changed = ok(api.http.patch(f"/v1/tasks/{made['series_id']}", json={"tags": [], "priority": -2}))
    assert (changed["tags"], changed["priority"]) == ([], -2)
    assert ok(api.http.get("/v1/tasks", params={"tag": "net"})) == []


def test_bad_tags_or_priority_are_422_naming_the_field(api: Served) -> None:
    for body, field in (
        ({"prompt": "x", "every": "1h", "tags": ["NO WAY"]}, "tags"),
        ({"prompt": "x", "every": "1h", "tags": "net"}, "tags"),
        ({"prompt": "x", "every": "1h", "priority": 42}, "priority"),
        ({"prompt": "x", "every": "1h", "priority": "1"}, "priority"),
    ):
        refused(api.http.post("/v1/tasks", json=body, headers=JSON), 422, field)
    refused(api.http.get("/v1/tasks", params={"tag": "Bad Tag"}), 422, "tag")
    assert ok(api.http.get("/v1/tasks", params={"status": "all"})) == []
