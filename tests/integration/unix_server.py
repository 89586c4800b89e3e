"""The host's HTTP app served for real in a thread: on a unix socket, as runners reach it, or on loopback TCP."""

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
def _running(server: uvicorn.Server, sock: socket.socket) -> Iterator[None]:
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serving_on_unix_socket(app: FastAPI) -> Iterator[str]:
    """Yields the socket's path once the server answers; stops the server afterwards."""
    folder = tempfile.mkdtemp(dir="/tmp")  # short: a socket path holds at most 108 bytes
    socket_path = f"{folder}/host.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(socket_path)
    try:
        with _running(uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")), sock):
            yield socket_path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def serving_on_loopback(app: FastAPI) -> Iterator[str]:
    """Yields ``http://127.0.0.1:PORT`` (a free port) once the server answers; stops the server afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    with _running(uvicorn.Server(uvicorn.Config(app, log_level="warning")), sock):
        yield f"http://127.0.0.1:{port}"
