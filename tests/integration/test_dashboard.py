"""The web dashboard over real HTTP without a browser: signing in, the session cookie, CSRF, scopes, every page.

The host's app is served on loopback in a thread, on every store backend; a client keeps cookies as a browser
does. (tests/acceptance/test_dashboard_browser.py drives the same pages in chromium.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import update

from inbox import Inbox
from inbox.enums import Outcome
from inbox.store import web_sessions
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.tokens import hash_token
from inbox.store.types import utcnow
from inbox.web.common import PAGE
from inbox.web.nav import NAV
from sweeper.http.app import HostState, make_app
from sweeper.sweep import sweep_once
from tests.integration.helpers import claim, end, stored_text
from tests.integration.unix_server import serving_on_loopback

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # before FastAPI 0.165 included routers were copied into app.routes, already flat

    def iter_route_contexts(routes: Any) -> Any:  # type: ignore[misc]
        return iter(routes)


CONFIGURED = "the-configured-admin-token-0123"


class Host:
    def __init__(self, inbox: Inbox, url: str, app: object) -> None:
        self.inbox, self.url, self.app = inbox, url, app
        self.clients: list[httpx.Client] = []

    def browser(self) -> httpx.Client:
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)
        self.clients.append(client)
        return client

    def signed_in(self, token: str) -> tuple[httpx.Client, str]:
        """A client signed in with ``token``, and the CSRF token its pages carry."""
        client = self.browser()
        answer = client.post("/signin", data={"token": token, "next": "/tasks"})
        assert answer.status_code == 303, answer.text
        return client, csrf_of(client.get("/tasks"))


def csrf_of(answer: httpx.Response) -> str:
    found = re.search(r'name="csrf-token" content="([0-9a-f]+)"', answer.text)
    assert found, answer.text[:500]
    return found.group(1)


@pytest.fixture
def host(store_url: str, tmp_path: Path) -> Iterator[Host]:
    inbox = Inbox(store_url, env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}, actor="api")
    app = make_app(HostState(inbox=inbox, admin_token=CONFIGURED), runner_routes=False)
    try:
        with serving_on_loopback(app) as url:
            served = Host(inbox, url, app)
            yield served
            for client in served.clients:
                client.close()
    finally:
        inbox.close()


def test_signing_in_sets_a_strict_httponly_cookie_and_stores_only_digests(host: Host) -> None:
    client = host.browser()
    first = client.get("/tasks")
    assert first.status_code == 303 and first.headers["location"] == "/signin?next=%2Ftasks"

    refused = client.post("/signin", data={"token": "not-a-token", "next": "/tasks"})
    assert refused.status_code == 401 and "not an active API token" in refused.text
    assert "set-cookie" not in refused.headers

    signed = client.post("/signin", data={"token": CONFIGURED, "next": "/timeline"})
    assert signed.status_code == 303 and signed.headers["location"] == "/timeline"
    cookie = signed.headers["set-cookie"]
    assert re.search(r"(?i)httponly", cookie) and re.search(r"(?i)samesite=strict", cookie)
    assert "secure" not in cookie.lower()  # plain HTTP on loopback; over HTTPS the cookie is Secure
    session_id = client.cookies["inbox_session"]
    stored = stored_text(host.inbox.engine)
    assert session_id not in stored and hash_token(session_id) in stored
    assert CONFIGURED not in stored

    page = client.get("/timeline")
    assert page.status_code == 200 and "INBOX_API_TOKEN" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-frame-options"] == "DENY"


def test_sign_in_goes_back_only_to_a_page_of_this_host(host: Host) -> None:
    for elsewhere in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)", "/\\evil.example"):
        answer = host.browser().post("/signin", data={"token": CONFIGURED, "next": elsewhere})
        assert answer.headers["location"] == "/tasks", elsewhere


def test_every_page_answers_a_signed_in_viewer(host: Host) -> None:
    task = host.inbox.schedule("water the plants", every="1h", name="plants")
    message = host.inbox.send("hello")
    [row] = claim(host.inbox)
    end(host.inbox, row.id, Outcome.FAILED, error="HTTP 401 invalid API key")
    client, _ = host.signed_in(CONFIGURED)
    [run] = host.inbox.runs(message.id)
    paths = [entry.path for entry in NAV] + [
        "/",
        "/tasks?status=paused",
        "/tasks?status=ended",
        f"/timeline?task={task.series_id}",
        "/timeline?outcome=failed&session=main",
        f"/messages/{message.id}",
        "/messages?status=failed",
        "/stats?since=30d",
        "/chat?session=main",
    ]
    for path in paths:
        answer = client.get(path, follow_redirects=True)
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
    detail = client.get(f"/runs/{run.id}", follow_redirects=True)
    assert "HTTP 401 invalid API key" in detail.text and f'id="run-{run.id}"' in detail.text


def test_bad_filters_are_refused_on_the_page_naming_the_field(host: Host) -> None:
    client, _ = host.signed_in(CONFIGURED)
    for path, field in [
        ("/timeline?outcome=exploded", "outcome"),
        ("/messages?status=lost", "status"),
        ("/tasks?after=yesterday", "after"),
        ("/chat?session=two%20words", "session"),
        ("/messages/NOSUCHMESSAGE", "NOSUCHMESSAGE"),
    ]:
        answer = client.get(path)
        assert answer.status_code in (404, 422), path
        assert field in answer.text and "Traceback" not in answer.text, path


def test_text_from_the_store_is_escaped(host: Host) -> None:
    host.inbox.schedule("<img src=x onerror=alert(1)>", every="1h", name="<script>alert(1)</script>")
    client, _ = host.signed_in(CONFIGURED)
    page = client.get("/tasks").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_actions_need_the_csrf_token_this_site_and_the_admin_scope(host: Host) -> None:
    task = host.inbox.schedule("water the plants", every="1h", name="plants")
    reader = host.inbox.create_token("phone", scope="read").token
    sender = host.inbox.create_token("tablet", scope="send").token
    admin, admin_csrf = host.signed_in(CONFIGURED)
    read_client, read_csrf = host.signed_in(reader)
    send_client, send_csrf = host.signed_in(sender)
    pause = f"/tasks/{task.series_id}/pause"
    before = stored_text(host.inbox.engine)

    refusals = {
        "no csrf": admin.post(pause, data={"back": "/tasks"}),
        "wrong csrf": admin.post(pause, data={"csrf": "0" * 64}),
        "another session's csrf": admin.post(pause, data={"csrf": read_csrf}),
        "another site": admin.post(pause, data={"csrf": admin_csrf}, headers={"origin": "https://evil.example"}),
        "read scope": read_client.post(pause, data={"csrf": read_csrf}),
        "send scope": send_client.post(pause, data={"csrf": send_csrf}),
        "read scope, chat": read_client.post("/chat", data={"csrf": read_csrf, "text": "hi", "session": "main"}),
        "read scope, htmx": read_client.post(pause, headers={"x-csrf-token": read_csrf, "hx-request": "true"}),
    }
    for what, answer in refusals.items():
        assert answer.status_code == 403, f"{what}: {answer.status_code}"
    assert "has the read scope; this needs admin" in refusals["read scope"].text
    htmx = refusals["read scope, htmx"]
    assert htmx.headers["hx-retarget"] == "#flash" and "needs admin" in htmx.text
    assert stored_text(host.inbox.engine) == before, "a refused action wrote to the store"

    assert 'disabled title="your token has the read scope' in read_client.get("/tasks").text
    sent = send_client.post("/chat", data={"csrf": send_csrf, "text": "from the tablet", "session": "main"})
    assert sent.status_code == 303
    [message] = [m for m in host.inbox.tasks(status="all")] or [None]
    assert message is not None  # the task is still there, untouched
    done = admin.post(pause, headers={"x-csrf-token": admin_csrf}, data={"back": "/tasks?status=paused"})
    assert done.status_code == 303 and done.headers["location"] == "/tasks?status=paused"
    paused = host.inbox.get(task.series_id)
    assert paused.status == "paused" and paused.reason == "paused by web:INBOX_API_TOKEN"


def test_the_task_buttons_do_what_they_say(host: Host) -> None:
    task = host.inbox.schedule("water the plants", every="1h", name="plants")
    client, csrf = host.signed_in(CONFIGURED)
    for action, status in [("pause", "paused"), ("resume", "active"), ("cancel", "cancelled")]:
        assert client.post(f"/tasks/{task.series_id}/{action}", data={"csrf": csrf}).status_code == 303
        assert host.inbox.get(task.series_id).status == status, action
    again = client.post(f"/tasks/{task.series_id}/resume", data={"csrf": csrf})
    assert again.status_code == 409 and "ended" in again.text
    other = host.inbox.schedule("standup", cron="0 9 * * 1-5")
    assert client.post(f"/tasks/{other.series_id}/run", data={"csrf": csrf}).status_code == 303
    assert len([m for m in host.inbox.runs(other.series_id)]) == 0  # queued, not run: no host sweeps here
    assert client.post(f"/tasks/{other.series_id}/explode", data={"csrf": csrf}).status_code == 404


def test_revoking_the_token_or_signing_out_ends_the_session(host: Host) -> None:
    laptop = host.inbox.create_token("laptop")
    phone = host.inbox.create_token("phone", scope="read")
    laptop_client, laptop_csrf = host.signed_in(laptop.token)
    phone_client, _ = host.signed_in(phone.token)

    host.inbox.revoke_token("phone")
    assert phone_client.get("/tasks").status_code == 303  # to the sign-in page
    expired = phone_client.get("/tasks", headers={"hx-request": "true"})
    assert expired.status_code == 401 and expired.headers["hx-redirect"].startswith("/signin")
    assert laptop_client.get("/tasks").status_code == 200

    old_cookie = laptop_client.cookies["inbox_session"]
    out = laptop_client.post("/signout", data={"csrf": laptop_csrf})
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    replayed = host.browser()
    replayed.cookies.set("inbox_session", old_cookie)
    assert replayed.get("/tasks").status_code == 303
    assert hash_token(old_cookie) not in stored_text(host.inbox.engine)


def test_an_expired_session_is_refused(host: Host) -> None:
    now = utcnow()
    with transaction(host.inbox.engine) as db:
        session_id = web_sessions.start(
            db, token_digest=hash_token(CONFIGURED), now=now - timedelta(days=8), expires_at=now - timedelta(days=1)
        )
    client = host.browser()
    client.cookies.set("inbox_session", session_id)
    assert client.get("/tasks").status_code == 303


def test_pages_are_cut_into_pages_by_cursor(host: Host) -> None:
    for index in range(PAGE + 5):
        host.inbox.schedule(f"task {index}", in_=f"{index + 1}m", name=f"t{index:03d}")
    client, _ = host.signed_in(CONFIGURED)
    first = client.get("/tasks").text
    names = re.findall(r'class="name"[^>]*>(t\d{3})<', first)
    following = re.search(r'rel="next" href="([^"]+)"', first)
    assert names == [f"t{i:03d}" for i in range(PAGE)] and following
    second = client.get(following.group(1).replace("&amp;", "&")).text
    assert re.findall(r'class="name"[^>]*>(t\d{3})<', second) == [f"t{i:03d}" for i in range(PAGE, PAGE + 5)]
    assert 'rel="next"' not in second


def test_every_dashboard_route_needs_a_session_and_refuses_without_one(host: Host) -> None:
    """Each route of the dashboard, found in the app (a page added later is covered too), without a session:
    a page sends the browser to sign in, an action is refused, and nothing is written."""
    task = host.inbox.schedule("water the plants", every="1h", name="plants")
    public = {"/signin", "/healthz", "/openapi.json", "/metrics"}
    routes = [
        route
        for route in iter_route_contexts(host.app.routes)  # type: ignore[attr-defined]
        if route.methods and not getattr(route, "include_in_schema", True) and route.path not in public
    ]
    assert {"/tasks", "/chat", "/tasks/{task_id}/{action}", "/signout"} <= {r.path for r in routes}
    before = stored_text(host.inbox.engine)
    client = host.browser()
    for route in routes:
        path = route.path.format(task_id=task.series_id, action="pause", message_id="X" * 26, run_id="X" * 26)
        for method in sorted(route.methods - {"HEAD"}):
            answer = client.request(method, path, data={"text": "sneaked in", "session": "main"})
            assert answer.status_code == 303 and answer.headers["location"].startswith("/signin"), (method, path)
    assert stored_text(host.inbox.engine) == before


def test_the_ended_tab_lists_series_with_nothing_left_to_run_and_search_finds_by_name_or_id(host: Host) -> None:
    active = host.inbox.schedule("still going", every="1h", name="going")
    cancelled = host.inbox.schedule("stopped", every="1h", name="stopped")
    host.inbox.cancel(cancelled.series_id)
    once = host.inbox.schedule("once", in_="1m", name="once")
    host.inbox.cancel(once.series_id)
    client, _ = host.signed_in(CONFIGURED)

    ended = client.get("/tasks?status=ended").text
    assert f'data-series="{cancelled.series_id}"' in ended and f'data-series="{once.series_id}"' in ended
    assert f'data-series="{active.series_id}"' not in ended

    for search in ("going", active.series_id, active.series_id[:8].lower()):
        found = client.get("/tasks", params={"q": search}).text
        assert f'data-series="{active.series_id}"' in found, search
        assert f'data-series="{cancelled.series_id}"' not in found, search
    assert f'data-series="{cancelled.series_id}"' in client.get("/tasks?status=ended&q=stopped").text
    assert "No active tasks" in client.get("/tasks", params={"q": "goi"}).text  # a name is matched whole


def test_a_task_only_events_start_shows_its_patterns_and_no_time(host: Host) -> None:
    listening = host.inbox.schedule("sort the mail", on=["mail.*"], name="mail")
    host.inbox.schedule("digest", every="1h", on=["github.**"], name="digest")
    client, _ = host.signed_in(CONFIGURED)
    tasks = client.get("/tasks").text
    assert "On mail.*" in tasks and "Every 1 hour, or on github.**" in tasks
    assert "on a matching event" in tasks and "9999" not in tasks
    assert "9999" not in client.get("/timeline").text
    assert "9999" not in client.get(f"/timeline?task={listening.series_id}").text


def test_the_outbox_page_shows_each_items_delivery(host: Host) -> None:
    host.inbox.add_channel("phone", command="true")
    host.inbox.schedule("to the phone", in_="1s", remind=True, deliver="phone")
    host.inbox.schedule("kept here", in_="1s", remind=True)
    with transaction(host.inbox.engine) as db:  # both due now
        db.exec(update(MessageIn).values(process_after=utcnow() - timedelta(seconds=1)))
    sweep_once(host.inbox.engine, now=utcnow())
    client, _ = host.signed_in(CONFIGURED)
    page = client.get("/outbox").text
    phone, kept = (page.split(f'data-item="{item.id}"')[1].split("</tr>")[0] for item in _by_text(host))
    assert "pending</span> to phone" in phone and "outbox only" in kept


def _by_text(host: Host) -> list[Any]:
    items = {item.text: item for item in host.inbox.outbox()}
    return [items["to the phone"], items["kept here"]]


def test_stats_say_how_late_runs_started_and_a_run_longer_than_every_bucket(host: Host) -> None:
    host.inbox.send("a long job")
    [row] = claim(host.inbox)
    end(host.inbox, row.id, Outcome.COMPLETED, started_at=utcnow() - timedelta(hours=2))  # longer than 30 min
    late = host.inbox.send("late")
    with transaction(host.inbox.engine) as db:  # its time came 3 s ago: the host was away
        db.exec(update(MessageIn).where(MessageIn.id == late.id).values(process_after=utcnow() - timedelta(seconds=3)))
    [row] = claim(host.inbox)
    end(host.inbox, row.id, Outcome.COMPLETED)
    client, _ = host.signed_in(CONFIGURED)
    page = client.get("/stats?since=1d")
    assert page.status_code == 200, page.text[:300]
    assert re.search(r'id="late-p50">≤ 5\.0 s<', page.text), page.text
    assert "&gt; 30 min" in page.text  # the 95th percentile run: past the last bucket


def test_the_buttons_are_recorded_as_the_web_token_and_the_audit_page_shows_and_filters_them(host: Host) -> None:
    task = host.inbox.schedule("water the plants", every="1h", name="plants")
    other = host.inbox.schedule("standup", cron="0 9 * * 1-5")
    laptop = host.inbox.create_token("laptop")
    reader = host.inbox.create_token("phone", scope="read")
    client, csrf = host.signed_in(laptop.token)
    for action in ("pause", "resume", "run", "cancel"):
        assert client.post(f"/tasks/{task.series_id}/{action}", data={"csrf": csrf}).status_code == 303

    entries = host.inbox.audit(task.series_id)
    assert [(e.actor, e.action) for e in reversed(entries)] == [
        ("api", "task.create"),
        ("web:laptop", "task.pause"),
        ("web:laptop", "task.resume"),
        ("web:laptop", "task.run"),
        ("web:laptop", "task.cancel"),
    ]
    viewer, viewer_csrf = host.signed_in(reader.token)  # a read token sees the trail
    assert viewer.post(f"/tasks/{other.series_id}/pause", data={"csrf": viewer_csrf}).status_code == 403
    everything = viewer.get("/audit")
    assert everything.status_code == 200
    assert len(re.findall(r'data-audit="(\w+)"', everything.text)) == 8  # 2 tasks, 2 tokens, 4 buttons
    assert "web:laptop" in everything.text and 'aria-current="page">Audit' in everything.text
    only = viewer.get("/audit", params={"subject": "plants"}).text
    assert re.findall(r'data-audit="(\w+)"', only) == [e.id for e in entries]
    assert other.series_id not in only and "<dt>status</dt>" in only and "paused" in only
    assert viewer.get("/audit", params={"cursor": "not a cursor!"}).status_code == 422


def test_the_audit_page_is_cut_into_pages_by_cursor(host: Host) -> None:
    task = host.inbox.schedule("x", every="1h")
    for _ in range(PAGE // 2 + 2):
        host.inbox.pause(task.series_id)
        host.inbox.resume(task.series_id)
    client, _ = host.signed_in(CONFIGURED)
    first = client.get("/audit").text
    following = re.search(r'rel="next" href="([^"]+)"', first)
    assert len(re.findall(r"data-audit=", first)) == PAGE and following
    second = client.get(following.group(1).replace("&amp;", "&")).text
    assert len(re.findall(r"data-audit=", second)) == PAGE + 5 - PAGE and 'rel="next"' not in second
