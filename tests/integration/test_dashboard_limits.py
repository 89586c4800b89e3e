"""The dashboard shows what holds tasks back and how far running ones have come: the limits per tag (with how
many run now) on the tasks page, and a running occurrence's latest progress on the tasks page and its own page."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, update

from inbox.store import progress
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from tests.integration.helpers import claim
from tests.integration.test_dashboard import CONFIGURED, Host, host

__all__ = ["host"]


def _running(host: Host, text: str, tags: list[str]) -> str:
    made = host.inbox.schedule(text, in_="1h", tags=tags)
    with transaction(host.inbox.engine) as db:
        due = host.inbox.clock() - timedelta(seconds=1)
        db.exec(update(MessageIn).where(col(MessageIn.id) == made.id).values(process_after=due))  # type: ignore[call-overload]
    assert [row.id for row in claim(host.inbox)] == [made.id]
    return made.id


def test_the_tasks_page_shows_the_limits_and_how_many_run_now(host: Host) -> None:
    client, _ = host.signed_in(CONFIGURED)
    assert "Limits" not in client.get("/tasks").text  # no limits, no block
    host.inbox.set_limit("net", max_running=1)
    host.inbox.set_limit("mail", rate="10/1h")
    _running(host, "sync the feeds", ["net"])
    page = client.get("/tasks").text
    assert "<h2>Limits" in page
    net = page[page.index('<tr data-tag="net">') :].split("</tr>")[0]
    assert ">1</td>" in net and "full" in net and "\u2013" in net  # max 1, 1 running: full; no rate
    mail = page[page.index('<tr data-tag="mail">') :].split("</tr>")[0]
    assert "10/1h" in mail and ">0</td>" in mail


def test_a_running_occurrence_shows_its_latest_progress(host: Host) -> None:
    row_id = _running(host, "resize the photos", [])
    client, _ = host.signed_in(CONFIGURED)
    assert "progress" not in client.get("/tasks").text.split("<tbody>")[1]  # nothing reported yet
    with transaction(host.inbox.engine) as db:
        row = db.get(MessageIn, row_id)
        assert row is not None
        progress.record(row, fraction=0.25, note="first <batch>", now=host.inbox.clock())
        progress.record(row, fraction=0.6, note="second batch", now=host.inbox.clock())
    page = client.get("/tasks").text
    assert 'data-fraction="0.6"' in page and "60% · second batch" in page and "first" not in page
    detail = client.get(f"/messages/{row_id}").text
    assert "<dt>Progress</dt>" in detail and "60% · second batch" in detail


def test_the_tasks_page_shows_active_hours_a_task_is_held_to(host: Host) -> None:
    client, _ = host.signed_in(CONFIGURED)
    own = host.inbox.schedule("water the plants", every="1h", active_hours="08:00-20:00")
    inherited = host.inbox.schedule("read the news", every="1h", session="home")
    free = host.inbox.schedule("back up", every="1h", session="work")
    page = client.get("/tasks").text
    assert "<h2>Sessions" not in page and "(session home)" not in page  # no session has settings yet
    host.inbox.set_session("home", active_hours="22:00-06:00")
    page = client.get("/tasks").text

    def row(series_id: str) -> str:
        return page[page.index(f'id="task-{series_id}"') :].split("</tr>")[0]

    assert "active 08:00-20:00</span>" in row(own.series_id)
    assert "active 22:00-06:00 (session home)</span>" in row(inherited.series_id)
    assert "active " not in row(free.series_id)
    sessions = page[page.index('<tr data-session="home">') :].split("</tr>")[0]
    assert "22:00-06:00" in sessions and ">none</td>" in sessions
    detail = client.get(f"/messages/{own.id}").text
    assert "<dt>Active hours</dt>" in detail and "08:00-20:00 " in detail
    assert "<dt>Active hours</dt>" not in client.get(f"/messages/{free.id}").text
