"""The MCP server's tools as its handler applies them (``inbox.mcp.tools.call``), on every store backend.

The SDK's own client over both transports is in tests/acceptance/test_mcp.py; here each tool's rules are checked
one by one, with a clock the test moves: what they write carries ``created_by="mcp"``, ``session`` scopes every
call, and a refusal names the argument and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from inbox import Inbox
from inbox.enums import OutboxKind
from inbox.mcp.server import acting_inbox
from inbox.mcp.tools import BY_NAME, TOOLS, Refusal, call
from inbox.store.endings import post_outbox
from inbox.store.engine import transaction
from inbox.task_fields import NewTask, TaskChange, spelled
from tests.conftest import Clock
from tests.fuzz.store_state import store_state

AGENT_TOOLS = {"schedule_task", "list_tasks", "get_task", "get_task_runs", "update_task", "pause_task"}
AGENT_TOOLS |= {"resume_task", "cancel_task", "run_task_now", "send_message", "emit_event"}


@pytest.fixture
def mcp(inbox: Inbox) -> Iterator[Inbox]:
    yield acting_inbox(inbox)


def use(mcp: Inbox, tool: str, **arguments: Any) -> Any:
    return call(mcp, tool, arguments)


def refused(mcp: Inbox, tool: str, **arguments: Any) -> str:
    before = store_state(mcp.engine)
    with pytest.raises(Refusal) as caught:
        call(mcp, tool, arguments)
    assert store_state(mcp.engine) == before, f"{tool} {arguments}: a refused call wrote to the store"
    return str(caught.value)


def test_the_tools_are_the_agents_plus_read_outbox_and_each_takes_a_session() -> None:
    assert {tool.name for tool in TOOLS} == AGENT_TOOLS | {"read_outbox"}
    for tool in TOOLS:
        schema = tool.input_schema
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert schema["properties"]["session"]["type"] == "string", tool.name


def test_the_task_tools_show_every_field_of_the_one_task_model() -> None:
    """A field added to NewTask or TaskChange reaches the MCP tools without a second copy of it."""
    scheduled = set(BY_NAME["schedule_task"].input_schema["properties"])
    assert scheduled == {spelled(NewTask, f) for f in NewTask.model_fields} - {"in", "tz"} | {"timezone"}
    assert BY_NAME["schedule_task"].input_schema["required"] == ["prompt"]
    changed = set(BY_NAME["update_task"].input_schema["properties"])
    assert changed == {"task_id", "session", "timezone"} | {spelled(TaskChange, f) for f in TaskChange.model_fields} - {
        "tz"
    }
    described = BY_NAME["schedule_task"].input_schema["properties"]["cron"]["description"]
    assert described == NewTask.model_fields["cron"].description


def test_schedule_list_get_pause_resume_cancel_and_created_by_mcp(mcp: Inbox, inbox: Inbox) -> None:
    made = use(mcp, "schedule_task", prompt="Stand-up notes", cron="0 9 * * 1-5", name="standup", timezone="UTC")
    assert made["session"] == "main" and made["schedule"] == "cron 0 9 * * 1-5" and len(made["next_runs"]) == 3
    assert inbox.get(made["id"]).created_by == "mcp"
    listed = use(mcp, "list_tasks")
    assert [task["series_id"] for task in listed] == [made["series_id"]]
    assert use(mcp, "get_task", task_id="standup")["prompt"] == "Stand-up notes"
    assert use(mcp, "pause_task", task_id=made["id"])["status"] == "paused"
    assert [task["status"] for task in use(mcp, "list_tasks", status="paused")] == ["paused"]
    assert use(mcp, "resume_task", task_id=made["id"][:8])["status"] == "active"
    assert use(mcp, "cancel_task", task_id="standup")["status"] == "cancelled"
    assert use(mcp, "list_tasks") == []
    assert [task["status"] for task in use(mcp, "list_tasks", status="all")] == ["cancelled"]


def test_session_scopes_every_call(mcp: Inbox, inbox: Inbox) -> None:
    work = use(mcp, "schedule_task", prompt="work thing", every="2h", session="work", name="same")
    home = use(mcp, "schedule_task", prompt="home thing", every="3h", name="same")
    assert [t["series_id"] for t in use(mcp, "list_tasks", session="work")] == [work["series_id"]]
    assert [t["series_id"] for t in use(mcp, "list_tasks")] == [home["series_id"]]
    # a name finds the task of the session asked about; an id of another session's task finds nothing
    assert use(mcp, "get_task", task_id="same", session="work")["prompt"] == "work thing"
    assert use(mcp, "get_task", task_id="same")["prompt"] == "home thing"
    message = refused(mcp, "cancel_task", task_id=work["id"])
    assert message == f"task_id: no task {work['id']!r} in session 'main'"
    assert inbox.get(work["id"]).status == "active"
    assert use(mcp, "cancel_task", task_id=work["id"], session="work")["status"] == "cancelled"


def test_update_takes_a_duration_for_at_and_run_now_and_runs(mcp: Inbox, inbox: Inbox, clock: Clock) -> None:
    made = use(mcp, "schedule_task", prompt="later", at="2h", timezone="Asia/Kolkata")
    assert made["next_runs"] == ["2026-06-01T19:30:00+05:30"]  # 14:00 UTC in the task's zone
    changed = use(mcp, "update_task", task_id=made["id"], at="30m", prompt="sooner")
    assert changed["next_run"] == "2026-06-01T12:30:00+00:00" and changed["prompt"] == "sooner"
    extra = use(mcp, "run_task_now", task_id=made["id"])
    assert extra["kind"] == "task" and extra["status"] == "pending"
    assert use(mcp, "get_task_runs", task_id=made["id"], limit=5) == []
    assert inbox.get(made["id"]).next_run is not None  # the schedule did not move


def test_send_message_and_read_outbox(mcp: Inbox, inbox: Inbox) -> None:
    sent = use(mcp, "send_message", text="What is on today?", session="chat")
    assert sent["kind"] == "chat" and sent["created_by"] == "mcp"
    assert inbox.message(sent["id"]).created_by == "mcp"
    with transaction(inbox.engine) as db:
        for text in ("first", "second", "third"):
            post_outbox(db, session="chat", kind=OutboxKind.REPLY, text=text, now=inbox.clock(), in_reply_to=sent["id"])
        post_outbox(db, session="main", kind=OutboxKind.REPLY, text="elsewhere", now=inbox.clock(), in_reply_to=None)
    read = use(mcp, "read_outbox", session="chat")
    assert [item["text"] for item in read] == ["first", "second", "third"]
    assert [item["text"] for item in use(mcp, "read_outbox", session="chat", after=read[0]["id"], limit=1)] == [
        "second"
    ]
    assert [item["text"] for item in use(mcp, "read_outbox")] == ["elsewhere"]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("schedule_task", {"prompt": "x", "cron": "61 * * * *"}, "cron: '61 * * * *' is not a valid cron expression"),
        ("schedule_task", {"prompt": "x", "every": "1h", "colour": "red"}, "colour: is not an argument of"),
        ("schedule_task", {"prompt": "x", "every": "1h", "max_runs": "3"}, "max_runs: must be an integer, not '3'"),
        ("schedule_task", {"prompt": "x", "every": "1h", "cron": "@daily"}, "schedule: give exactly one of"),
        ("schedule_task", {"prompt": "x", "at": "2020-01-01T00:00:00"}, "at: "),
        ("schedule_task", {"prompt": "x", "every": "1h", "timezone": "Mars/Base"}, "timezone: "),
        ("schedule_task", {"prompt": "x", "every": "1h", "session": "no spaces"}, "session: "),
        ("schedule_task", {"cron": "@daily"}, "prompt: is required"),
        ("schedule_task", {"prompt": "x", "in": "2h"}, "in: is not an argument of schedule_task"),
        ("update_task", {"task_id": "nothing-here", "prompt": "y"}, "task_id: no task 'nothing-here' in session"),
        ("pause_task", {"task_id": "bad\x00id"}, "task_id: contains a NUL character"),
        ("get_task_runs", {"task_id": "x", "limit": 0}, "limit: 0 must be a whole number of at least 1"),
        ("read_outbox", {"limit": 101}, "limit: 101 is more than the limit of 100"),
        ("list_tasks", {"status": "done"}, "status: 'done' is not one of active, paused, ended, all"),
        ("send_message", {"text": "  "}, "text: must not be empty"),
        ("launch_rocket", {}, "name: unknown tool 'launch_rocket'; the tools are: schedule_task, "),
    ],
)
def test_an_invalid_call_names_the_argument_and_writes_nothing(
    mcp: Inbox, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    use(mcp, "schedule_task", prompt="already here", every="1h", name="kept")
    assert refused(mcp, tool, **arguments).startswith(expected)


def test_an_update_that_changes_nothing_or_an_ended_task_is_refused(mcp: Inbox) -> None:
    made = use(mcp, "schedule_task", prompt="x", every="1h")
    message = refused(mcp, "update_task", task_id=made["id"], session="main")
    assert message.startswith(
        "task_id: nothing to change; give prompt, cron, every, at, on, after, when, timezone, script, name, deliver, "
        "tags, priority, active_hours, do or with"
    )
    use(mcp, "cancel_task", task_id=made["id"])
    assert refused(mcp, "resume_task", task_id=made["id"]).startswith("task_id: ")
    assert use(mcp, "cancel_task", task_id=made["id"])["status"] == "cancelled"  # twice is not an error


def test_emit_event_starts_the_matching_tasks_of_every_session_or_of_one(mcp: Inbox) -> None:
    main = use(mcp, "schedule_task", prompt="sort the mail", on=["mail.*"])["series_id"]
    work = use(mcp, "schedule_task", prompt="file it", on=["mail.*"], session="work")["series_id"]
    every = use(mcp, "emit_event", name="mail.received", data={"from": "ann"})
    assert sorted(every["matched"]) == sorted([main, work]) and every["session"] is None
    assert use(mcp, "emit_event", name="mail.sent", session="work", key="k")["matched"] == [work]
    assert use(mcp, "emit_event", name="mail.sent", session="work", key="k")["duplicate"] is True
    assert refused(mcp, "emit_event", name="mail..x").startswith("name: ")
    assert refused(mcp, "emit_event", name="mail.x", session="no spaces").startswith("session: ")
