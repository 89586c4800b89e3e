"""A host shutting down ends its runners' waiting claims at once, whenever the shutdown lands.

The shutdown marks the host draining and then rings every active session's bell. A long-polled claim that read
the bell's count just after that ring used to wait for a ring that never came, for its whole poll: the runtime's
grace then killed its runner, and a loaded host's stop ran past what systemd or a test allows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_runner.client import HostClient
from inbox import Inbox
from sweeper.http.app import HostState, make_app
from sweeper.http.doorbells import Doorbells
from sweeper.http.runner_auth import RunnerIdentity
from tests.integration.unix_server import serving_on_unix_socket

POLL_S = 30.0


class ShutdownAtTheCount(Doorbells):
    """Bells whose first count for a session is taken just as the host's shutdown drains and rings: the order the
    shutdown uses (draining first, then the ring), landing between the claim's draining check and its count."""

    def __init__(self, draining: threading.Event) -> None:
        super().__init__()
        self._draining = draining
        self._shut = False

    def count(self, session: str) -> int:
        if not self._shut:
            self._shut = True
            self._draining.set()
            self.ring(session)
        return super().count(session)


@pytest.fixture
def state(store_url: str, tmp_path: Path) -> Iterator[HostState]:
    inbox = Inbox(store_url, env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"})
    draining = threading.Event()
    try:
        yield HostState(inbox=inbox, admin_token="admin", draining=draining, doorbells=ShutdownAtTheCount(draining))
    finally:
        inbox.close()


def test_a_claim_whose_count_follows_the_shutdown_ring_returns_at_once(state: HostState) -> None:
    with serving_on_unix_socket(make_app(state)) as socket_path:
        token = state.runner_tokens.issue(RunnerIdentity(session="a", owner="r-a"))
        runner = HostClient(socket_path, token, timeout_s=POLL_S + 10)
        try:
            started = time.monotonic()
            reply = runner.claim(limit=4, wait_s=POLL_S)
            waited = time.monotonic() - started
        finally:
            runner.close()

    assert reply.items == []
    # Not a speed figure: the old claim waited out the whole poll; any answer well inside it is the new behaviour.
    assert waited < POLL_S / 2, f"the claim waited {waited:.1f} s for a bell that had already rung"
