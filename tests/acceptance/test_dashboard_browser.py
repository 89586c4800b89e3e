"""The dashboard in a real browser: Debian's chromium driven by Playwright, against a real ``inbox serve --listen``.

The host runs with the process runtime and the fake model provider, as tests/fuzz does, so a chat line sent from
the page is answered by a real runner. The browser runs headless with the flags below; nothing is downloaded
(Playwright's own browsers are never installed: ``executable_path`` is Debian's). Without /usr/bin/chromium or
the playwright package these tests are skipped, saying which is missing (``.ci/run`` installs both).
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.acceptance.served import serving
from tests.fuzz.served_api import ApiHost, start_api_host
from tests.integration.helpers import stored_text

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 30_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install chromium chromium-driver"),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None, reason="no playwright package: pip install playwright"
    ),
]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHost]:
    home = tmp_path_factory.mktemp("dashboard-home")
    with serving(home, None) as served:
        yield start_api_host(served)
        served.stop_hosts()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(timezone_id="Europe/Paris")
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Page, host: ApiHost, token: str | None = None, *, start: str = "/tasks") -> None:
    page.goto(host.base_url + start)
    assert "/signin" in page.url  # not signed in yet: the page asks for a token
    page.fill("#token", token or host.token)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_url(f"**{start}")


def in_page_post(page: Page, path: str, *, with_csrf: bool) -> int:
    """A POST from the page's own script (same origin, its cookie), as a button would send it."""
    script = """async ([path, withCsrf]) => {
        const headers = {"content-type": "application/x-www-form-urlencoded"};
        if (withCsrf) headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
        const answer = await fetch(path, {method: "POST", headers, body: "back=/tasks", redirect: "manual"});
        return answer.status;
    }"""
    status: int = page.evaluate(script, [path, with_csrf])
    return status


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_sign_in_find_a_task_and_pause_it_through_the_page(host: ApiHost, page: Page) -> None:
    name = unique("plants")
    task = host.served.inbox.schedule("Water the plants", cron="0 9 * * *", name=name, tz="Europe/London")
    sign_in(page, host)
    assert page.evaluate("window.htmx && htmx.version") == "4.0.1"  # the vendored copy, from this host

    page.fill("input[name=q]", name)
    page.click("form.filters button[type=submit]")
    row = page.locator(f"tr[data-series='{task.series_id}']")
    row.wait_for()
    assert "At 09:00" in row.inner_text() and "Europe/London" in row.inner_text()  # the schedule in words

    row.locator("button[data-action=pause]").click()
    host.served.wait_for("the pause", lambda: host.served.inbox.get(task.series_id).status == "paused")
    row.wait_for(state="detached")  # htmx swapped in the active tab again: the task is no longer there

    page.click("nav.tabs a:text('Paused')")
    paused = page.locator(f"tr[data-series='{task.series_id}']")
    assert paused.get_attribute("data-status") == "paused"
    assert paused.locator("button[data-action=resume]").is_enabled()
    assert "paused by web:INBOX_API_TOKEN" in paused.inner_text()


def test_a_failed_message_can_be_opened_and_its_error_read(host: ApiHost, page: Page) -> None:
    host.served.fake.error(401, message="invalid API key (scripted)")
    failed = host.served.inbox.send(unique("Book a table"), session=unique("s"))
    host.served.wait_for("the failure", lambda: host.served.inbox.message(failed.id).status == "failed")
    sign_in(page, host, start="/messages")

    row = page.locator(f"tr[data-message='{failed.id}']")
    assert row.get_attribute("data-status") == "failed"
    row.locator("a").first.click()
    page.wait_for_url(f"**/messages/{failed.id}")
    assert "invalid API key (scripted)" in page.locator(".run-error").first.inner_text()
    assert page.locator(".attempt").first.get_attribute("data-outcome") == "failed"


def test_a_read_token_sees_the_tasks_but_cannot_pause_them(host: ApiHost, page: Page) -> None:
    task = host.served.inbox.schedule("Stand-up notes", cron="30 8 * * 1-5", name=unique("standup"))
    reader = host.served.inbox.create_token(unique("phone"), scope="read").token
    sign_in(page, host, reader)
    page.fill("input[name=q]", host.served.inbox.get(task.series_id).name or "")
    page.click("form.filters button[type=submit]")
    row = page.locator(f"tr[data-series='{task.series_id}']")
    row.wait_for()
    assert row.locator("button[data-action=pause]").is_disabled()
    assert "read" in page.locator(".who .scope").inner_text()
    before = stored_text(host.served.inbox.engine)

    assert in_page_post(page, f"/tasks/{task.series_id}/pause", with_csrf=True) == 403
    button = row.locator("button[data-action=pause]")
    button.evaluate("button => { button.disabled = false; }")  # as someone editing the page would
    button.click()
    page.locator("#flash .flash.error", has_text="has the read scope; this needs admin").wait_for()

    assert host.served.inbox.get(task.series_id).status == "active"
    assert stored_text(host.served.inbox.engine) == before


def test_an_action_without_the_csrf_token_is_refused(host: ApiHost, page: Page) -> None:
    task = host.served.inbox.schedule("Check the backups", every="12h", name=unique("backups"))
    sign_in(page, host)
    before = stored_text(host.served.inbox.engine)

    assert in_page_post(page, f"/tasks/{task.series_id}/pause", with_csrf=False) == 403

    assert host.served.inbox.get(task.series_id).status == "active"
    assert stored_text(host.served.inbox.engine) == before


def test_chat_from_the_browser_shows_the_answer_when_it_arrives(host: ApiHost, page: Page) -> None:
    session = unique("phone")
    answer = unique("Hello from the fake model")
    host.served.fake.reply(answer)
    sign_in(page, host, start=f"/chat?session={session}")

    page.fill("form.send textarea", "Hi there, what's on today?")
    page.click("form.send button[type=submit]")

    page.locator("#chat-log [data-who=assistant]", has_text=answer).wait_for()
    said = page.locator("#chat-log [data-who=you]", has_text="Hi there, what's on today?")
    assert said.get_attribute("data-status") == "completed"
    assert page.locator("form.send textarea").input_value() == ""  # the box is emptied once sent
    [sent] = [m for m in _chat_rows(host, session)]
    assert sent["created_by"] == "web:INBOX_API_TOKEN"


def _chat_rows(host: ApiHost, session: str) -> list[dict[str, Any]]:
    from sqlmodel import select

    from inbox.store.engine import read_transaction
    from inbox.store.models import MessageIn

    with read_transaction(host.served.inbox.engine) as db:
        rows = db.exec(select(MessageIn).where(MessageIn.session == session)).all()
        return [{"text": row.text, "created_by": row.created_by} for row in rows]


def test_a_pause_through_the_page_is_on_the_audit_page_as_made_by_its_token(host: ApiHost, page: Page) -> None:
    name = unique("audited")
    task = host.served.inbox.schedule("Stretch", every="2h", name=name)
    sign_in(page, host)
    page.fill("input[name=q]", name)
    page.click("form.filters button[type=submit]")
    page.locator(f"tr[data-series='{task.series_id}'] button[data-action=pause]").click()
    host.served.wait_for("the pause", lambda: host.served.inbox.get(task.series_id).status == "paused")

    page.click("header nav a:text('Audit')")
    page.wait_for_url("**/audit")
    page.fill("input[name=subject]", name)
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/audit?subject=*")
    rows = page.locator("tr[data-audit]")
    rows.first.wait_for()
    assert rows.count() == 2  # the task's creation, then its pause: nothing of the other tests' tasks
    newest = rows.first.inner_text()
    assert "web:INBOX_API_TOKEN" in newest and "task.pause" in newest
    assert "status" in newest and "active" in newest and "paused" in newest
    assert "task.create" in rows.nth(1).inner_text()


def test_the_tasks_page_shows_each_tags_limit(host: ApiHost, page: Page) -> None:
    tag = unique("net")
    host.served.inbox.set_limit(tag, max_running=2, rate="30/1m")
    sign_in(page, host)
    row = page.locator(f"section.limits tr[data-tag='{tag}']")
    row.wait_for()
    assert row.is_visible()
    cells = [text.strip() for text in row.locator("td").all_inner_texts()]
    assert cells == [tag, "2", "30/1m", "0"]
    host.served.inbox.remove_limit(tag)
