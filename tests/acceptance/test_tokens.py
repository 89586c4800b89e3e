"""``inbox token`` as a user runs it, and what a running ``inbox serve`` makes of the tokens, on every backend."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from inbox.store.tokens import hash_token
from tests.acceptance.conftest import Cli
from tests.integration.helpers import stored_text

TOKEN_FIELDS = {"id", "name", "scope", "status", "created_at", "created_by", "last_used_at", "revoked_at"}
LISTENING = re.compile(r"listening on (http://\S+:\d+)")


def _stored(store_url: str) -> str:
    engine = create_engine(store_url)
    try:
        return stored_text(engine)
    finally:
        engine.dispose()


def test_tokens_are_created_listed_and_revoked_by_name_or_id(cli: Cli, store_url: str) -> None:
    made = cli.json("token", "create", "laptop", "--json")
    assert set(made) == TOKEN_FIELDS | {"token"} and (made["name"], made["status"]) == ("laptop", "active")
    plain = cli.run("token", "create", "backup-job")
    assert plain.returncode == 0, plain.stderr
    [second] = plain.stdout.splitlines()  # the token alone, for TOKEN=$(inbox token create NAME)
    assert "backup-job" in plain.stderr and second not in plain.stderr

    watcher = cli.json("token", "create", "grafana", "--scope", "read", "--json")
    assert (
        watcher["scope"] == "read"
        and "read token 'phone'" in cli.run("token", "create", "phone", "--scope", "read").stderr
    )

    listed = cli.json("token", "list", "--json")
    assert [(t["name"], t["scope"], t["status"], t["created_by"]) for t in listed] == [
        ("laptop", "admin", "active", "cli"),
        ("backup-job", "admin", "active", "cli"),
        ("grafana", "read", "active", "cli"),
        ("phone", "read", "active", "cli"),
    ]
    assert all(set(t) == TOKEN_FIELDS for t in listed)
    shown = cli.ok("token", "list") + json.dumps(listed)
    stored = _stored(store_url)
    for token in (made["token"], second):
        assert token not in shown and token not in stored
        assert hash_token(token) in stored

    revoked = cli.json("token", "revoke", "laptop", "--json")
    assert (revoked["id"], revoked["status"]) == (made["id"], "revoked") and revoked["revoked_at"]
    again = cli.json("token", "revoke", made["id"], "--json")  # revoking twice is not an error
    assert again["revoked_at"] == revoked["revoked_at"]
    table = cli.ok("token", "list")
    assert re.search(r"laptop\s.*revoked", table) and re.search(r"backup-job\s.*admin.*active.*never used", table)
    assert re.search(r"grafana\s.*read\s.*active", table)
    assert cli.json("token", "create", "laptop", "--json")["id"] != made["id"]  # the name is free again


def test_bad_token_input_exits_2_with_one_line_and_writes_nothing(cli: Cli) -> None:
    cli.ok("token", "create", "laptop")
    before = cli.json("token", "list", "--json")
    cases = [
        (["token", "create", "two words"], r"\bname\b"),
        (["token", "create", ""], r"\bname\b"),
        (["token", "create", "x" * 65], r"\bname\b"),
        (["token", "create", "-leading-dash"], r"\b(name|option)\b"),
        (["token", "create", "laptop"], r"\bname\b.*already"),
        (["token", "revoke", "no-such-token"], r"\btoken\b.*no-such-token"),
        (["token", "revoke"], r"ID\|NAME"),
        (["token", "create", "viewer", "--scope", "write"], r"\bscope\b.*read, send, admin"),
        (["token", "create", "viewer", "--scope", ""], r"\bscope\b"),
    ]

    results = cli.run_many([args for args, _ in cases])

    problems = []
    for (args, pattern), result in zip(cases, results, strict=True):
        lines = result.stderr.splitlines()
        if result.returncode != 2 or len(lines) != 1 or result.stdout:
            problems.append(f"{args}: exit {result.returncode}, stdout {result.stdout!r}, stderr {result.stderr!r}")
        elif not re.search(pattern, lines[0]):
            problems.append(f"{args}: stderr does not name {pattern!r}: {lines[0]!r}")
    assert not problems, "\n".join(problems)
    assert cli.json("token", "list", "--json") == before


# -- with running hosts ------------------------------------------------------------------------------------------


class Host:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "w") as out:
            self.process = subprocess.Popen(
                ["inbox", "serve", "--listen", "127.0.0.1:0"],
                env={**env, "PYTHONUNBUFFERED": "1", "INBOX_RUNTIME": "process"},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        while not (found := LISTENING.search(log.read_text())):
            assert self.process.poll() is None, f"inbox serve exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"inbox serve did not listen:\n{log.read_text()}"
            time.sleep(0.05)
        self.url = found[1]

    def status(self, token: str) -> int:
        return httpx.get(f"{self.url}/v1/tasks", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def hosts() -> Iterator[list[Host]]:
    started: list[Host] = []
    yield started
    for host in started:
        host.stop()


@pytest.mark.slow
def test_two_hosts_on_one_store_honour_the_cli_tokens_at_once(
    cli: Cli, store_url: str, hosts: list[Host], tmp_path: Path
) -> None:
    cli.ok("token", "list")  # the store exists before the hosts start
    first = Host(cli.env, tmp_path / "first.log")
    hosts.append(first)
    token_file = cli.home / "api-token"
    default = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and default not in _stored(store_url)
    other_home = tmp_path / "second-home"  # another machine: its own INBOX_HOME, the same store
    second = Host({**cli.env, "INBOX_HOME": str(other_home), "INBOX_DATABASE_URL": store_url}, tmp_path / "2nd.log")
    hosts.append(second)
    assert not (other_home / "api-token").exists()  # the store has a token already: no second default
    assert [t["name"] for t in cli.json("token", "list", "--json")] == ["default"]

    laptop = cli.ok("token", "create", "laptop").strip()
    assert [first.status(t) for t in (default, laptop)] == [200, 200]
    assert [second.status(t) for t in (default, laptop)] == [200, 200]

    cli.ok("token", "revoke", "laptop")
    assert (first.status(laptop), second.status(laptop)) == (401, 401)  # the very next request, on both
    cli.ok("token", "revoke", "default")
    assert (first.status(default), second.status(default)) == (401, 401)
    assert first.status("not-a-token") == 401

    for host in hosts:
        host.stop()
    assert os.path.exists(token_file) and token_file.read_text().strip() == default  # the copy is left, useless


@pytest.mark.slow
def test_a_serving_host_says_how_long_its_sweep_took_and_its_runners(
    cli: Cli, hosts: list[Host], tmp_path: Path
) -> None:
    cli.ok("token", "list")
    host = Host(cli.env, tmp_path / "host.log")
    hosts.append(host)
    reader = cli.ok("token", "create", "prometheus", "--scope", "read").strip()
    deadline = time.monotonic() + 30
    while True:  # the server answers from its start; the host's first pass may still be under way
        answer = httpx.get(f"{host.url}/metrics", headers={"Authorization": f"Bearer {reader}"}, timeout=10)
        assert answer.status_code == 200
        figures = {
            line.split()[0]: float(line.split()[1])
            for line in answer.text.splitlines()
            if line.startswith("inbox_host")
        }
        if "inbox_host_sweep_seconds" in figures or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert figures["inbox_host_runners"] == 0  # nothing was due
    assert 0 < figures["inbox_host_sweep_seconds"] < 60  # the pass it made at start, timed
