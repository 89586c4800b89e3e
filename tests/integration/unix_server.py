"""The host's HTTP app served for real on a unix socket in a thread, as runners reach it."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


@contextmanager
def serving_on_unix_socket(app: FastAPI) -> Iterator[str]:
    """Yields the socket's path once the server answers; stops the server afterwards."""
    folder = tempfile.mkdtemp(dir="/tmp")  # short: a socket path holds at most 108 bytes
    socket_path = f"{folder}/host.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(socket_path)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield socket_path
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)
