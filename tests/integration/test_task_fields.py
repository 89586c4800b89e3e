"""A task's fields are declared once (``inbox.task_fields``): the HTTP body, the Python API and the agent's tools
take the same fields, show the same descriptions and refuse the same bad value naming the same field.

One host serves the public API and the runner routes on a unix socket, on every store backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_runner.client import HostClient
from agent_runner.conversation import ToolSpec
from agent_runner.protocol import ToolRequest
from inbox import Inbox
from inbox.errors import InvalidInput
from inbox.task_fields import NewTask
from sweeper.http.app import HostState, make_app
from sweeper.http.runner_auth import RunnerIdentity
from tests.integration.unix_server import serving_on_unix_socket

ADMIN = "admin-token"
AS_TOOL = {"tz": "timezone", "with_": "with"}  # the arguments a tool spells differently


@dataclass
class Ways:
    """Every way a task comes in: the Python API, the HTTP API, and a model's tool call during a chat."""

    inbox: Inbox
    http: httpx.Client
    runner: HostClient
    chat_id: str  # the chat line the runner holds while the model calls tools
    offered: list[ToolSpec]  # the tools the claimed item offered the model

    def tool(self, name: str, arguments: dict[str, Any]) -> str:
        answer = self.runner.tool(ToolRequest(name=name, arguments=arguments, message_id=self.chat_id))
        assert not answer.ok and answer.error is not None, answer
        return answer.error


@pytest.fixture
def ways(store_url: str, tmp_path: Path) -> Iterator[Ways]:
    inbox = Inbox(store_url, env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}, actor="api")
    state = HostState(inbox=inbox, admin_token=ADMIN)
    auth = {"Authorization": f"Bearer {ADMIN}"}
    try:
        with serving_on_unix_socket(make_app(state)) as socket_path:
            transport = httpx.HTTPTransport(uds=socket_path)
            with httpx.Client(transport=transport, base_url="http://host", headers=auth, timeout=10) as http:
                token = state.runner_tokens.issue(RunnerIdentity(session="main", owner="r-1"))
                runner = HostClient(socket_path, token, timeout_s=10)
                chat = inbox.send("remind me tomorrow please")
                [item] = runner.claim(limit=1, wait_s=0).items
                try:
                    yield Ways(inbox=inbox, http=http, runner=runner, chat_id=chat.id, offered=item.tools)
                finally:
                    runner.close()
    finally:
        inbox.close()


def test_the_schedule_task_tool_shows_exactly_the_task_models_fields_and_their_descriptions(ways: Ways) -> None:
    [shown] = [spec.parameters for spec in ways.offered if spec.name == "schedule_task"]
    fields = NewTask.model_fields
    # the fields a model may set: not the session (the host's), nor what the host decides (limits, provider)
    chosen = set(fields) - {"session", "in_", "timeout", "retries", "model", "provider"}
    assert set(shown["properties"]) == {AS_TOOL.get(name, name) for name in chosen}
    assert shown["required"] == ["prompt"] and shown["additionalProperties"] is False
    for name in chosen:
        description = shown["properties"][AS_TOOL.get(name, name)]["description"]
        assert description.startswith(fields[name].description or "-"), name  # "at" adds that it takes a duration

    document = ways.http.get("/openapi.json").json()
    body = document["components"]["schemas"]["NewTask"]["properties"]
    assert set(body) == {info.alias or name for name, info in fields.items()}
    assert all(body[info.alias or name].get("description") == info.description for name, info in fields.items())


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"cron": "61 * * * *"}, "cron"),
    ({"every": "often"}, "every"),
    ({"every": "1h", "tz": "Mars/Olympus"}, "tz"),
    ({"every": "1h", "max_runs": 0}, "max_runs"),
    ({"every": "1h", "catch_up": "sometimes"}, "catch_up"),
    ({"every": "1h", "context": "everything"}, "context"),
    ({"every": "1h", "name": "n" * 201}, "name"),
    ({"every": "1h", "script": "echo a\x00b"}, "script"),
    ({"every": "1h", "prompt": "   "}, "prompt"),
    ({"cron": "@daily", "every": "1d"}, "schedule"),
]


@pytest.mark.parametrize(("change", "field"), INVALID, ids=[field for _, field in INVALID])
def test_a_bad_value_is_refused_naming_the_same_field_by_every_way_in(
    ways: Ways, change: dict[str, Any], field: str
) -> None:
    task = {"prompt": "water the plants", **change}

    with pytest.raises(ValueError) as python:
        ways.inbox.schedule(**task)
    http = ways.http.post("/v1/tasks", json=task)
    tool = ways.tool("schedule_task", {AS_TOOL.get(key, key): value for key, value in task.items()})

    assert isinstance(python.value, InvalidInput) and python.value.field == field
    assert (http.status_code, http.json()["field"]) == (422, field), http.text
    assert tool.startswith(f"{AS_TOOL.get(field, field)}: "), tool
    reason = python.value.reason
    assert field != "schedule" or "cron, every" in reason  # the fields, never the command line's "--cron"
    assert http.json()["error"] == f"{field}: {reason}"
    if field != "schedule":  # the tool lists its own choices (no "in": its "at" takes a duration)
        assert tool == f"{AS_TOOL.get(field, field)}: {reason}"
    assert ways.inbox.tasks(status="all") == []


def test_a_change_is_refused_naming_the_same_field_by_every_way_in(ways: Ways) -> None:
    made = ways.inbox.schedule("water the plants", every="1h")
    for change, field in [({"every": "often"}, "every"), ({"tz": "Mars/Olympus"}, "tz"), ({"name": "\x00"}, "name")]:
        with pytest.raises(InvalidInput) as python:
            ways.inbox.update(made.series_id, **change)
        http = ways.http.patch(f"/v1/tasks/{made.series_id}", json=change)
        as_tool = {AS_TOOL.get(key, key): value for key, value in change.items()}
        tool = ways.tool("update_task", {"task_id": made.series_id, **as_tool})
        assert python.value.field == field
        assert (http.status_code, http.json()) == (422, {"error": f"{field}: {python.value.reason}", "field": field})
        assert tool == f"{AS_TOOL.get(field, field)}: {python.value.reason}"
    [task] = ways.inbox.tasks()
    assert (task.schedule, task.timezone, task.name) == ("every 1h", "UTC", None)
