"""Who wrote a task's script, as the host records it and tells the runner: an agent that attaches a script to a
task a person made is its author, and only the author's kind decides whether it may run without a sandbox.

The agent's tools are called over a real unix socket (as in test_agent_tools.py), on every store backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, update

from agent_runner.client import HostClient
from agent_runner.protocol import RunResult, ToolRequest, WorkItem
from agent_runner.work import Sandbox
from inbox import Inbox
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.types import utcnow
from sweeper.http.app import HostState, make_app
from sweeper.http.runner_auth import RunnerIdentity
from tests.integration.unix_server import serving_on_unix_socket

SCRIPT = "touch /tmp/owned; echo '{\"wakeAgent\": true}'"
REFUSAL = "script written by agent:a refused: no sandbox on the process runtime; set INBOX_ALLOW_UNSANDBOXED=1 to allow"


class Served:
    def __init__(self, state: HostState, socket_path: str, person: Inbox) -> None:
        self.state, self.socket_path, self.person = state, socket_path, person
        self.clients: list[HostClient] = []

    def runner(self, owner: str) -> HostClient:
        token = self.state.runner_tokens.issue(RunnerIdentity(session="a", owner=owner))
        self.clients.append(HostClient(self.socket_path, token, timeout_s=10))
        return self.clients[-1]

    def row(self, message_id: str) -> MessageIn:
        with transaction(self.person.engine) as db:
            row = db.get(MessageIn, message_id)
            assert row is not None
            return row

    def make_due(self, message_id: str) -> None:
        with transaction(self.person.engine) as db:
            stmt = update(MessageIn).where(col(MessageIn.id) == message_id)
            db.exec(stmt.values(process_after=utcnow() - timedelta(seconds=1)))

    def claim(self, message_id: str, owner: str) -> tuple[HostClient, WorkItem]:
        self.make_due(message_id)
        client = self.runner(owner)
        [item] = client.claim(limit=1, wait_s=0).items
        assert item.id == message_id
        return client, item

    def agent_updates(self, working_on: str, client: HostClient, **arguments: str) -> None:
        answer = client.tool(ToolRequest(name="update_task", arguments=arguments, message_id=working_on))
        assert answer.ok, answer.error


@pytest.fixture
def served(store_url: str, tmp_path: Path) -> Iterator[Served]:
    env = {"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}
    api = Inbox(store_url, env=env, actor="api")
    person = Inbox(store_url, env=env, actor="user", engine=api.engine)
    state = HostState(inbox=api, admin_token="admin")
    with serving_on_unix_socket(make_app(state)) as socket_path:
        host = Served(state, socket_path, person)
        try:
            yield host
        finally:
            for client in host.clients:
                client.close()
            api.close()


def test_a_script_an_agent_attaches_to_a_persons_task_is_the_agents_until_a_person_replaces_it(
    served: Served,
) -> None:
    task = served.person.schedule("check the feed", every="1h", session="a")
    chat = served.person.send("put a script on the feed task", session="a")
    agent, _ = served.claim(chat.id, "r-chat")
    served.agent_updates(chat.id, agent, task_id=task.series_id, script=SCRIPT)

    row = served.row(task.id)
    assert (row.created_by, row.script_by, row.script) == ("user", "agent:a", SCRIPT)
    assert served.person.get(task.series_id).script_by == "agent:a"
    runner, run = served.claim(task.id, "r-task")
    assert (run.created_by, run.script_by) == ("user", "agent:a")
    assert Sandbox(kind="none").refuses(run) == REFUSAL
    assert Sandbox(kind="container").refuses(run) is None
    assert Sandbox(kind="none", allow_unsandboxed=True).refuses(run) is None

    served.person.update(task.series_id, script="echo '{\"wakeAgent\": false}'")  # a pending update: it runs
    runner.report(RunResult(id=task.id, attempt=1, outcome="completed", started_at=utcnow()))
    follow_up = served.person.get(task.series_id)
    assert (follow_up.script_by, follow_up.script) == ("user", "echo '{\"wakeAgent\": false}'")
    _, next_run = served.claim(follow_up.id, "r-task-2")
    assert next_run.script_by == "user" and Sandbox(kind="none").refuses(next_run) is None


def test_an_agents_script_is_carried_to_the_follow_ups_and_run_now_rows_and_a_prompt_edit_keeps_it(
    served: Served,
) -> None:
    task = served.person.schedule("check the feed", every="1h", session="a")
    client, _ = served.claim(task.id, "r-task")
    served.agent_updates(task.id, client, task_id=task.series_id, script=SCRIPT)  # while it runs: pending
    served.person.update(task.series_id, prompt="check the feed twice")  # a person's edit of something else
    client.report(RunResult(id=task.id, attempt=1, outcome="completed", started_at=utcnow()))

    follow_up = served.person.get(task.series_id)
    assert follow_up.id != task.id
    assert (follow_up.prompt, follow_up.script, follow_up.script_by) == ("check the feed twice", SCRIPT, "agent:a")
    extra = served.person.run_now(task.series_id)
    assert served.row(extra.id).script_by == "agent:a"
    _, item = served.claim(extra.id, "r-extra")
    assert Sandbox(kind="none").refuses(item) == REFUSAL


def test_a_task_without_a_script_shows_no_author_and_a_persons_script_is_theirs(served: Served) -> None:
    task = served.person.schedule("water the ferns", in_="1h", session="a")
    assert served.person.get(task.series_id).script_by is None
    served.person.update(task.series_id, script="echo '{}'")
    assert served.person.get(task.series_id).script_by == "user"
    over_api = served.state.inbox.schedule("from the API", in_="1h", session="a", script="echo '{}'")
    assert served.state.inbox.get(over_api.series_id).script_by == "api"
