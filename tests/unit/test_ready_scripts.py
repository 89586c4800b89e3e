"""The ready pre-scripts in scripts/prescripts, each run exactly as a task would run it."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent_runner.prescript import ScriptResult, ScriptVerdict, input_document, run_prescript

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "prescripts"


def run(name: str, **env: str) -> ScriptResult:
    return run_prescript((SCRIPTS / name).read_text(encoding="utf-8"), timeout_s=20, env=env)


@pytest.mark.parametrize("name", ["url_changed.py", "files_waiting.sh", "above_threshold.py"])
def test_ready_scripts_are_executable_with_a_shebang(name: str) -> None:
    path = SCRIPTS / name
    assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env ")
    assert os.access(path, os.X_OK)


# --- url_changed.py -------------------------------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    body: bytes = b"<p>version 1</p>"
    status: int = 200
    hits: int = 0


@pytest.fixture
def site() -> Iterator[Site]:
    """A web server on the loopback interface only, answering every GET with the site's current body."""
    state = Site(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits += 1
            self.send_response(state.status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/page"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Series:
    """Runs of one task: each run reads the state the one before returned, as the host hands it on."""

    def __init__(self, name: str, **env: str) -> None:
        self.name, self.env = name, env
        self.state: Any = None

    def run(self, **env: str) -> ScriptResult:
        document = input_document(state=self.state)
        result = run_prescript(
            (SCRIPTS / self.name).read_text(encoding="utf-8"), timeout_s=20, env={**self.env, **env}, stdin=document
        )
        if result.state_given:
            self.state = result.state
        return result


def test_url_changed_wakes_only_on_change(site: Site) -> None:
    task = Series("url_changed.py", URL=site.url)

    first = task.run()
    assert first.verdict == ScriptVerdict.SKIPPED, (first.reason, first.stderr_tail)
    assert '"baseline recorded"' in first.stdout_tail

    second = task.run()
    assert second.verdict == ScriptVerdict.SKIPPED, (second.reason, second.stderr_tail)
    assert '"unchanged"' in second.stdout_tail

    site.body = "<p>version 2 — é</p>".encode()
    third = task.run()
    assert third.verdict == ScriptVerdict.WAKE, (third.reason, third.stderr_tail)
    assert third.data["url"] == site.url
    assert third.data["body"] == "<p>version 2 — é</p>"
    assert third.data["old_hash"] != third.data["new_hash"]

    fourth = task.run()
    assert fourth.verdict == ScriptVerdict.SKIPPED
    assert site.hits == 4


def test_url_changed_keeps_its_hash_in_the_tasks_state_not_in_a_file(site: Site, tmp_path: Path) -> None:
    task = Series("url_changed.py", URL=site.url, HOME=str(tmp_path))
    task.run()
    assert task.state == {"url": site.url, "hash": hashlib.sha256(site.body).hexdigest()}
    assert list(tmp_path.iterdir()) == []
    other = Series("url_changed.py", URL=site.url)  # another task: a baseline of its own
    site.body = b"other"
    assert other.run().verdict == ScriptVerdict.SKIPPED
    assert task.run().verdict == ScriptVerdict.WAKE


def test_url_changed_takes_a_new_baseline_when_its_url_changes(site: Site) -> None:
    task = Series("url_changed.py", URL=site.url)
    task.run()
    site.body = b"other"
    assert task.run(URL=site.url + "?b").verdict == ScriptVerdict.SKIPPED
    assert task.state["url"] == site.url + "?b"


def test_url_changed_sends_at_most_2000_characters(site: Site) -> None:
    task = Series("url_changed.py", URL=site.url)
    task.run()
    site.body = b"x" * 5000
    result = task.run()
    assert result.verdict == ScriptVerdict.WAKE
    assert result.data["body"] == "x" * 2000


def test_url_changed_http_error_is_a_script_error(site: Site) -> None:
    task = Series("url_changed.py", URL=site.url)
    task.run()
    kept = task.state
    site.status = 404
    result = task.run()
    assert result.verdict == ScriptVerdict.SCRIPT_ERROR
    assert result.reason == "exit code 1"
    assert "HTTP 404" in result.stderr_tail
    assert not result.state_given and task.state == kept  # the state stays as it was


def test_url_changed_network_error_is_a_script_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("url_changed.py", URL=f"http://127.0.0.1:{port}/")
    assert result.verdict == ScriptVerdict.SCRIPT_ERROR
    assert result.reason == "exit code 1"
    assert "cannot fetch" in result.stderr_tail


def test_url_changed_without_url_is_a_script_error(tmp_path: Path) -> None:
    result = run("url_changed.py")
    assert result.reason == "exit code 2"
    assert "URL" in result.stderr_tail


# --- files_waiting.sh -----------------------------------------------------------------------------------------------


def test_files_waiting_empty_folder_skips(tmp_path: Path) -> None:
    (tmp_path / "subfolder").mkdir()
    (tmp_path / ".hidden").write_text("x")
    result = run("files_waiting.sh", WATCH_DIR=str(tmp_path))
    assert result.verdict == ScriptVerdict.SKIPPED, (result.reason, result.stderr_tail)


def test_files_waiting_wakes_with_the_names(tmp_path: Path) -> None:
    names = ["b.csv", "a.csv", 'odd "name"\\ with\ttab.csv', "bell\x07.csv", "notes.txt"]
    for name in names:
        (tmp_path / name).write_text("x")
    result = run("files_waiting.sh", WATCH_DIR=str(tmp_path))
    assert result.verdict == ScriptVerdict.WAKE, (result.reason, result.stderr_tail)
    assert result.data["count"] == 5
    assert result.data["files"] == sorted(names)
    assert result.data["truncated"] is False

    only_csv = run("files_waiting.sh", WATCH_DIR=str(tmp_path), PATTERN="*.csv")
    assert only_csv.data["files"] == sorted(n for n in names if n.endswith(".csv"))
    assert run("files_waiting.sh", WATCH_DIR=str(tmp_path), PATTERN="*.pdf").verdict == ScriptVerdict.SKIPPED


def test_files_waiting_lists_at_most_50(tmp_path: Path) -> None:
    for i in range(60):
        (tmp_path / f"f{i:02d}").write_text("x")
    result = run("files_waiting.sh", WATCH_DIR=str(tmp_path))
    assert result.data["count"] == 60
    assert result.data["files"] == [f"f{i:02d}" for i in range(50)]
    assert result.data["truncated"] is True


def test_files_waiting_minimum_age(tmp_path: Path) -> None:
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("x")
    new.write_text("x")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    result = run("files_waiting.sh", WATCH_DIR=str(tmp_path), MIN_AGE_SECONDS="600")
    assert result.verdict == ScriptVerdict.WAKE, (result.reason, result.stderr_tail)
    assert result.data["files"] == ["old.txt"]
    os.utime(old)
    assert run("files_waiting.sh", WATCH_DIR=str(tmp_path), MIN_AGE_SECONDS="600").verdict == ScriptVerdict.SKIPPED


def test_files_waiting_missing_folder_is_a_script_error(tmp_path: Path) -> None:
    result = run("files_waiting.sh", WATCH_DIR=str(tmp_path / "nope"))
    assert result.verdict == ScriptVerdict.SCRIPT_ERROR
    assert result.reason == "exit code 2"
    assert "no such folder" in result.stderr_tail


def test_files_waiting_bad_age_is_a_script_error(tmp_path: Path) -> None:
    result = run("files_waiting.sh", WATCH_DIR=str(tmp_path), MIN_AGE_SECONDS="soon")
    assert result.reason == "exit code 2"
    assert "MIN_AGE_SECONDS" in result.stderr_tail


# --- above_threshold.py ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "op", "threshold", "verdict"),
    [
        ("load average: 3.75", ">", "2", ScriptVerdict.WAKE),
        ("load average: 1.5", ">", "2", ScriptVerdict.SKIPPED),
        ("2", ">", "2", ScriptVerdict.SKIPPED),
        ("2", ">=", "2", ScriptVerdict.WAKE),
        ("disk 12% used", "<", "20", ScriptVerdict.WAKE),
        ("disk 25% used", "<", "20", ScriptVerdict.SKIPPED),
        ("temp=-4.5", "<=", "-4.5", ScriptVerdict.WAKE),
        ("measured at 10:00, value 7", ">", "5", ScriptVerdict.WAKE),
    ],
)
def test_above_threshold_compares(output: str, op: str, threshold: str, verdict: ScriptVerdict) -> None:
    result = run("above_threshold.py", VALUE_COMMAND=f"echo '{output}'", THRESHOLD=threshold, OP=op)
    assert result.verdict == verdict, (result.reason, result.stderr_tail)
    if verdict == ScriptVerdict.WAKE:
        assert result.data["op"] == op
        assert result.data["threshold"] == float(threshold)


def test_above_threshold_data_and_default_op() -> None:
    result = run("above_threshold.py", VALUE_COMMAND="echo 'queue: 42 jobs'", THRESHOLD="40")
    assert result.verdict == ScriptVerdict.WAKE
    assert result.data == {"value": 42, "threshold": 40, "op": ">"}


def test_above_threshold_reads_a_file(tmp_path: Path) -> None:
    value_file = tmp_path / "temp"
    value_file.write_text("51000\n")
    assert run("above_threshold.py", VALUE_FILE=str(value_file), THRESHOLD="50000").verdict == ScriptVerdict.WAKE
    value_file.write_text("49000\n")
    assert run("above_threshold.py", VALUE_FILE=str(value_file), THRESHOLD="50000").verdict == ScriptVerdict.SKIPPED


@pytest.mark.parametrize(
    ("env", "reason", "message"),
    [
        ({"VALUE_COMMAND": "echo 'no digits here'", "THRESHOLD": "1"}, "exit code 1", "no number"),
        ({"VALUE_COMMAND": "echo 5; exit 3", "THRESHOLD": "1"}, "exit code 1", "failed with exit code 3"),
        ({"VALUE_FILE": "/nonexistent/value", "THRESHOLD": "1"}, "exit code 1", "cannot read"),
        ({"VALUE_COMMAND": "echo 5"}, "exit code 2", "THRESHOLD"),
        ({"VALUE_COMMAND": "echo 5", "THRESHOLD": "high"}, "exit code 2", "THRESHOLD is not a number"),
        ({"VALUE_COMMAND": "echo 5", "THRESHOLD": "1", "OP": "=="}, "exit code 2", "OP must be one of"),
        ({"THRESHOLD": "1"}, "exit code 2", "exactly one of"),
    ],
)
def test_above_threshold_errors(env: dict[str, str], reason: str, message: str) -> None:
    result = run("above_threshold.py", **env)
    assert result.verdict == ScriptVerdict.SCRIPT_ERROR
    assert result.reason == reason
    assert message in result.stderr_tail
