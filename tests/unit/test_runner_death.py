"""What a runner leaves behind when it dies: the programs it started die with it (agent_runner.processes), and the
host hands a dead runner's attempts back only once the requests it asked for have ended (sweeper.http.requests_held).
Real processes and threads, no mocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sweeper.http.requests_held import RequestsHeld, RunnerGone

# A runner's stand-in: runs one command the way a runner does (in a worker thread), which writes a file after 1.5 s.
RUNNER = """
import sys, threading
from agent_runner.processes import run_process
argv = ["sh", "-c", "echo started > $0.started; sleep 1.5; echo done > $0", sys.argv[1]]
worker = threading.Thread(target=run_process, args=(argv,), kwargs={"timeout_s": 10})
worker.start()
worker.join()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
def test_a_command_dies_with_its_runner_killed_mid_run(tmp_path: Path) -> None:
    marker = tmp_path / "side-effect"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(marker)], env=env)
    deadline = time.monotonic() + 10
    while not marker.with_suffix(".started").exists():
        assert time.monotonic() < deadline and runner.poll() is None, "the command never started"
        time.sleep(0.02)
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=10)
    time.sleep(2.5)  # the command would have written its file by now
    assert not marker.exists(), "the command went on after its runner was killed"


def test_a_command_whose_runner_lives_runs_to_its_end(tmp_path: Path) -> None:
    marker = tmp_path / "side-effect"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", RUNNER, str(marker)], env=env, timeout=20)
    assert done.returncode == 0 and marker.read_text() == "done\n"


def test_a_dead_runners_rows_wait_for_its_request_under_way() -> None:
    held = RequestsHeld()
    ended: list[str] = []

    def request() -> None:
        with held.making("host/p1"):
            time.sleep(0.5)
            ended.append("request")

    thread = threading.Thread(target=request)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert held.close("host/p1", timeout_s=5)
    ended.append("closed")
    assert ended == ["request", "closed"] and time.monotonic() - started >= 0.3
    with pytest.raises(RunnerGone), held.making("host/p1"):  # nothing of it starts once it is closed
        pass
    with held.making("host/p2"):  # another runner's requests go on
        assert not held.close("host/p2", timeout_s=0.1)  # one under way outlasts the wait
    thread.join()
