"""Outgoing HTTP connections kept open between requests, to an address already checked (inbox.addresses).

Shared by webhook deliveries (sweeper.delivery.webhook) and ``http`` tasks (sweeper.http_work): both pin the
connection to a checked address, with the URL's host name in ``Host`` and in TLS, and both send many requests to
few receivers, where a new TCP (and TLS) connection per request cost more than the request. One set of connections
per sending thread, keyed by scheme, host name, port and address, so a kept connection only ever carries requests
to the address it was checked for. One that the receiver has closed meanwhile is noticed before it is used (it
reads as end of stream while idle), so a request is never sent twice because a connection went stale.
"""

from __future__ import annotations

import functools
import http.client
import select
import ssl
import threading

Key = tuple[str, str, int, str]  # scheme, host name, port, checked address


@functools.cache
def system_tls() -> ssl.SSLContext:
    """The system's trusted authorities, for HTTPS receivers: one context for the whole process, made when the first
    HTTPS connection is. Each context holds its own copy of every authority, which most hosts never need."""
    return ssl.create_default_context()


class PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the URL's host name for SNI and the certificate check."""

    def __init__(self, address: str, port: int, *, server_name: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._tls = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_name)


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether a kept connection was closed by the receiver: readable while idle means end of stream."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        poller = select.poll()  # not select(): it cannot look at file descriptors above 1023
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class KeptConnections:
    """Per-thread kept connections; ``tls`` checks HTTPS receivers' certificates (default: :func:`system_tls`)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._local = threading.local()

    def _pool(self) -> dict[Key, http.client.HTTPConnection]:
        pool: dict[Key, http.client.HTTPConnection] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def connection(self, key: Key, *, timeout_s: float) -> http.client.HTTPConnection:
        """A kept connection for ``key`` that the receiver has not closed, else a new one (a refused connection
        raises here, before anything is sent); its requests time out after ``timeout_s``."""
        pool = self._pool()
        kept = pool.get(key)
        if kept is not None and not _dropped(kept):
            kept.timeout = timeout_s
            if kept.sock is not None:
                kept.sock.settimeout(timeout_s)
            return kept
        if kept is not None:
            del pool[key]
            kept.close()
        scheme, host, port, address = key
        made: http.client.HTTPConnection
        if scheme == "https":
            tls = self._tls or system_tls()
            made = PinnedHTTPS(address, port, server_name=host, timeout=timeout_s, context=tls)
        else:
            made = http.client.HTTPConnection(address, port, timeout=timeout_s)
        try:
            made.connect()
        except BaseException:
            made.close()
            raise
        pool[key] = made
        return made

    def forget(self, key: Key) -> None:
        dropped = self._pool().pop(key, None)
        if dropped is not None:
            dropped.close()

    def after(self, key: Key, response: http.client.HTTPResponse) -> None:
        """Keep the connection only if its answer was read whole and the receiver keeps it open."""
        if response.will_close or not response.isclosed():  # closing, or more answer than was read
            self.forget(key)
