"""What the runners' socket of a real ``inbox serve`` answers: without ``--listen`` the HTTP API is off, so the
socket serves the runners' routes and ``/healthz`` only; with ``--listen`` the public API is there too, for API
tokens only (tests/acceptance/test_containers.py has a runner's token refused by it)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from agent_runner.protocol import PREFIX
from tests.acceptance.conftest import Cli

pytestmark = pytest.mark.slow
RUNNERS = re.compile(r"runners connect on (\S+)")
Start = Callable[..., tuple[str, str]]


@pytest.fixture
def socket_of(cli: Cli, tmp_path: Path) -> Iterator[Start]:
    """Start ``inbox serve ARGS``; (the runners' socket, the API token) once it serves."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> tuple[str, str]:
        cli.ok("token", "list")  # the store and its API token exist before the host starts
        log = tmp_path / f"serve-{len(started)}.log"
        with open(log, "wb") as out:
            started.append(
                subprocess.Popen(
                    ["inbox", "serve", *args],
                    env={**cli.env, "PYTHONUNBUFFERED": "1", "INBOX_RUNTIME": "process"},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 30
        while not (found := RUNNERS.search(log.read_text())):
            assert started[-1].poll() is None, f"inbox serve exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"inbox serve did not start:\n{log.read_text()}"
            time.sleep(0.05)
        return found[1], (cli.home / "api-token").read_text().strip()

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _answers(socket_path: str, token: str) -> dict[str, int]:
    admin = {"Authorization": f"Bearer {token}"}
    with httpx.Client(transport=httpx.HTTPTransport(uds=socket_path), base_url="http://host", timeout=10) as host:
        return {
            "healthz": host.get("/healthz").status_code,
            "tasks": host.get("/v1/tasks", headers=admin).status_code,
            "metrics": host.get("/metrics", headers=admin).status_code,
            "dashboard": host.get("/").status_code,
            "claim": host.post(f"{PREFIX}/claim", json={}).status_code,  # no runner token
        }


def test_without_listen_the_runners_socket_serves_the_runners_only(socket_of: Start) -> None:
    assert _answers(*socket_of()) == {"healthz": 200, "tasks": 404, "metrics": 404, "dashboard": 404, "claim": 401}


def test_with_listen_the_public_api_is_on_the_runners_socket_too(socket_of: Start) -> None:
    assert _answers(*socket_of("--listen", "127.0.0.1:0")) == {
        "healthz": 200,
        "tasks": 200,
        "metrics": 200,
        "dashboard": 303,  # to its sign-in page
        "claim": 401,
    }
