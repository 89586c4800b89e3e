"""The agent's tools over a real unix socket: applied by the host, in the runner's session, within the limits.

A uvicorn server in a thread serves the host app on an AF_UNIX socket; runners call ``/runner/v1/tools`` with
HostClient and the tokens the host issued, while holding a claimed row, on every store backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select, update

from agent_runner.client import HostClient
from agent_runner.protocol import RunResult, ToolAnswer, ToolRequest
from inbox import Inbox
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, MessageOut
from inbox.store.types import utcnow
from sweeper.http.agent_limits import AgentLimits
from sweeper.http.app import HostState, make_app
from sweeper.http.runner_auth import RunnerIdentity
from tests.integration.unix_server import serving_on_unix_socket

TASK_VIEW = {"series_id", "name", "status", "schedule", "timezone", "next_run_local", "last_outcome", "runs", "prompt"}
TASK_VIEW |= {"tags", "priority", "active_hours"}
NOT_HERE = "in this conversation"


@dataclass
class Host:
    inbox: Inbox
    state: HostState
    socket_path: str
    clients: list[HostClient] = field(default_factory=list)

    def runner(self, session: str = "a", owner: str = "r-a") -> HostClient:
        token = self.state.runner_tokens.issue(RunnerIdentity(session=session, owner=owner))
        client = HostClient(self.socket_path, token, timeout_s=10)
        self.clients.append(client)
        return client

    def rows(self) -> list[MessageIn]:
        with transaction(self.inbox.engine) as db:
            return list(db.exec(select(MessageIn).order_by(col(MessageIn.id))).all())

    def tasks(self) -> list[MessageIn]:
        return [row for row in self.rows() if row.series_id is not None]

    def row(self, message_id: str) -> MessageIn:
        with transaction(self.inbox.engine) as db:
            row = db.get(MessageIn, message_id)
            assert row is not None
            return row

    def outbox(self) -> list[MessageOut]:
        with transaction(self.inbox.engine) as db:
            return list(db.exec(select(MessageOut).order_by(col(MessageOut.id))).all())

    def make_due(self, message_id: str) -> None:
        with transaction(self.inbox.engine) as db:
            stmt = update(MessageIn).where(col(MessageIn.id) == message_id)
            db.exec(stmt.values(process_after=utcnow() - timedelta(seconds=1)))


@pytest.fixture
def limits() -> AgentLimits:
    """The host's limits in these tests; a test overrides them with ``@pytest.mark.parametrize("limits", ...)``."""
    return AgentLimits(max_live_tasks=5, min_interval=timedelta(minutes=5), unattended_recurring=frozenset({"trusted"}))


@pytest.fixture
def host(store_url: str, tmp_path: Path, limits: AgentLimits) -> Iterator[Host]:
    inbox = Inbox(store_url, env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}, actor="api")
    state = HostState(inbox=inbox, admin_token="admin", agent_limits=limits)
    with serving_on_unix_socket(make_app(state)) as socket_path:
        served = Host(inbox=inbox, state=state, socket_path=socket_path)
        try:
            yield served
        finally:
            for client in served.clients:
                client.close()
            inbox.close()


@dataclass
class Working:
    """A runner while it works on one claimed row: the model's tool calls go out with that row's id."""

    client: HostClient
    message_id: str

    def __call__(self, tool: str, /, **arguments: Any) -> ToolAnswer:
        return self.client.tool(ToolRequest(name=tool, arguments=arguments, message_id=self.message_id))

    def ok(self, tool: str, /, **arguments: Any) -> Any:
        answer = self(tool, **arguments)
        assert answer.ok, answer.error
        return answer.result


def working_on_chat(host: Host, session: str = "a", owner: str = "r-a") -> Working:
    message = host.inbox.send("can you set that up?", session=session)
    client = host.runner(session, owner)
    assert [item.id for item in client.claim(limit=1, wait_s=0).items] == [message.id]
    return Working(client, message.id)


def working_on_task_run(host: Host, session: str = "a", owner: str = "r-a") -> Working:
    made = host.inbox.schedule("check the feed", in_="1h", session=session)
    host.make_due(made.id)
    client = host.runner(session, owner)
    [item] = client.claim(limit=1, wait_s=0).items
    assert (item.id, item.kind) == (made.id, "task")
    return Working(client, made.id)


def status_of(call: Callable[[], object]) -> int:
    with pytest.raises(httpx.HTTPStatusError) as refused:
        call()
    return refused.value.response.status_code


def test_schedule_task_with_cron_and_a_zone_answers_the_next_three_runs_in_that_zone(host: Host) -> None:
    tools = working_on_chat(host)

    made = tools.ok("schedule_task", prompt="Summarize the news", cron="30 9 * * 1-5", timezone="Asia/Kolkata")

    assert set(made) == {"id", "series_id", "name", "timezone", "schedule", "next_runs"}
    assert (made["timezone"], made["schedule"], made["name"]) == ("Asia/Kolkata", "cron 30 9 * * 1-5", None)
    runs = [datetime.fromisoformat(text) for text in made["next_runs"]]
    assert len(runs) == 3 and all(text.endswith("+05:30") for text in made["next_runs"])
    assert all((t.hour, t.minute) == (9, 30) and t.weekday() < 5 for t in runs) and runs == sorted(runs)
    [row] = host.tasks()
    assert (row.id, row.series_id, row.session, row.kind, row.created_by) == (
        made["id"],
        made["series_id"],
        "a",
        "task",
        "agent:a",
    )
    assert (row.recurrence, row.timezone, row.text) == ("cron 30 9 * * 1-5", "Asia/Kolkata", "Summarize the news")


def test_schedule_task_with_every_at_and_a_duration(host: Host) -> None:
    tools = working_on_chat(host)
    before = utcnow()

    every = tools.ok("schedule_task", prompt="stretch", every="2h", name="stretch", max_runs=3, remind=True)
    at = tools.ok("schedule_task", prompt="call mum", at="2030-07-01T09:00", timezone="Europe/London")
    instant = tools.ok("schedule_task", prompt="new year", at="2030-01-01T00:00:00Z", timezone="Europe/Paris")
    soon = tools.ok("schedule_task", prompt="tea is ready", at="2h", remind=True)

    first, second, third = (datetime.fromisoformat(t) for t in every["next_runs"])
    assert (every["schedule"], second - first, third - second) == ("every 2h", timedelta(hours=2), timedelta(hours=2))
    assert at["next_runs"] == ["2030-07-01T09:00:00+01:00"]
    assert instant["next_runs"] == ["2030-01-01T01:00:00+01:00"]
    [due] = (datetime.fromisoformat(t) for t in soon["next_runs"])
    assert before + timedelta(hours=2) <= due <= utcnow() + timedelta(hours=2)
    rows = {row.id: row for row in host.tasks() if row.kind == "task" and row.created_by == "agent:a"}
    assert set(rows) == {every["id"], at["id"], instant["id"], soon["id"]}
    assert (rows[every["id"]].max_runs, rows[every["id"]].remind, rows[soon["id"]].recurrence) == (3, True, None)
    assert {row.session for row in rows.values()} == {"a"}


@pytest.mark.parametrize(
    ("name", "arguments", "field_name"),
    [
        ("schedule_task", {"prompt": "p", "cron": "61 * * * *"}, "cron"),
        ("schedule_task", {"prompt": "p", "cron": "0 9 31 2 *"}, "cron"),
        ("schedule_task", {"prompt": "p", "cron": "@daily", "every": "1d"}, "schedule"),
        ("schedule_task", {"prompt": "p"}, "schedule"),
        ("schedule_task", {"prompt": "p", "every": "1h", "colour": "red"}, "colour"),
        ("schedule_task", {"prompt": "p", "in": "2h"}, "in"),  # the API's name, not the tool's: named as given
        ("schedule_task", {"prompt": "p", "every": "1h", "session": "b"}, "session"),
        ("schedule_task", {"prompt": "p", "every": "1h", "max_runs": "3"}, "max_runs"),
        ("schedule_task", {"prompt": "p", "every": "1h", "max_runs": 0}, "max_runs"),
        ("schedule_task", {"prompt": "p", "every": "1h", "remind": "yes"}, "remind"),
        ("schedule_task", {"prompt": "p", "every": "1h", "catch_up": "sometimes"}, "catch_up"),
        ("schedule_task", {"prompt": 42, "every": "1h"}, "prompt"),
        ("schedule_task", {"every": "1h"}, "prompt"),
        ("schedule_task", {"prompt": "  ", "every": "1h"}, "prompt"),
        ("schedule_task", {"prompt": "p", "every": "often"}, "every"),
        ("schedule_task", {"prompt": "p", "at": "2001-01-01T09:00"}, "at"),
        ("schedule_task", {"prompt": "p", "at": "next tuesday"}, "at"),
        ("schedule_task", {"prompt": "p", "every": "1h", "timezone": "Mars/Olympus"}, "timezone"),
        ("schedule_task", {"prompt": "p", "every": "1h", "active_hours": "09:00-09:00"}, "active_hours"),
        ("update_task", {"task_id": "anything"}, "task_id"),
        ("update_task", {"task_id": "anything", "cron": "@daily", "every": "1d"}, "schedule"),
        ("get_task_runs", {"task_id": "anything", "limit": 1000}, "limit"),
        ("get_task", {"task_id": 7}, "task_id"),
        ("list_tasks", {"status": "running"}, "status"),
        ("reschedule_everything", {}, "name"),
        ("send_message", {"text": ""}, "text"),
        ("send_message", {}, "text"),
    ],
)
def test_invalid_arguments_are_refused_naming_the_field_and_write_nothing(
    host: Host, name: str, arguments: dict[str, Any], field_name: str
) -> None:
    tools = working_on_chat(host)
    before = [(row.id, row.status) for row in host.rows()]

    answer = tools(name, **arguments)

    assert not answer.ok and answer.result is None
    assert answer.error is not None and answer.error.startswith(f"{field_name}: "), answer.error
    assert "--" not in answer.error
    assert [(row.id, row.status) for row in host.rows()] == before
    assert host.outbox() == []


def test_the_task_tools_act_on_this_sessions_tasks(host: Host) -> None:
    made = host.inbox.schedule("water the plants", every="1h", session="a", name="water")
    tools = working_on_chat(host)

    [listed] = tools.ok("list_tasks")
    assert set(listed) == TASK_VIEW and (listed["series_id"], listed["status"]) == (made.series_id, "active")
    assert tools.ok("get_task", task_id="water") == listed
    assert tools.ok("get_task", task_id=made.series_id.lower()[:10]) == listed  # a prefix works too
    assert tools.ok("get_task_runs", task_id=made.id) == []

    changed = tools.ok("update_task", task_id=made.id, prompt="water the ferns", every="2h")
    assert (changed["prompt"], changed["schedule"]) == ("water the ferns", "every 2h")
    assert tools.ok("update_task", task_id="water", active_hours="8:00-20:00")["active_hours"] == "08:00-20:00"
    assert tools.ok("update_task", task_id="water", active_hours="")["active_hours"] is None
    assert tools.ok("pause_task", task_id="water")["status"] == "paused"
    assert tools.ok("list_tasks", status="active") == [] and len(tools.ok("list_tasks")) == 1
    assert tools.ok("resume_task", task_id="water")["status"] == "active"
    extra = tools.ok("run_task_now", task_id="water")
    assert set(extra) == {"id"} and host.row(extra["id"]).is_extra and host.row(extra["id"]).series_id == made.id

    host.make_due(extra["id"])
    task_runner = host.runner("a", "r-a2")
    assert [item.id for item in task_runner.claim(limit=1, wait_s=0).items] == [extra["id"]]
    task_runner.report(RunResult(id=extra["id"], attempt=1, outcome="completed", started_at=utcnow()))
    [run] = tools.ok("get_task_runs", task_id="water", limit=5)
    assert set(run) == {"attempt", "outcome", "started_at", "error"} and run["outcome"] == "completed"
    assert tools.ok("get_task", task_id="water")["runs"] == 1

    cancelled = tools.ok("cancel_task", task_id="water")
    assert cancelled["status"] == "cancelled" and tools.ok("list_tasks") == []
    assert [task["series_id"] for task in tools.ok("list_tasks", status="ended")] == [made.series_id]
    assert {row.created_by for row in host.tasks()} == {"api"}  # acting on a task does not rewrite who made it


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("get_task", {}),
        ("get_task_runs", {}),
        ("update_task", {"prompt": "hijacked"}),
        ("update_task", {"every": "1d"}),
        ("pause_task", {}),
        ("resume_task", {}),
        ("cancel_task", {}),
        ("run_task_now", {}),
    ],
)
def test_another_sessions_task_does_not_exist_for_the_task_tools(host: Host, name: str, extra: dict[str, Any]) -> None:
    theirs = host.inbox.schedule("their task", every="1h", session="b", name="theirs")
    tools = working_on_chat(host)
    before = [(row.id, row.status, row.content, row.process_after, row.recurrence) for row in host.rows()]

    for ident in (theirs.series_id, theirs.series_id[:10], "theirs", "nonexistent"):
        answer = tools(name, task_id=ident, **extra)
        assert not answer.ok and answer.error == f"task_id: no task {ident!r} {NOT_HERE}"

    assert [(row.id, row.status, row.content, row.process_after, row.recurrence) for row in host.rows()] == before
    assert tools.ok("list_tasks", status="all") == []


def test_a_name_used_in_two_sessions_means_this_sessions_task(host: Host) -> None:
    host.inbox.schedule("theirs", every="1h", session="b", name="daily")
    mine = host.inbox.schedule("mine", every="1h", session="a", name="daily")
    tools = working_on_chat(host)

    assert tools.ok("pause_task", task_id="daily")["series_id"] == mine.series_id
    assert [row.status for row in host.tasks()] == ["pending", "paused"]


@pytest.mark.parametrize("limits", [AgentLimits(max_live_tasks=2)])
def test_at_most_max_live_tasks_per_session(host: Host) -> None:
    tools = working_on_chat(host)
    first = tools.ok("schedule_task", prompt="one", at="1h")
    tools.ok("schedule_task", prompt="two", every="1d")
    elsewhere = working_on_chat(host, "b", "r-b")
    elsewhere.ok("schedule_task", prompt="in b", at="1h")  # the limit is per session

    refused = tools("schedule_task", prompt="three", at="2h")

    assert not refused.ok and refused.error is not None
    assert refused.error.startswith("session: ") and "INBOX_AGENT_MAX_TASKS=2" in refused.error
    assert len([row for row in host.tasks() if row.session == "a"]) == 2
    tools.ok("cancel_task", task_id=first["id"])
    assert tools.ok("schedule_task", prompt="three", at="2h")["id"]  # an ended task no longer counts


@pytest.mark.parametrize(
    ("schedule", "field_name"),
    [
        ({"every": "1m"}, "every"),
        ({"every": "4m59s"}, "every"),
        ({"cron": "* * * * *"}, "cron"),
        ({"cron": "*/2 * * * *"}, "cron"),
        ({"cron": "0,1 9 * * *"}, "cron"),  # hours apart on average, one minute at its most frequent
    ],
)
def test_an_agent_may_not_set_a_schedule_more_frequent_than_min_interval(
    host: Host, schedule: dict[str, str], field_name: str
) -> None:
    made = host.inbox.schedule("hourly", every="1h", session="a")
    tools = working_on_chat(host)

    refused = tools("schedule_task", prompt="poll", **schedule)
    changed = tools("update_task", task_id=made.id, **schedule)

    for answer in (refused, changed):
        assert not answer.ok and answer.error is not None
        assert answer.error.startswith(f"{field_name}: ") and "INBOX_AGENT_MIN_INTERVAL" in answer.error
        assert "5m" in answer.error
    assert [(row.id, row.recurrence) for row in host.tasks()] == [(made.id, "every 1h")]
    assert tools.ok("schedule_task", prompt="poll", every="5m")["schedule"] == "every 5m"
    assert tools.ok("update_task", task_id=made.id, cron="*/10 * * * *")["schedule"] == "cron */10 * * * *"


def test_an_unattended_run_may_schedule_a_one_shot_but_nothing_recurring(host: Host) -> None:
    tools = working_on_task_run(host)
    later = host.inbox.schedule("later", at="2030-01-01T09:00", session="a")
    before = [(row.id, row.recurrence) for row in host.tasks()]

    for answer in (
        tools("schedule_task", prompt="again", every="1d"),
        tools("schedule_task", prompt="again", cron="0 9 * * *"),
        tools("update_task", task_id=later.id, cron="0 9 * * *"),
    ):
        assert not answer.ok and answer.error is not None
        assert "INBOX_AGENT_UNATTENDED_RECURRING" in answer.error, answer.error
    assert [(row.id, row.recurrence) for row in host.tasks()] == before

    once = tools.ok("schedule_task", prompt="follow up", at="3h")
    assert host.row(once["id"]).recurrence is None and host.row(once["id"]).created_by == "agent:a"


def test_an_unattended_run_in_an_allowed_session_may_schedule_recurring_tasks(host: Host) -> None:
    tools = working_on_task_run(host, "trusted", "r-t")

    made = tools.ok("schedule_task", prompt="again", every="1d")

    assert host.row(made["id"]).created_by == "agent:trusted"


def test_send_message_posts_one_reply_to_the_outbox(host: Host) -> None:
    tools = working_on_chat(host)

    sent = tools.ok("send_message", text="On it: I will check every morning.")

    [out] = host.outbox()
    assert sent == {"id": out.id}
    assert (out.session, out.kind, out.text, out.in_reply_to) == (
        "a",
        "reply",
        "On it: I will check every morning.",
        tools.message_id,
    )


def test_tools_act_only_for_a_row_this_runner_holds(host: Host) -> None:
    theirs = working_on_chat(host, "b", "r-b")
    mine = working_on_chat(host)
    queued = host.inbox.send("later", session="a", in_="1h")
    other_runner = host.runner("a", "r-a2")
    before = ([(row.id, row.status) for row in host.rows()], host.outbox())

    def send(client: HostClient, message_id: str) -> Callable[[], object]:
        request = ToolRequest(name="send_message", arguments={"text": "hi"}, message_id=message_id)
        return lambda: client.tool(request)

    assert status_of(send(mine.client, theirs.message_id)) == 403  # another session's row
    assert status_of(send(mine.client, "01J0000000000000000000NONE")) == 403
    assert status_of(send(mine.client, queued.id)) == 409  # its session's, but not claimed
    assert status_of(send(other_runner, mine.message_id)) == 409  # claimed by another runner of the session
    mine.client.report(RunResult(id=mine.message_id, attempt=1, outcome="completed", started_at=utcnow()))
    assert status_of(send(mine.client, mine.message_id)) == 409  # its work on the row is over
    host.state.runner_tokens.revoke_owner("r-b")
    assert status_of(send(theirs.client, theirs.message_id)) == 401

    rows = [(row.id, row.status) for row in host.rows()]
    assert rows == [(r, "completed" if r == mine.message_id else s) for r, s in before[0]]
    assert host.outbox() == before[1] == []


def test_an_agent_may_keep_a_task_in_the_outbox_or_use_its_sessions_channel_but_no_other(host: Host) -> None:
    host.inbox.add_channel("my-phone", command="true")
    host.inbox.add_channel("someone-elses-phone", command="true")
    host.inbox.set_session("a", deliver="my-phone")
    host.inbox.set_session("b", deliver="someone-elses-phone")
    tools = working_on_chat(host)

    refused = tools("schedule_task", prompt="leak it", at="1h", deliver="someone-elses-phone")
    assert not refused.ok and refused.error is not None and refused.error.startswith("deliver: ")
    assert "not this conversation's channel" in refused.error and host.tasks() == []
    quiet = tools.ok("schedule_task", prompt="quietly", at="1h", deliver="none")
    own = tools.ok("schedule_task", prompt="to my phone", at="2h", deliver="my-phone")
    assert {row.id: row.deliver for row in host.tasks()} == {quiet["id"]: "none", own["id"]: "my-phone"}
    moved = tools("update_task", task_id=quiet["id"], deliver="someone-elses-phone")
    assert not moved.ok and moved.error is not None and moved.error.startswith("deliver: ")
    tools.ok("update_task", task_id=quiet["id"], deliver="")
    assert host.row(quiet["id"]).deliver is None  # back to its session's channel


def test_an_agents_messages_go_to_its_sessions_channel(host: Host) -> None:
    host.inbox.add_channel("my-phone", command="true")
    host.inbox.set_session("a", deliver="my-phone")
    tools = working_on_chat(host)
    tools.ok("send_message", text="On it.")
    [out] = host.outbox()
    assert (out.channel, out.delivery, out.attempts) == ("my-phone", "pending", 0)


def test_the_agents_changes_are_recorded_as_its_session_and_it_cannot_name_another_actor(host: Host) -> None:
    tools = working_on_chat(host)
    made = tools.ok("schedule_task", prompt="stretch", every="1h")
    tools.ok("pause_task", task_id=made["id"])

    forged = [
        tools("schedule_task", prompt="x", every="1h", actor="cli"),
        tools("schedule_task", prompt="x", every="1h", created_by="cli"),
        tools("update_task", task_id=made["id"], prompt="y", actor="token:admin"),
        tools("schedule_task", prompt="too often", every="1m"),  # refused by the limits
    ]

    assert [answer.ok for answer in forged] == [False] * 4
    entries = host.inbox.audit()
    assert [(e.actor, e.action, e.subject, e.session) for e in reversed(entries)] == [
        ("agent:a", "task.create", made["series_id"], "a"),
        ("agent:a", "task.pause", made["series_id"], "a"),
    ]
