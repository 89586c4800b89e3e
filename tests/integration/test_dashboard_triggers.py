"""The dashboard's events and hooks page and its dependency graph, over real HTTP on both stores."""

from __future__ import annotations

import re

from tests.integration.test_dashboard import CONFIGURED, Host
from tests.integration.test_dashboard import host as host  # the fixture: a host serving the dashboard


def test_events_show_what_each_started_and_the_hooks_that_emit_them(host: Host) -> None:
    inbox = host.inbox
    inbox.schedule("read the mail", on=["mail.*"], name="mail reader")
    inbox.create_hook("github", session="work", message=True)
    first = inbox.emit("mail.received", {"from": "<b>ann</b>"})
    second = inbox.emit("mail.received", {"from": "bob"})
    third = inbox.emit("mail.received", {"from": "cy"})  # one running-or-waiting and one queued: this coalesces
    lonely = inbox.emit("deploy.done")
    client, _ = host.signed_in(CONFIGURED)

    page = client.get("/events")
    assert page.status_code == 200, page.text[:300]
    text = page.text
    assert "POST /v1/hooks/github" in text and "hook.github" in text and ">work<" in text
    rows = re.findall(r'data-event="(\w+)"', text)
    assert rows == [lonely.id, third.id, second.id, first.id]  # newest first
    states = {e.id: re.findall(r"badge m-(\w+)", _row(text, e.id)) for e in (first, second, third, lonely)}
    assert states == {first.id: ["started"], second.id: ["queued"], third.id: ["coalesced"], lonely.id: []}
    assert "mail reader" in _row(text, first.id) and "no task listens" in _row(text, lonely.id)
    assert "&lt;b&gt;ann&lt;/b&gt;" in text and "<b>ann</b>" not in text  # data is escaped

    named = client.get("/events?name=deploy.done").text
    assert re.findall(r'data-event="(\w+)"', named) == [lonely.id]
    refused = client.get("/events?name=not%20a%20name")
    assert refused.status_code == 422 and "name" in refused.text


def _row(text: str, event_id: str) -> str:
    start = text.index(f'data-event="{event_id}"')
    return text[start : text.index("</tr>", start)]


def test_the_graph_draws_each_task_after_its_upstreams(host: Host) -> None:
    inbox = host.inbox
    fetch = inbox.schedule("fetch the feeds", every="1h", name="fetch").series_id
    digest = inbox.schedule("write the digest", after=["fetch"], name="digest").series_id
    mail = inbox.schedule("mail it", after=["digest", "fetch"], when="all_done", name="mail").series_id
    alone = inbox.schedule("water the plants", every="1d", name="plants").series_id
    client, _ = host.signed_in(CONFIGURED)

    page = client.get("/graph")
    assert page.status_code == 200, page.text[:300]
    boxes = {m[0]: int(m[1]) for m in re.findall(r'data-node="(\w+)">\s*<rect x="(\d+)"', page.text)}
    assert set(boxes) == {fetch, digest, mail}  # a task with no dependency is left out
    assert boxes[fetch] < boxes[digest] < boxes[mail]  # upstream left: mail is after digest, which is after fetch
    edges = set(re.findall(r'data-edge="(\w+)-(\w+)"', page.text))
    assert edges == {(fetch, digest), (digest, mail), (fetch, mail)}
    assert "all_done" in page.text and alone not in page.text

    part = client.get("/graph?task=plants")
    assert "This task runs after no task" in part.text
    missing = client.get("/graph?task=no-such-task")
    assert missing.status_code == 404 and "no-such-task" in missing.text


def test_a_read_token_sees_both_pages(host: Host) -> None:
    reader = host.inbox.create_token("viewer", scope="read").token
    client, _ = host.signed_in(reader)
    assert client.get("/events").status_code == 200 and client.get("/graph").status_code == 200
