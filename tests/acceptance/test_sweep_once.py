"""Cron mode: ``inbox sweep --once`` as a crontab line runs it, one complete pass that then exits.

Real ``inbox sweep --once`` subprocesses with process runners on one store, answering through the fake model
server; reads go through the Python API.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from inbox import Inbox
from inbox.store.engine import transaction
from inbox.store.models import Run
from scripts.fake_provider.server import RecordedRequest, ScriptedReply
from tests.acceptance.served import Served

pytestmark = pytest.mark.slow
PASS_TIMEOUT_S = 60


def _echo(delay_s: float = 0.0) -> Callable[[RecordedRequest], ScriptedReply]:
    """Each model call answered with the text it was asked about, so replies can be matched to their rows."""

    def answer(request: RecordedRequest) -> ScriptedReply:
        asked = str(request.json["messages"][-1]["content"])
        return ScriptedReply(f"answer to: {asked}", delay_s=delay_s)

    return answer


def _start_pass(served: Served, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["inbox", "sweep", "--once", *args],
        env={**served.env, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _sweep(served: Served, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    process = _start_pass(served, *args, **env)
    out, err = process.communicate(timeout=PASS_TIMEOUT_S)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _runners_under(home: Path) -> list[int]:
    """Runner processes still working in this home's session folders."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and b"agent_runner" in (entry / "cmdline").read_bytes()
                and (entry / "cwd").resolve().is_relative_to(home)
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _all_runs(served: Served) -> list[Run]:
    with transaction(served.inbox.engine) as db:
        return list(db.exec(select(Run)).all())


def test_one_pass_runs_the_due_task_and_chat_message_and_writes_the_follow_up(served: Served) -> None:
    served.fake.respond_with(_echo())
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1, seconds=1)
    with Inbox(served.inbox.url, env=served.env, clock=lambda: an_hour_ago) as earlier:
        task = earlier.schedule("check my pull requests", every="1h")  # its first slot was a second ago
    chat = served.inbox.send("what is on today?")
    reminder = served.inbox.schedule("take the bins out", in_="1s", remind=True)
    time.sleep(1.1)  # the reminder comes due

    done = _sweep(served, "--runtime", "process")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "swept: 1 reminders delivered, 2 runs (2 completed), 0 recovered"
    assert done.stderr == ""  # cron mails whatever a job prints: nothing went wrong, nothing on stderr
    delivered = {(o.in_reply_to, o.kind, o.text) for o in served.inbox.outbox()}
    assert delivered == {
        (task.series_id, "reply", "answer to: check my pull requests"),
        (chat.id, "reply", "answer to: what is on today?"),
        (reminder.series_id, "reminder", "take the bins out"),
    }
    assert [r.outcome for r in served.runs(task.series_id)] == ["completed"]
    follow_up = served.live_rows(task.series_id)  # the next occurrence, an hour on
    assert [(r.status, r.id != task.series_id) for r in follow_up] == [("pending", True)]
    assert (follow_up[0].process_after - datetime.now(UTC)).total_seconds() > 3000
    assert _runners_under(served.home) == []  # the pass waited for its runners to end

    again = _sweep(served, "--json", INBOX_RUNTIME="process")  # nothing more is due: nothing runs twice
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) | {"outcomes": None} == {
        "recovered": 0,
        "delivered": 0,
        "sent": 0,
        "send_failures": 0,
        "runs": 0,
        "outcomes": None,
        "start_failures": [],
        "runner_deaths": [],
    }
    assert len(served.fake.requests) == 2


def test_a_runner_that_cannot_be_started_fails_the_pass_with_one_line(served_sqlite: Served) -> None:
    served = served_sqlite
    task = served.inbox.schedule("summarize my mail", in_="1s")
    reminder = served.inbox.schedule("stretch", in_="1s", remind=True)
    time.sleep(1.1)
    (served.home / "sessions").write_text("not a folder")  # no workspace can be made for the runner

    done = _sweep(served, "--runtime", "process")

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not start a runner for session main" in lines[0], done.stderr
    assert "runners not started for: main" in done.stdout
    assert [o.in_reply_to for o in served.inbox.outbox()] == [reminder.series_id]  # the rest of the pass ran
    assert served.runs(task.series_id) == []
    assert served.inbox.get(task.series_id).status == "active"  # still due: the next pass tries again


def test_the_docker_runtime_asked_for_but_unavailable_fails_the_pass(served_sqlite: Served) -> None:
    done = _sweep(served_sqlite, INBOX_RUNTIME="docker", INBOX_RUNNER_IMAGE="inbox-runner:no-such-tag")
    assert done.returncode == 1
    assert done.stderr.startswith("inbox sweep: the docker runtime cannot start") and "Traceback" not in done.stderr


def test_overlapping_passes_run_each_due_occurrence_once(served: Served) -> None:
    served.fake.respond_with(_echo(delay_s=1.0))  # long enough for the two passes to overlap
    made = [served.inbox.schedule(f"task {n}", in_="1s", session=f"s{n % 2}").series_id for n in range(4)]
    made += [served.inbox.send(f"message {n}", session=f"s{n}").id for n in range(2)]
    time.sleep(1.1)

    passes = [_start_pass(served, "--json", INBOX_RUNTIME="process") for _ in range(2)]
    outputs = [p.communicate(timeout=PASS_TIMEOUT_S) for p in passes]

    assert [p.returncode for p in passes] == [0, 0], [err for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    assert sum(r["runs"] for r in reports) == len(made)  # between them, every occurrence ran, once
    runs = Counter(r.message_id for r in _all_runs(served))
    assert runs == Counter(made)
    replies = Counter(o.in_reply_to for o in served.inbox.outbox(limit=100))
    assert replies == Counter(made)
    assert len(served.fake.requests) == len(made)


def test_a_run_longer_than_the_lease_completes_in_one_pass(served_sqlite: Served) -> None:
    served = served_sqlite  # leases of 2 s: the runner must renew them from its first claim on
    served.fake.respond_with(_echo(delay_s=3.0))
    chat = served.inbox.send("a long question")

    done = _sweep(served, "--runtime", "process")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "swept: 0 reminders delivered, 1 run (1 completed), 0 recovered"
    assert [(o.in_reply_to, o.text) for o in served.inbox.outbox()] == [(chat.id, "answer to: a long question")]
