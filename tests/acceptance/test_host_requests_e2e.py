"""http tasks without a pre-script are run by the host itself (docs/kinds.md), through a real ``inbox serve`` and
``inbox sweep --once`` on the process runtime, on both stores, against a loopback receiver."""

from __future__ import annotations

import subprocess
import time

import pytest
from sqlmodel import select

from inbox.store.engine import transaction
from inbox.store.models import Run
from tests.acceptance.receiver import Receiver
from tests.acceptance.served import Served

pytestmark = pytest.mark.slow
WAIT_S = 90.0  # a host's start on a loaded machine takes most of it; nothing here is a timing assertion


def test_an_http_backlog_starts_no_runner(served: Served, receiver: Receiver) -> None:
    host = served.start_host()
    tasks = [
        served.inbox.schedule(f"ping {i}", in_="1s", session=f"s{i % 3}", do="http", with_={"url": receiver.url("/ok")})
        for i in range(12)
    ]
    for task in tasks:
        (run,) = served.wait_for_runs(task.series_id, 1, timeout_s=WAIT_S)
        assert run.outcome == "completed"
    with transaction(served.inbox.engine) as db:
        runners = set(db.exec(select(Run.runner)).all())
    [runner] = runners
    assert runner is not None and runner.endswith("/http")  # the host's own lease owner: HOST_ID/http
    assert len(receiver.requests) == 12
    assert served.runner_pids(host) == []
    assert "started runner" not in served.log_text()


def test_sweep_once_runs_them_and_waits_for_them(served: Served, receiver: Receiver) -> None:
    slow = served.inbox.schedule("slow", in_="1s", do="http", with_={"url": receiver.url("/slow")})
    missing = served.inbox.schedule("missing", in_="1s", do="http", with_={"url": receiver.url("/missing")})
    time.sleep(1.5)  # both due
    done = subprocess.run(
        ["inbox", "sweep", "--once"], env=served.env, capture_output=True, text=True, timeout=WAIT_S, check=False
    )
    assert done.returncode == 0, done.stderr
    assert [r.outcome for r in served.runs(slow.series_id)] == ["silent"]  # waited for, not left running
    assert [r.outcome for r in served.runs(missing.series_id)] == ["failed"]
    assert "2 runs (1 failed, 1 silent)" in done.stdout + done.stderr
