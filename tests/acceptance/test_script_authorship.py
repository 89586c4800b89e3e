"""A script the model attaches to a task a person made never runs unsandboxed: through a real ``inbox serve`` on
the process runtime, with the fake model server asking for the ``update_task`` tool call."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from scripts.fake_provider.server import RecordedRequest, ScriptedReply
from tests.acceptance.served import Served

pytestmark = pytest.mark.slow
REFUSAL = (
    "script written by agent:main refused: no sandbox on the process runtime; set INBOX_ALLOW_UNSANDBOXED=1 to allow"
)


def _inbox(served: Served, *args: str) -> str:
    done = subprocess.run(["inbox", *args], env=served.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_agent_cannot_attach_a_script_that_runs_on_the_host_until_a_person_replaces_it(
    served_sqlite: Served, tmp_path: Path
) -> None:
    served = served_sqlite
    planted, mine = tmp_path / "planted-by-the-agent", tmp_path / "written-by-the-person"
    task = served.inbox.schedule("check my mail", every="2s")  # a person's task, no script

    def model(request: RecordedRequest) -> ScriptedReply:
        messages = request.json["messages"]
        if "attach" in json.dumps(messages[-1]) and messages[-1]["role"] == "user":
            script = f"touch {planted}; echo '{{\"wakeAgent\": true}}'"
            return ScriptedReply("", tool_calls=(("update_task", {"task_id": task.series_id, "script": script}),))
        return ScriptedReply("ok")

    served.fake.respond_with(model)
    served.start_host()
    served.inbox.send("please attach a script to the mail task")

    def refused() -> list[str]:
        return [r.error or "" for r in served.runs(task.series_id) if r.outcome == "script_error"]

    assert served.wait_for("a refused run", refused)[0] == REFUSAL
    assert not planted.exists()
    assert "yes, written by agent:main" in _inbox(served, "show", task.series_id)

    script = tmp_path / "mine.sh"
    script.write_text(f"touch {mine}; echo '{{\"wakeAgent\": false}}'\n")
    _inbox(served, "update", task.series_id, "--script", str(script))
    served.wait_for("the person's script to run", mine.exists)
    shown = json.loads(_inbox(served, "show", task.series_id, "--json"))["task"]
    assert shown["script_by"] == "cli" and shown["created_by"] == "user"
    assert not planted.exists()
