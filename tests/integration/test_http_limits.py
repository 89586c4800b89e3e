"""Limits per tag over HTTP, on every backend: ``GET /v1/limits`` with a read token, ``PUT`` and ``DELETE
/v1/limits/{tag}`` with an admin one, each change in the audit trail as ``token:NAME``; bad input is 422 naming
the field, and writes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Clock
from tests.integration.helpers import claim, stored_text
from tests.integration.test_public_api import JSON, Served, api, ok, refused

__all__ = ["api"]


def as_token(served: Served, token: str) -> httpx.Client:
    return httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def limit_records(served: Served) -> list[tuple[str, str, str, dict[str, Any]]]:
    entries = ok(served.http.get("/v1/audit"))
    return [
        (e["actor"], e["action"], e["subject"], e["changes"])
        for e in reversed(entries)
        if e["action"].startswith("limit.")
    ]


def test_limits_are_set_listed_replaced_and_removed_over_http_and_audited(api: Served) -> None:
    laptop = api.inbox.create_token("laptop").token
    api.inbox.schedule("sync", every="1h", tags=["net"])
    with as_token(api, laptop) as http:
        made = ok(http.put("/v1/limits/net", json={"max_running": 2}))
        assert (made["tag"], made["max_running"], made["rate"], made["running"]) == ("net", 2, None, 0)
        assert made["created_by"] == "token:laptop"
        ok(http.put("/v1/limits/net", json={"max_running": 2}))  # the same again changes nothing
        ok(http.put("/v1/limits/mail", json={"rate": "10/1h"}))
        replaced = ok(http.put("/v1/limits/net", json={"max_running": 3, "rate": "30/1m"}))
        assert (replaced["max_running"], replaced["rate"]) == (3, "30/1m")
        listed = ok(http.get("/v1/limits"))
        assert [(x["tag"], x["max_running"], x["rate"]) for x in listed] == [
            ("mail", None, "10/1h"),
            ("net", 3, "30/1m"),
        ]
        gone = ok(http.delete("/v1/limits/mail"))
        assert gone["tag"] == "mail"
        refused(http.delete("/v1/limits/mail"), 404, "tag")
    assert [x["tag"] for x in ok(api.http.get("/v1/limits"))] == ["net"]
    assert [tag for tag in (limit.tag for limit in api.inbox.limits())] == ["net"]
    assert limit_records(api) == [
        ("token:laptop", "limit.set", "net", {"max_running": {"before": None, "after": 2}}),
        ("token:laptop", "limit.set", "mail", {"rate": {"before": None, "after": "10/1h"}}),
        (
            "token:laptop",
            "limit.set",
            "net",
            {"max_running": {"before": 2, "after": 3}, "rate": {"before": None, "after": "30/1m"}},
        ),
        ("token:laptop", "limit.remove", "mail", {"rate": {"before": "10/1h", "after": None}}),
    ]


def test_the_listing_counts_what_runs_now(api: Served, clock: Clock) -> None:
    api.inbox.schedule("sync", in_="1m", tags=["net"])
    ok(api.http.put("/v1/limits/net", json={"max_running": 1}))
    clock.advance(minutes=2)
    assert len(claim(api.inbox)) == 1
    assert [(x["tag"], x["running"]) for x in ok(api.http.get("/v1/limits"))] == [("net", 1)]


def test_bad_limits_are_422_naming_the_field_and_write_nothing(api: Served) -> None:
    ok(api.http.put("/v1/limits/net", json={"max_running": 2}))
    before = stored_text(api.inbox.engine)
    for tag, body, field in (
        ("net", {"max_running": 0}, "max_running"),
        ("net", {"max_running": "3"}, "max_running"),  # a string is not a number
        ("net", {"max_running": 2_000_000}, "max_running"),
        ("net", {"rate": "often"}, "rate"),
        ("net", {"rate": "0/1m"}, "rate"),
        ("net", {"rate": "5/soon"}, "rate"),
        ("net", {}, "max_running"),  # a limit needs a bound
        ("net", {"max_running": 1, "actor": "me"}, "actor"),
        ("Not A Tag", {"max_running": 1}, "tag"),
    ):
        refused(api.http.put(f"/v1/limits/{tag}", json=body, headers=JSON), 422, field)
    refused(api.http.put("/v1/limits/net", content=b'{"max_', headers=JSON), 422)
    assert stored_text(api.inbox.engine) == before
    assert [(x["tag"], x["max_running"]) for x in ok(api.http.get("/v1/limits"))] == [("net", 2)]


def test_a_read_token_lists_limits_but_cannot_change_them(api: Served) -> None:
    ok(api.http.put("/v1/limits/net", json={"max_running": 2}))
    reader = api.inbox.create_token("reader", scope="read").token
    with as_token(api, reader) as http:
        assert [x["tag"] for x in ok(http.get("/v1/limits"))] == ["net"]
        assert "admin" in refused(http.put("/v1/limits/net", json={"max_running": 5}), 403)["error"]
        refused(http.put("/v1/limits/disk", json={"max_running": 5}), 403)
        refused(http.delete("/v1/limits/net"), 403)
    assert [action for _, action, _, _ in limit_records(api)] == ["limit.set"]
    assert [(x["tag"], x["max_running"]) for x in ok(api.http.get("/v1/limits"))] == [("net", 2)]
