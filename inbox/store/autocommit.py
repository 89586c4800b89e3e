"""PostgreSQL: one statement that is its own transaction, on connections kept in autocommit.

A single ``Inbox.send`` is one statement (inbox.store.bulk). Run on the store's own pool, each call switched the
connection to autocommit and back, and went through SQLAlchemy's execution machinery: together more client time
than the server's insert and commit (docs/benchmarks.md, enqueue). Here such statements get a second pool of the
same store whose connections are in autocommit from the start, and the statement goes to the driver's cursor.

Connections are opened as the store's are (same URL, so the same schema; no JIT; pinged when idle, see
inbox.store.pg_ping), only when a single statement first needs one, and closed when the store's engine is
disposed. A driver error comes out as SQLAlchemy would raise it (``IntegrityError``, ``OperationalError``…), and
when the server dropped the connection the pool's connections are replaced, so callers and the outage handling
(inbox.store.outage) see no difference.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine.interfaces import DBAPIModule

from inbox.store.engine import pg_no_jit
from inbox.store.pg_ping import ping_when_idle

_pools: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_making = threading.Lock()


def autocommit_engine(engine: Engine) -> Engine:
    """The pool of autocommit connections of ``engine``'s store (opened at first use, disposed with it)."""
    pool = _pools.get(engine)
    if pool is not None:
        return pool
    with _making:  # two threads' first sends (the HTTP API's) make one pool, not one each
        pool = _pools.get(engine)
        if pool is None:
            pool = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
            event.listen(pool, "connect", pg_no_jit)
            ping_when_idle(pool)
            event.listen(engine, "engine_disposed", lambda _engine: pool.dispose())
            _pools[engine] = pool
    return pool


def execute_alone(engine: Engine, sql: str, params: Mapping[str, Any]) -> None:
    """Run ``sql`` (the driver's own SQL text; ``params`` already converted for it) as a transaction of its own:
    committed when this returns. If it raises, nothing was written, unless the connection was lost after the
    server committed, which no client of a database can tell."""
    pool = autocommit_engine(engine)
    dialect = pool.dialect
    dbapi_error: type[DBAPIModule.Error] = dialect.loaded_dbapi.Error
    connection = pool.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, params)
        finally:
            cursor.close()
    except dbapi_error as error:
        dropped = dialect.is_disconnect(error, connection.dbapi_connection, None)
        if dropped:
            # As SQLAlchemy does on its own pools: the server likely dropped the pool's other connections too (a
            # restart), so each is replaced rather than failing one statement in turn.
            connection.invalidate(error)
            pool.dispose()
        raised = exc.DBAPIError.instance(
            sql, params, error, dbapi_error, connection_invalidated=dropped, dialect=dialect
        )
        raise raised from error
    finally:
        connection.close()
