"""Changing what a task does (``update(do=, with_=)``): checked by the kind's own model as when a task is made,
nothing written when refused; the live row changes, past occurrences never; and a run's reach is judged by who
wrote what it does, so an agent re-pointing a person's task gets an agent's reach."""

from __future__ import annotations

from typing import Any

import pytest

from agent_runner.protocol import HttpCall
from inbox import Inbox
from inbox.errors import InvalidInput
from sweeper.http.runner_api import work_item
from tests.conftest import Clock
from tests.integration.helpers import claim, end, host_requests, rows, runs, stored_text
from tests.integration.test_agent_tools import Host, host, limits, working_on_chat
from tests.integration.test_public_api import Served, all_tasks, api, ok, refused

__all__ = ["api", "host", "limits"]  # the fixtures

PUBLIC = {"url": "https://example.com/hook", "method": "GET"}


def test_a_task_changes_kind_and_its_past_runs_keep_theirs(inbox: Inbox, clock: Clock) -> None:
    made = inbox.schedule("look at the service", every="1h")
    clock.advance(hours=1, seconds=1)
    [first] = claim(inbox)
    end(inbox, first.id)

    changed = inbox.update(made.series_id, do="http", with_=PUBLIC)
    assert (changed.do, changed.with_) == ("http", {**PUBLIC, "headers": {}})
    past, live = sorted(rows(inbox, made.series_id), key=lambda row: row.created_at)
    assert (past.id, past.do, past.content.get("with")) == (first.id, "agent", None)
    assert (live.do, live.content["with"]["url"]) == ("http", PUBLIC["url"])

    back = inbox.update(made.series_id, do="remind")
    assert (back.do, back.with_) == ("remind", None)
    again = inbox.update(made.series_id, do="command", with_={"argv": ["true"]})
    assert (again.do, again.with_) == ("command", {"argv": ["true"]})
    entries = [e.changes for e in inbox.audit(made.series_id) if e.action == "task.update"]
    assert entries[-1] == {
        "do": {"before": None, "after": "http"},
        "with": {"before": None, "after": {**PUBLIC, "headers": {}}},
    }
    assert entries[0]["do"] == {"before": None, "after": "command"}  # newest first


def test_with_alone_changes_the_input_of_the_kind_the_task_has(inbox: Inbox) -> None:
    made = inbox.schedule("ping", every="1h", do="http", with_=PUBLIC)
    changed = inbox.update(made.series_id, with_={"url": "https://example.org/up"})
    assert (changed.do, changed.with_) == ("http", {"url": "https://example.org/up", "method": "POST", "headers": {}})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"do": "http", "with_": {"url": "gopher://x"}}, "with.url"),
        ({"do": "http"}, "with.url"),  # an http task needs its url
        ({"do": "command", "with_": {"argv": []}}, "with.argv"),
        ({"do": "http", "with_": {"url": "https://x.example", "verb": "GET"}}, "with.verb"),
        ({"with_": {"url": "https://x.example"}}, "with"),  # the agent kind takes none
        ({"do": "remind", "with_": {"x": 1}}, "with"),
        ({"do": "teleport"}, "do"),
        ({"do": "Not A Kind"}, "do"),
        ({"with_": ["not", "an", "object"]}, "with"),
    ],
)
def test_a_bad_kind_or_input_is_refused_naming_the_field_and_writes_nothing(
    inbox: Inbox, fields: dict[str, Any], field: str
) -> None:
    made = inbox.schedule("look", every="1h")
    before = stored_text(inbox.engine)
    with pytest.raises(InvalidInput) as refused:
        inbox.update(made.series_id, **fields)
    assert refused.value.field == field
    assert stored_text(inbox.engine) == before


def test_a_change_made_while_it_runs_waits_for_the_next_occurrence(inbox: Inbox, clock: Clock) -> None:
    made = inbox.schedule("look", every="1h")
    clock.advance(hours=1, seconds=1)
    [running] = claim(inbox)
    changed = inbox.update(made.series_id, do="http", with_=PUBLIC)
    # The view says what the task does next, and what the running occurrence still does.
    assert (changed.do, changed.with_, changed.status) == ("http", {**PUBLIC, "headers": {}}, "running")
    assert (changed.running_do, changed.running_with) == ("agent", None)
    assert running.do == "agent" and [row.do for row in rows(inbox, made.series_id)] == ["agent"]  # it runs as begun
    end(inbox, running.id)
    by_age = sorted(rows(inbox, made.series_id), key=lambda row: row.created_at)
    assert [row.do for row in by_age] == ["agent", "http"]
    assert by_age[-1].content["with"]["url"] == PUBLIC["url"]
    after = inbox.get(made.series_id)
    assert (after.do, after.running_do, after.running_with) == ("http", None, None)


def test_a_task_read_while_it_runs_shows_the_kind_its_next_occurrence_has(api: Served, clock: Clock) -> None:
    """``GET /v1/tasks/{id}`` (what ``inbox show`` and ``inbox tasks`` read too) after a change that waits on the
    running occurrence: the new kind and input, the new text, and what the running one does beside them."""
    made = api.inbox.schedule("ping the box", every="1h", do="command", with_={"argv": ["true"]})
    clock.advance(hours=1, seconds=1)
    [running] = claim(api.inbox)
    target = {"url": "http://127.0.0.1:9/up", "method": "GET"}
    ok(api.http.patch(f"/v1/tasks/{made.series_id}", json={"do": "http", "with": target, "prompt": "ping it"}))
    shown = ok(api.http.get(f"/v1/tasks/{made.series_id}"))
    assert (shown["status"], shown["id"]) == ("running", running.id)
    assert (shown["do"], shown["with"], shown["prompt"]) == ("http", {**target, "headers": {}}, "ping it")
    assert (shown["running_do"], shown["running_with"]) == ("command", {"argv": ["true"]})
    [listed] = [t for t in all_tasks(api) if t["series_id"] == made.series_id]
    assert (listed["do"], listed["running_do"]) == ("http", "command")
    ok(api.http.patch(f"/v1/tasks/{made.series_id}", json={"with": {"url": "http://127.0.0.1:9/again"}}))
    again = ok(api.http.get(f"/v1/tasks/{made.series_id}"))
    assert (again["do"], again["with"]["url"]) == ("http", "http://127.0.0.1:9/again")  # a --with on the waiting kind
    end(api.inbox, running.id)
    ended = ok(api.http.get(f"/v1/tasks/{made.series_id}"))
    assert (ended["do"], ended["with"]["url"], ended["running_do"]) == ("http", "http://127.0.0.1:9/again", None)


def test_an_agent_changing_a_persons_task_gets_an_agents_reach(inbox: Inbox) -> None:
    made = inbox.schedule("look", every="1h")  # made by a person
    agent = inbox.acting_as("agent:main")
    before = stored_text(inbox.engine)
    for url in ("http://127.0.0.1:8080/v1/tasks", "http://10.0.0.1/x", "http://169.254.169.254/latest"):
        with pytest.raises(InvalidInput, match=r"public|never sends") as refused:
            agent.update(made.series_id, do="http", with_={"url": url})
        assert refused.value.field == "with.url"
    assert stored_text(inbox.engine) == before

    agent.update(made.series_id, do="command", with_={"argv": ["true"]})
    [live] = rows(inbox, made.series_id)
    # what the runner judges a command by (refused unsandboxed) and the host an http request by (public only)
    assert (live.created_by, live.kind_author, work_item(live).created_by) == ("user", "agent:main", "agent:main")
    inbox.update(made.series_id, with_={"argv": ["true", "again"]})  # the person writes it again: theirs
    [live] = rows(inbox, made.series_id)
    assert work_item(live).created_by == "user"
    agent.update(made.series_id, prompt="look closer")  # the prompt is not what the command does
    [live] = rows(inbox, made.series_id)
    assert live.kind_author == "user"


def test_a_person_may_point_their_own_task_at_loopback(inbox: Inbox) -> None:
    made = inbox.schedule("look", every="1h")
    changed = inbox.update(made.series_id, do="http", with_={"url": "http://127.0.0.1:9/ok"})
    assert changed.with_ is not None and changed.with_["url"] == "http://127.0.0.1:9/ok"


def test_patch_changes_do_and_with_and_refuses_a_bad_with_naming_it(api: Served) -> None:
    sid = ok(api.http.post("/v1/tasks", json={"prompt": "ping", "every": "1h"}), 201)["series_id"]
    changed = ok(api.http.patch(f"/v1/tasks/{sid}", json={"do": "http", "with": PUBLIC}))
    assert (changed["do"], changed["with"]["url"]) == ("http", PUBLIC["url"])
    before = stored_text(api.inbox.engine)
    refused(api.http.patch(f"/v1/tasks/{sid}", json={"with": {"url": "ftp://x"}}), 422, "with.url")
    refused(api.http.patch(f"/v1/tasks/{sid}", json={"do": "command"}), 422, "with.argv")
    refused(api.http.patch(f"/v1/tasks/{sid}", json={"do": 3}), 422, "do")
    assert stored_text(api.inbox.engine) == before


def test_the_agents_update_task_is_held_to_what_it_may_create(host: Host) -> None:
    tools = working_on_chat(host)
    made = tools.ok("schedule_task", prompt="check the site", every="1h")
    answer = tools("update_task", task_id=made["series_id"], do="http", **{"with": {"url": "http://192.168.1.1/"}})
    assert not answer.ok and answer.error is not None and answer.error.startswith("with.url: ")
    assert host.row(made["id"]).do == "agent"
    tools.ok("update_task", task_id=made["series_id"], do="http", **{"with": {"url": "https://example.com/"}})
    row = host.row(made["id"])
    assert (row.do, row.kind_author) == ("http", "agent:a")


def test_a_request_an_agent_re_pointed_never_reaches_a_local_name_at_run_time(host: Host) -> None:
    """A name (not a literal) passes when the task changes; the host refuses it when it resolves it at the run,
    whether it makes the request alone (no pre-script) or for the runner that holds the run (one with a pre-script)."""
    alone = host.inbox.schedule("ping", in_="1h", session="a", retries=0, do="http", with_={"url": "https://a.example"})
    gated = host.inbox.schedule(
        "ping", in_="1h", session="a", retries=0, do="http", with_={"url": "https://a.example"}, script="echo '{}'"
    )
    for made in (alone, gated):
        host.inbox.acting_as("agent:a").update(made.series_id, with_={"url": "http://localhost:9/private"})
        host.make_due(made.id)
    runner = host.runner("a")
    [item] = runner.claim(limit=2, wait_s=0).items  # the one without a pre-script is never a runner's
    assert item.id == gated.id
    answer = runner.http(HttpCall(message_id=item.id, attempt=item.attempt), timeout_s=5)
    assert answer.error is not None and "not a public address" in answer.error, answer
    assert answer.status is None  # refused before any connection
    with host_requests(host.inbox.engine, host.state.http) as requests:
        assert requests.wait_idle(timeout_s=30)
    [run] = runs(host.inbox, alone.series_id)
    assert (run.outcome, run.runner) == ("failed", "h/http")
    assert run.error is not None and "not a public address" in run.error
