"""The runner's token out of reach of the processes it starts, as an ordinary user of the same uid sees it.

A stand-in runner (the runner's own start-up steps, standard library only) starts a shell that looks for the token
in its environment and in the runner's ``/proc`` files. Run as an unprivileged user: root reads any process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "runner-token-4f2b9c"
STAND_IN = """
import os, subprocess, sys
from agent_runner.secrecy import seal, take_token
token = take_token()
if sys.argv[1] == "sealed":
    problem = seal()
    assert problem is None, problem
me = os.getpid()
probe = (f"echo '== env'; env; echo '== environ'; tr '\\\\0' '\\\\n' < /proc/{me}/environ; "
         f"echo '== maps'; head -c 200 /proc/{me}/maps; echo '== mem'; (exec 3< /proc/{me}/mem && echo opened)")
shown = subprocess.run(["sh", "-c", probe], capture_output=True, text=True)
print(shown.stdout + shown.stderr)
"""
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the seal is Linux's PR_SET_DUMPABLE")


def _run_stand_in(mode: str) -> str:
    """The stand-in's shell output; as root, both run as nobody (65534) with the system's Python."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "INBOX_RUNNER_TOKEN": TOKEN}
    if os.geteuid() != 0:
        argv = [sys.executable, "-s", "-c", STAND_IN, mode]
        return subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=30).stdout
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        pytest.skip("running as root and no system python3 for an unprivileged user")
    argv = [python, "-s", "-c", STAND_IN, mode]
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=30, user=65534, group=65534, extra_groups=[]
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_shell_started_by_the_runner_finds_no_token() -> None:
    shown = _run_stand_in("sealed")
    assert "== mem" in shown  # the probe ran to its end
    assert TOKEN not in shown
    assert "INBOX_RUNNER_TOKEN" not in shown
    assert "opened" not in shown  # the runner's memory cannot be opened either
    assert shown.count("Permission denied") == 3  # environ, maps, mem


def test_taking_the_token_out_of_the_environment_alone_leaves_it_in_proc() -> None:
    shown = _run_stand_in("unsealed")
    env_part, _, rest = shown.partition("== environ")
    assert TOKEN not in env_part  # children no longer inherit it...
    assert f"INBOX_RUNNER_TOKEN={TOKEN}" in rest  # ...but the exec-time environment still holds it
    assert "opened" in rest
