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
