"""A worker package registered through the ``inbox.workers`` entry points, installed from its wheel with pip (no
index), listed by ``inbox workers`` and run end to end by a real host: on the process runtime on both stores, and
in a container whose runner image was built with the wheel (``inbox runner build --wheels``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inbox.errors import InvalidInput
from tests.acceptance.receiver import receiving
from tests.acceptance.served import Served, serving
from tests.worker_wheel import build_worker_wheel

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 90.0
IMAGE = os.environ.get("INBOX_TEST_WORKER_IMAGE", "")  # a runner image built with the test worker's wheel


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test worker installed by pip from its wheel into a folder this process and the host import from."""
    target = tmp_path / "site"
    wheel = build_worker_wheel(tmp_path)
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target", str(target)]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=120)
    monkeypatch.syspath_prepend(str(target))
    return target


def _with_worker(served: Served, target: Path) -> None:
    served.env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(target)])


def _outcome_and_text(served: Served, series_id: str) -> tuple[list[str], list[str]]:
    runs = served.wait_for_runs(series_id, 1, timeout_s=WAIT_S)
    texts = [i.text for i in served.inbox.outbox(limit=100) if i.series_id == series_id and i.kind != "system"]
    return [f"{r.outcome}: {r.error or ''}".rstrip(": ") for r in runs], texts


def test_inbox_workers_lists_every_kind_with_the_schema_of_its_input(served: Served, installed: Path) -> None:
    _with_worker(served, installed)
    done = subprocess.run(["inbox", "workers", "--json"], env=served.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    kinds: dict[str, Any] = {kind["name"]: kind for kind in json.loads(done.stdout)}
    assert list(kinds)[:4] == ["agent", "remind", "http", "command"]
    assert set(kinds["count-words"]["input_schema"]["properties"]) == {"text", "steps"}
    assert kinds["count-words"]["description"] == "Count the words of a text."
    assert kinds["broken-worker"]["problem"] == "is not a Worker(input=<pydantic model>, run=<function>)"


def test_a_worker_runs_in_the_runner_reports_progress_and_delivers_its_text(served: Served, installed: Path) -> None:
    _with_worker(served, installed)
    served.start_host()
    task = served.inbox.schedule("count", in_="1s", do="count-words", with_={"text": "one two three", "steps": 3})
    outcomes, texts = _outcome_and_text(served, task.series_id)
    assert outcomes == ["completed"]
    assert served.wait_for("the text", lambda: texts or _outcome_and_text(served, task.series_id)[1]) == [
        f"3 words (session main, event none, run {task.id})"
    ]
    progress = served.inbox.get(task.series_id).progress
    assert progress is not None and (progress["fraction"], progress["note"]) == (1.0, "step 3 of 3")
    shown = subprocess.run(["inbox", "show", task.series_id], env=served.env, capture_output=True, text=True)
    assert re.search(r"^  progress: +100% step 3 of 3 ", shown.stdout, re.MULTILINE), shown.stdout
    assert served.fake.requests == []


def test_a_workers_input_is_checked_by_its_model_when_the_task_is_made(served: Served, installed: Path) -> None:
    for given, field in [({"text": ""}, "with.text"), ({"text": "a", "steps": 11}, "with.steps"), ({}, "with.text")]:
        with pytest.raises(InvalidInput) as refused:
            served.inbox.schedule("x", in_="1h", do="count-words", with_=given)
        assert refused.value.field == field
    with pytest.raises(InvalidInput, match="is not a Worker"):
        served.inbox.schedule("x", in_="1h", do="broken-worker")
    assert served.inbox.tasks(status="all") == []


@pytest.fixture
def boxed(home: Path, installed: Path) -> Iterator[Served]:
    if not IMAGE:
        pytest.skip("set INBOX_TEST_WORKER_IMAGE to a runner image built with the test worker's wheel")
    with serving(home, None) as served:
        served.env.update(INBOX_RUNTIME="docker", INBOX_RUNNER_IMAGE=IMAGE, INBOX_RUNNER_IDLE="30")
        yield served
        served.stop_hosts()


@pytest.mark.container
def test_a_worker_and_an_agent_written_command_run_in_the_container(boxed: Served) -> None:
    boxed.start_host()
    counted = boxed.inbox.schedule("count", in_="1s", do="count-words", with_={"text": "a b", "steps": 1})
    agent = boxed.inbox.acting_as("agent:main")
    command = agent.schedule("who", in_="1s", do="command", with_={"argv": ["sh", "-c", "echo in $HOME as $(id -u)"]})
    assert _outcome_and_text(boxed, counted.series_id)[0] == ["completed"]
    assert _outcome_and_text(boxed, command.series_id)[0] == ["completed"]
    texts = boxed.wait_for(
        "both texts", lambda: [t for s in (counted, command) for t in _outcome_and_text(boxed, s.series_id)[1]]
    )
    assert texts == [f"2 words (session main, event none, run {counted.id})", "in /workspace as 10001"]


@pytest.mark.container
def test_an_http_task_of_a_container_runner_is_made_by_the_host(boxed: Served) -> None:
    with receiving() as receiver:
        boxed.start_host()
        task = boxed.inbox.schedule("ping", in_="1s", do="http", with_={"url": receiver.url("/ok"), "body": "hi"})
        assert _outcome_and_text(boxed, task.series_id)[0] == ["completed"]
        assert boxed.wait_for("the answer", lambda: _outcome_and_text(boxed, task.series_id)[1]) == ["pong"]
        assert [(r.method, r.body) for r in receiver.requests] == [("POST", b"hi")]
