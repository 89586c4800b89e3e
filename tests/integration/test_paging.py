"""Listings page like ``gh``: the Python API's pages and cursors, and the ``/v1`` list routes' ``limit``, ``cursor``
and ``Link: <…>; rel="next"`` over a real socket, on every store backend."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from inbox import Inbox
from inbox.enums import OutboxKind, Outcome
from inbox.errors import InvalidInput
from inbox.ids import new_id
from inbox.paging import encode_cursor
from inbox.store.models import MessageOut, Run
from sweeper.http.app import HostState, make_app
from tests.conftest import Clock
from tests.integration.unix_server import serving_on_loopback

TOKEN = "paging-token"


def schedule(inbox: Inbox, count: int, *, session: str = "main") -> list[str]:
    """``count`` hourly-or-slower tasks, each due at its own minute: their listing order is the order made."""
    return [inbox.schedule(f"task {i}", every=f"{60 + i}m", session=session).series_id for i in range(count)]


def add_runs(inbox: Inbox, series_id: str, count: int) -> list[str]:
    """``count`` runs of one series, a minute apart, ids in the order started; some share a start time."""
    now = inbox.clock()
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "message_id": series_id,
            "series_id": series_id,
            "session": "main",
            "attempt": 1,
            "started_at": now + timedelta(minutes=i // 3),  # three runs per minute: ties are broken by id
            "ended_at": now + timedelta(minutes=i // 3, seconds=30),
            "outcome": (Outcome.FAILED if i % 10 == 0 else Outcome.COMPLETED).value,
            "runner": "test",
        }
        for i in range(count)
    ]
    with inbox.engine.begin() as conn:
        conn.execute(insert(Run.__table__), rows)  # type: ignore[attr-defined]
    return [row["id"] for row in rows]


def add_outbox(inbox: Inbox, count: int, *, session: str = "main") -> list[str]:
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "session": session,
            "kind": OutboxKind.REPLY.value,
            "text": f"reply {i}",
            "created_at": inbox.clock(),
        }
        for i in range(count)
    ]
    with inbox.engine.begin() as conn:
        for start in range(0, count, 5_000):
            conn.execute(insert(MessageOut.__table__), rows[start : start + 5_000])  # type: ignore[attr-defined]
    return [row["id"] for row in rows]


# -- the Python API -------------------------------------------------------------------------------------------
def test_tasks_page_through_live_then_ended_series_each_once(inbox: Inbox, clock: Clock) -> None:
    made = schedule(inbox, 23)
    for ended in made[:3]:
        inbox.cancel(ended)
    inbox.pause(made[3])
    seen: list[str] = []
    counts = []
    cursor = None
    while True:
        page = inbox.tasks_page(status="all", limit=5, cursor=cursor, count=True)
        seen += [t.series_id for t in page.rows]
        counts.append(str(page.more))
        cursor = page.next_cursor
        if cursor is None:
            break
    # the live ones soonest next run first (the paused one among them), then the ended ones newest first
    assert seen == made[3:] + made[:3][::-1]
    assert counts == ["18", "13", "8", "3", "0"]
    assert [t.series_id for t in inbox.tasks(status="ended")] == made[:3][::-1]
    assert [t.series_id for t in inbox.tasks_page(status="paused").rows] == [made[3]]


def test_the_lists_keep_their_defaults_and_read_past_a_page(inbox: Inbox) -> None:
    made = schedule(inbox, 3)
    add_runs(inbox, made[0], 1_205)
    add_outbox(inbox, 1_100)
    assert len(inbox.tasks()) == 3  # every task, as before
    assert len(inbox.runs(made[0])) == 20
    assert len(inbox.runs(made[0], limit=None)) == 1_205  # more than a page: read a page at a time
    assert len(inbox.runs(made[0], limit=1_001)) == 1_001
    assert len(inbox.outbox()) == 50
    assert len(inbox.outbox(limit=None)) == 1_100
    page = inbox.runs_page(made[0], count=True)
    assert len(page.rows) == 100 and str(page.more) == "1,000+"  # 1,105: past the cap


def test_runs_page_latest_started_first_each_once(inbox: Inbox) -> None:
    [series] = schedule(inbox, 1)
    ids = add_runs(inbox, series, 47)
    seen: list[str] = []
    cursor = None
    while True:
        page = inbox.runs_page(series, limit=4, cursor=cursor)
        seen += [r.id for r in page.rows]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == ids[::-1]
    failed = [r.id for r in inbox.runs(series, status="failed", limit=None)]
    assert failed == [ids[i] for i in range(0, 47, 10)][::-1]


def test_the_outbox_pages_back_from_the_newest_or_on_from_an_id(inbox: Inbox) -> None:
    ids = add_outbox(inbox, 25)
    add_outbox(inbox, 5, session="other")
    first = inbox.outbox_page(session="main", limit=10, count=True)
    assert [i.id for i in first.rows] == ids[15:]  # the newest ten, oldest first
    assert str(first.more) == "15"
    second = inbox.outbox_page(session="main", limit=10, cursor=first.next_cursor, count=True)
    assert [i.id for i in second.rows] == ids[5:15] and str(second.more) == "5"
    forward = inbox.outbox_page(session="main", limit=10, after=ids[2], count=True)
    assert [i.id for i in forward.rows] == ids[3:13] and str(forward.more) == "12"
    on = inbox.outbox_page(session="main", limit=100, cursor=forward.next_cursor)
    assert [i.id for i in on.rows] == ids[13:] and on.next_cursor is None


def test_how_many_more_stops_counting_at_a_thousand(inbox: Inbox) -> None:
    add_outbox(inbox, 1_102)
    page = inbox.outbox_page(limit=100, count=True)
    assert str(page.more) == "1,000+" and not page.more.exact  # type: ignore[union-attr]
    page = inbox.outbox_page(limit=102, count=True)
    assert str(page.more) == "1,000" and page.more.exact  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "cursor",
    [
        "nonsense",
        "",
        encode_cursor("outbox", ("older", "01")),  # another listing's
        encode_cursor("tasks:all", ("live", "2026-06-01T12:00:00+00:00", "X")),  # another status's
        encode_cursor("tasks:active", ("sideways", "x", "y")),  # a part that is no part of the listing
        encode_cursor("tasks:active", ("live", "yesterday", "X")),
        encode_cursor("tasks:active", ("live", "2026-06-01T12:00:00", "X")),  # an instant without its offset
    ],
)
def test_a_cursor_not_made_for_the_listing_is_refused(inbox: Inbox, cursor: str) -> None:
    schedule(inbox, 2)
    with pytest.raises(InvalidInput) as refused:
        inbox.tasks_page(cursor=cursor)
    assert refused.value.field == "cursor"


def test_an_edited_cursor_is_refused(inbox: Inbox) -> None:
    schedule(inbox, 3)
    cursor = inbox.tasks_page(limit=1).next_cursor
    assert cursor is not None
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 1  # one bit of the id: still a well-formed key, another position
    edited = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (edited, cursor[:-2], cursor + "A"):
        with pytest.raises(InvalidInput, match=r"^cursor: "):
            inbox.tasks_page(cursor=bad)


# -- HTTP -------------------------------------------------------------------------------------------------------
@pytest.fixture
def http(inbox: Inbox) -> Iterator[httpx.Client]:
    app = make_app(HostState(inbox=inbox.acting_as("api"), admin_token=TOKEN), runner_routes=False)
    with serving_on_loopback(app) as url, httpx.Client(base_url=url, headers={"authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def follow(http: httpx.Client, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Every row of a listing, following ``Link: <…>; rel="next"`` from the first page; and how many pages."""
    rows: list[dict[str, Any]] = []
    response = http.get(path, params=params)
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        assert isinstance(response.json(), list)
        rows += response.json()
        pages += 1
        if "next" not in response.links:
            assert "link" not in response.headers
            return rows, pages
        response = http.get(response.links["next"]["url"])


def test_following_the_link_header_reads_every_row_once(inbox: Inbox, http: httpx.Client) -> None:
    made = schedule(inbox, 12)
    inbox.cancel(made[0])
    ids = add_runs(inbox, made[1], 23)
    items = add_outbox(inbox, 31, session="home")
    add_outbox(inbox, 3, session="elsewhere")

    tasks, pages = follow(http, "/v1/tasks", {"status": "all", "limit": 5})
    assert [t["series_id"] for t in tasks] == made[1:] + made[:1] and pages == 3
    runs, pages = follow(http, f"/v1/tasks/{made[1]}/runs", {"limit": 10})
    assert [r["id"] for r in runs] == ids[::-1] and pages == 3
    older, pages = follow(http, "/v1/outbox", {"session": "home", "limit": 10})
    assert sorted(i["id"] for i in older) == items and len(older) == 31 and pages == 4
    newer, pages = follow(http, "/v1/outbox", {"session": "home", "limit": 10, "after": ""})
    assert [i["id"] for i in newer] == items and pages == 4


def test_pages_hold_a_hundred_rows_unless_asked(inbox: Inbox, http: httpx.Client) -> None:
    [series] = schedule(inbox, 1)
    add_runs(inbox, series, 1_001)
    first = http.get(f"/v1/tasks/{series}/runs")
    assert len(first.json()) == 100 and 'rel="next"' in first.headers["link"]
    most = http.get(f"/v1/tasks/{series}/runs", params={"limit": 1_000})
    assert len(most.json()) == 1_000
    last = http.get(most.links["next"]["url"])
    assert len(last.json()) == 1 and "link" not in last.headers


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/tasks", {"limit": 0}, "limit"),
        ("/v1/tasks", {"limit": 1_001}, "limit"),
        ("/v1/tasks", {"limit": "ten"}, "limit"),
        ("/v1/outbox", {"limit": -1}, "limit"),
        ("/v1/outbox", {"limit": 10**30}, "limit"),
        ("/v1/tasks/{task}/runs", {"limit": 1_001}, "limit"),
        ("/v1/tasks", {"cursor": "not-a-cursor"}, "cursor"),
        ("/v1/tasks", {"status": "all", "cursor": encode_cursor("tasks:active", ("live", "x", "y"))}, "cursor"),
        ("/v1/outbox", {"cursor": encode_cursor("runs", ("2026-06-01T12:00:00+00:00", "X"))}, "cursor"),
        ("/v1/tasks/{task}/runs", {"cursor": "%00"}, "cursor"),
    ],
)
def test_a_page_out_of_range_or_a_bad_cursor_is_refused(
    inbox: Inbox, http: httpx.Client, path: str, params: dict[str, Any], field: str
) -> None:
    [series] = schedule(inbox, 1)
    response = http.get(path.format(task=series), params=params)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and response.json()["error"].startswith(f"{field}: ")


def test_an_edited_cursor_in_the_link_is_refused(inbox: Inbox, http: httpx.Client, tmp_path: Path) -> None:
    schedule(inbox, 3)
    url = httpx.URL(http.get("/v1/tasks", params={"limit": 1}).links["next"]["url"])
    cursor = url.params["cursor"]
    edited = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    response = http.get(url.copy_set_param("cursor", edited))
    assert response.status_code == 422 and response.json()["field"] == "cursor"
