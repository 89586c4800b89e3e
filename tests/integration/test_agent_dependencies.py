"""The agent's ``after`` and ``when`` (schedule_task, update_task): only its own session's tasks can be upstreams."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from inbox.store.engine import transaction
from inbox.store.trigger_tables import Dependency
from tests.integration import test_agent_tools as agent_tools
from tests.integration.test_agent_tools import NOT_HERE, Host, working_on_chat, working_on_task_run

host, limits = agent_tools.host, agent_tools.limits  # the fixtures of the agent's tools' tests, shared


def edges(host: Host) -> list[tuple[str, str, str]]:
    with transaction(host.inbox.engine) as db:
        return sorted((e.upstream_id, e.downstream_id, str(e.when)) for e in db.exec(select(Dependency)).all())


def test_schedule_task_after_this_sessions_tasks(host: Host) -> None:
    fetch = host.inbox.schedule("fetch", every="1h", session="a", name="fetch")
    tools = working_on_chat(host)

    made = tools.ok("schedule_task", prompt="summarize what fetch found", after=["fetch"], when="any_success")

    assert made["schedule"] == f"after {fetch.series_id} (any_success)" and made["next_runs"] == []
    assert edges(host) == [(fetch.series_id, made["series_id"], "any_success")]
    shown = tools.ok("get_task", task_id=made["series_id"])
    assert shown["schedule"] == made["schedule"]


def test_another_sessions_task_cannot_be_an_upstream(host: Host) -> None:
    theirs = host.inbox.schedule("their secret job", every="1h", session="b", name="theirs")
    mine = host.inbox.schedule("mine", every="1h", session="a", name="mine")
    tools = working_on_chat(host)
    before = [(row.id, row.content) for row in host.rows()]

    for ident in (theirs.series_id, theirs.series_id[:10], "theirs"):
        for tool, arguments in (
            ("schedule_task", {"prompt": "read their replies", "after": ["mine", ident]}),
            ("update_task", {"task_id": "mine", "after": [ident]}),
        ):
            answer = tools(tool, **arguments)
            assert not answer.ok and answer.error == f"after: no task {ident!r} {NOT_HERE}"

    assert [(row.id, row.content) for row in host.rows()] == before and edges(host) == []
    assert tools.ok("update_task", task_id=mine.series_id, every="1d")  # its own task is its own to change


def test_a_cycle_set_by_the_agent_is_refused_naming_it(host: Host) -> None:
    host.inbox.schedule("one", every="1h", session="a", name="one")
    tools = working_on_chat(host)
    two = tools.ok("schedule_task", prompt="two", after=["one"], name="two")

    answer = tools("update_task", task_id="one", after=["two"])

    assert not answer.ok and answer.error == "after: would close a cycle: one → two → one"
    assert [(u, d) for u, d, _ in edges(host)] == [(host.inbox.get("one").series_id, two["series_id"])]


def test_an_unattended_run_may_not_set_a_task_that_runs_after_others(host: Host) -> None:
    host.inbox.schedule("fetch", every="1h", session="a", name="fetch")
    tools = working_on_task_run(host)
    before = [row.id for row in host.rows()]
    arguments: dict[str, Any] = {"prompt": "again and again", "after": ["fetch"]}

    answer = tools("schedule_task", **arguments)

    assert not answer.ok and answer.error is not None
    assert answer.error.startswith("after: ") and "INBOX_AGENT_UNATTENDED_RECURRING" in answer.error
    assert [row.id for row in host.rows()] == before
    host.inbox.schedule("fetch", every="1h", session="trusted", name="fetch")
    trusted = working_on_task_run(host, "trusted", "r-t")
    assert trusted.ok("schedule_task", **arguments)["series_id"]
