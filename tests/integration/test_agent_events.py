"""The agent's ``emit_event`` tool and ``schedule_task``'s ``on``: within the runner's own session, always."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select, update

from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.trigger_tables import Event
from tests.integration.test_agent_tools import Host, Working, host, limits, working_on_chat, working_on_task_run

__all__ = ["host", "limits"]  # the fixtures, shared with the other agent-tool tests


def events(host: Host) -> list[Event]:
    with transaction(host.inbox.engine) as db:
        return list(db.exec(select(Event)).all())


def started(host: Host, series_id: str) -> list[MessageIn]:
    return [row for row in host.rows() if row.series_id == series_id and row.is_extra]


def test_emit_event_starts_only_the_agents_own_sessions_tasks(host: Host) -> None:
    mine = host.inbox.schedule("mine", on=["report.*"], session="a")
    theirs = host.inbox.schedule("theirs", on=["report.*"], session="b")
    tools = working_on_chat(host, "a")

    done = tools.ok("emit_event", name="report.ready", data={"pages": 3})

    assert done["matched"] == [mine.series_id] and done["coalesced"] == [] and "session" not in done
    assert started(host, theirs.series_id) == []
    [row] = started(host, mine.series_id)
    assert row.content["event"]["data"] == {"pages": 3} and row.content["event"]["session"] == "a"
    [event] = events(host)
    assert (event.session, event.created_by) == ("a", "agent:a")


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"name": "report.ready", "session": "b"}, "session"),  # it cannot aim at another session
        ({"name": "report.*"}, "name"),
        ({"name": ""}, "name"),
        ({"data": {}}, "name"),
        ({"name": "report.ready", "key": 7}, "key"),
        ({"name": "report.ready", "data": "x" * (1 << 20)}, "data"),
    ],
)
def test_bad_emits_are_refused_naming_the_field_and_write_nothing(
    host: Host, arguments: dict[str, Any], field: str
) -> None:
    theirs = host.inbox.schedule("theirs", on=["**"], session="b")
    tools = working_on_chat(host, "a")
    answer = tools("emit_event", **arguments)
    assert not answer.ok and answer.error is not None and answer.error.startswith(f"{field}: "), answer.error
    assert events(host) == [] and started(host, theirs.series_id) == []


def test_a_key_of_another_session_does_not_stop_the_agents_event_nor_the_reverse(host: Host) -> None:
    theirs = host.inbox.schedule("theirs", on=["x"], session="b")
    mine = host.inbox.schedule("mine", on=["x"], session="a")
    host.inbox.emit("x", session="b", key="k")
    tools = working_on_chat(host, "a")
    assert tools.ok("emit_event", name="x", key="k")["matched"] == [mine.series_id]
    assert len(started(host, theirs.series_id)) == 1


def run_started_by_an_event(host: Host, depth: int) -> Working:
    made = host.inbox.schedule("relay", on=["relay.*"], session="a")
    host.inbox.emit("relay.go", session="a")
    [row] = started(host, made.series_id)
    with transaction(host.inbox.engine) as db:
        event = {**row.content["event"], "depth": depth}
        db.exec(update(MessageIn).where(MessageIn.id == row.id).values(content={**row.content, "event": event}))
    client = host.runner("a", "r-a")
    [item] = client.claim(limit=1, wait_s=0).items
    assert item.id == row.id and item.event is not None and item.event.name == "relay.go"
    return Working(client, row.id)


def test_a_chain_of_events_emitted_by_the_runs_they_start_ends(host: Host) -> None:
    shallow = run_started_by_an_event(host, 0)
    assert len(shallow.ok("emit_event", name="relay.next")["queued"]) == 1  # its own task, behind the running run
    [deep_row] = [row for row in host.rows() if row.is_extra and row.status == "pending"]
    assert deep_row.content["event"]["depth"] == 1


def test_an_event_chain_deeper_than_the_limit_is_refused(host: Host) -> None:
    deep = run_started_by_an_event(host, 5)
    before = len(events(host))
    answer = deep("emit_event", name="relay.next")
    assert not answer.ok and answer.error is not None and answer.error.startswith("name: ")
    assert "chain" in answer.error and len(events(host)) == before


def test_schedule_task_with_on_from_a_chat_and_not_from_an_unattended_run(host: Host) -> None:
    chat = working_on_chat(host, "a")
    made = chat.ok("schedule_task", prompt="file the invoice", on=["mail.invoice"])
    assert made["next_runs"] == [] and made["schedule"] == "on mail.invoice"
    assert chat.ok("update_task", task_id=made["id"], on=["mail.*"])["schedule"] == "on mail.*"
    unattended = working_on_task_run(host, "a", "r-a2")
    answer = unattended("schedule_task", prompt="again", on=["mail.*"])
    assert not answer.ok and answer.error is not None and answer.error.startswith("on: ")
    refused = chat("schedule_task", prompt="p", on=["mail.*"], at="2h")
    assert not refused.ok and refused.error is not None and refused.error.startswith("on: ")
