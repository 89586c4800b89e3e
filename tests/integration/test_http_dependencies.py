"""``after`` and ``when`` over the public HTTP API, and ``GET /v1/graph``: 422 naming the field, nothing written."""

from __future__ import annotations

from tests.integration import test_public_api as public_api
from tests.integration.test_public_api import Served, all_tasks, ok, refused

api = public_api.api  # the public API's fixture, shared


def test_a_task_after_others_is_made_changed_and_drawn_over_http(api: Served) -> None:
    fetch = ok(api.http.post("/v1/tasks", json={"prompt": "fetch", "every": "1h", "name": "fetch"}), 201)
    digest = ok(api.http.post("/v1/tasks", json={"prompt": "digest", "after": ["fetch"], "when": "all_done"}), 201)
    assert digest["next_runs"] == [] and digest["schedule"] == f"after {fetch['series_id']} (all_done)"
    shown = ok(api.http.get(f"/v1/tasks/{digest['series_id']}"))
    assert (shown["after"], shown["when"], shown["next_run"]) == ([fetch["series_id"]], "all_done", None)

    graph = ok(api.http.get("/v1/graph", params={"task": "fetch"}))
    assert [n["series_id"] for n in graph["nodes"]] == [fetch["series_id"], digest["series_id"]]
    assert graph["edges"] == [{"upstream": fetch["series_id"], "downstream": digest["series_id"], "when": "all_done"}]

    cycle = refused(api.http.patch(f"/v1/tasks/{fetch['series_id']}", json={"after": [digest["id"]]}), 422, "after")
    assert cycle["error"] == f"after: would close a cycle: fetch → {digest['series_id']} → fetch"
    assert ok(api.http.get("/v1/graph")) == graph
    changed = ok(api.http.patch(f"/v1/tasks/{digest['series_id']}", json={"when": "any_success"}))
    assert changed["when"] == "any_success"
    refused(api.http.get("/v1/graph", params={"task": "nothing"}), 404)


def test_bad_after_or_when_is_422_naming_the_field_and_writes_nothing(api: Served) -> None:
    ok(api.http.post("/v1/tasks", json={"prompt": "up", "every": "1h", "name": "up"}), 201)
    before = all_tasks(api)
    for body, field in [
        ({"prompt": "x", "after": "up"}, "after"),  # a list of ids, not one
        ({"prompt": "x", "after": []}, "after"),
        ({"prompt": "x", "after": ["missing"]}, "after"),
        ({"prompt": "x", "after": ["up"], "when": "maybe"}, "when"),
        ({"prompt": "x", "every": "1h", "when": "all_done"}, "when"),
        ({"prompt": "x", "after": ["up"], "in": "1h"}, "after"),
    ]:
        refused(api.http.post("/v1/tasks", json=body), 422, field)
    assert all_tasks(api) == before
    assert ok(api.http.get("/v1/graph")) == {"nodes": [], "edges": []}
