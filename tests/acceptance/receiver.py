"""A loopback HTTP receiver for ``http`` tasks: answers by path, records every request it gets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWERS = {  # path -> (status, body, extra headers)
    "/ok": (200, "pong", {}),
    "/quiet": (200, "NO_REPLY", {}),
    "/broken": (500, "oops", {}),
    "/missing": (404, "no such thing", {}),
    "/redirect": (302, "", {"Location": "http://169.254.169.254/latest/meta-data/"}),
    "/slow": (200, "", {}),  # after SLOW_S: how many are answered at once is counted
}
SLOW_S = 0.3
HANG_S = 30.0  # "/hang": longer than any test waits


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0  # of "/slow" requests
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            receiver.requests.append(Received(self.command, self.path, dict(self.headers.items()), body))
            path = self.path.partition("?")[0]
            if path in ("/slow", "/hang"):
                with receiver.lock:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                time.sleep(SLOW_S if path == "/slow" else HANG_S)
                with receiver.lock:
                    receiver.in_flight -= 1
            status, text, extra = ANSWERS.get(path, (404, "unknown path", {}))
            data = text.encode()
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
