"""PostgreSQL: ping a pooled connection before use only when it has been idle, not on every checkout.

A connection the pool hands out may be dead (the server restarted, a proxy dropped it). SQLAlchemy's
``pool_pre_ping`` finds out with a ``SELECT 1`` on every checkout: one more round trip for every transaction, a third
of a single ``Inbox.send``'s time (docs/benchmarks.md, enqueue). Here the ping happens only after the connection sat
in the pool for :data:`IDLE_PING_S`; one used a moment ago is handed out as it is. If the server went away in that
moment, the first statement on it fails as it could have after any ping, the dialect sees a disconnect and the
pool drops every connection older than it, so the next transaction connects anew (the host's outage handling,
inbox.store.outage, retries what failed).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event, exc

IDLE_PING_S = 1.0
_USED = "inbox_last_used"  # monotonic time the connection was last returned to the pool


def ping_when_idle(engine: Engine) -> None:
    """Install the idle ping on ``engine``'s pool (instead of ``pool_pre_ping``)."""
    dialect = engine.dialect

    def _connected(_dbapi_conn: Any, record: Any) -> None:
        record.info[_USED] = time.monotonic()  # just connected: alive

    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info[_USED] = time.monotonic()

    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_USED, 0.0) < IDLE_PING_S:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as error:  # the pool discards this connection and tries a new one (3 times)
            raise exc.DisconnectionError(f"a pooled connection failed its ping: {error}") from error

    event.listen(engine, "connect", _connected)
    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "checkout", _checkout)
