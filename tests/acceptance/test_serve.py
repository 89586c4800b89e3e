"""Real ``inbox serve`` processes delivering reminders on time, exactly once per slot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _env(home: Path, store_url: str, backend: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TZ", "INBOX_TZ", "INBOX_DATABASE_URL")}
    env.update(INBOX_HOME=str(home), INBOX_TZ="UTC")
    if backend == "postgres":
        env["INBOX_DATABASE_URL"] = store_url
    return env


def _inbox(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["inbox", *args], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def serve_env(home: Path, store_url: str, backend: str) -> dict[str, str]:
    env = _env(home, store_url, backend)
    _inbox(env, "doctor")  # creates the schema before the hosts race to
    return env


@pytest.fixture
def hosts(serve_env: dict[str, str]) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _stop(hosts: list[subprocess.Popen[str]]) -> None:
    """Stop the hosts before reading results, so nothing lands between two reads."""
    for process in hosts:
        process.send_signal(signal.SIGTERM)
    for process in hosts:
        process.wait(timeout=10)


def _start(env: dict[str, str], hosts: list[subprocess.Popen[str]]) -> None:
    hosts.append(
        subprocess.Popen(
            ["inbox", "serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    )


def _outbox(env: dict[str, str]) -> list[dict[str, str]]:
    return list(json.loads(_inbox(env, "outbox", "--json", "--limit", "1000")))


def _live_rows(env: dict[str, str], series_id: str) -> int:
    shown = json.loads(_inbox(env, "show", series_id, "--json"))
    return 1 if shown["task"]["status"] in ("active", "running", "paused") else 0


def test_a_reminder_every_two_seconds_is_delivered_once_per_slot(
    serve_env: dict[str, str], hosts: list[subprocess.Popen[str]]
) -> None:
    made = json.loads(_inbox(serve_env, "schedule", "drink water", "--every", "2s", "--remind", "--json"))
    _start(serve_env, hosts)
    deadline = time.monotonic() + 60  # wait for three slots, however slowly the host starts
    while len(_outbox(serve_env)) < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    _stop(hosts)
    delivered = _outbox(serve_env)
    runs = json.loads(_inbox(serve_env, "runs", made["series_id"], "--json", "--limit", "100"))
    assert len(delivered) >= 3 and len(runs) == len(delivered)
    assert len({d["in_reply_to"] for d in delivered}) == len(delivered)  # one delivery per occurrence
    assert {d["text"] for d in delivered} == {"drink water"}
    assert all(r["outcome"] == "completed" for r in runs)
    assert _live_rows(serve_env, made["series_id"]) == 1


def test_two_hosts_on_one_store_never_deliver_a_slot_twice(
    serve_env: dict[str, str], hosts: list[subprocess.Popen[str]]
) -> None:
    series = [
        json.loads(_inbox(serve_env, "schedule", f"r{i}", "--every", "1s", "--remind", "--json"))["series_id"]
        for i in range(5)
    ]
    _start(serve_env, hosts)
    _start(serve_env, hosts)
    deadline = time.monotonic() + 60  # hosts start slowly on a loaded machine: wait for the deliveries, not a time
    while len(_outbox(serve_env)) < 5 * 4 and time.monotonic() < deadline:
        time.sleep(0.5)
    _stop(hosts)
    delivered = _outbox(serve_env)
    per_slot = Counter((d["series_id"], d["in_reply_to"]) for d in delivered)
    assert len(delivered) >= 5 * 4
    assert max(per_slot.values()) == 1  # each occurrence delivered exactly once
    assert all(_live_rows(serve_env, s) == 1 for s in series)


def test_a_message_sent_while_serving_is_noticed_at_once(
    serve_env: dict[str, str], hosts: list[subprocess.Popen[str]]
) -> None:
    _start(serve_env, hosts)
    time.sleep(1.5)  # the host is asleep with its 60 s safety-net interval
    _inbox(serve_env, "schedule", "now please", "--in", "1s", "--remind")
    time.sleep(3.0)
    assert [d["text"] for d in _outbox(serve_env)] == ["now please"]
