"""The host's sockets take connections from the moment it says where they are.

``inbox serve`` prints "runners connect on PATH" (and, with ``--listen``, the address) before its HTTP server has
started in its own thread. A client that connects at once must wait for an answer, never be refused.
"""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from inbox import Inbox
from sweeper.host import Host, ServerDidNotStart
from sweeper.host_config import HostConfig


def test_both_sockets_take_connections_before_the_server_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    inbox = Inbox(f"sqlite:///{tmp_path / 'inbox.db'}", env={"INBOX_HOME": str(home), "INBOX_TZ": "UTC"})
    host = Host(inbox, HostConfig(), listen="127.0.0.1:0")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as runner:
            runner.connect(str(host.socket_path))  # refused before the fix: bound, not listening
        address = host.tcp_address
        assert address is not None
        with socket.create_connection(address, timeout=5):
            pass
        # ... and the server, once it runs, answers what was sent meanwhile.
        with host.serving():
            transport = httpx.HTTPTransport(uds=str(host.socket_path))
            with httpx.Client(transport=transport, base_url="http://host", timeout=10) as client:
                assert client.get("/healthz").status_code == 200
    finally:
        host.stop.set()
        inbox.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the server thread's error
def test_a_server_that_cannot_start_stops_the_host_before_any_runner(tmp_path: Path) -> None:
    inbox = Inbox(f"sqlite:///{tmp_path / 'inbox.db'}", env={"INBOX_HOME": str(tmp_path / "home"), "INBOX_TZ": "UTC"})
    host = Host(inbox, HostConfig())
    for listener in host._listeners:
        listener.close()  # what uvicorn is given can no longer serve: its thread logs why and ends
    try:
        with pytest.raises(ServerDidNotStart), host.serving():
            pytest.fail("the host went on without its server")  # before: it did, and its runners could never claim
        assert not host.socket_path.exists()
    finally:
        inbox.close()
