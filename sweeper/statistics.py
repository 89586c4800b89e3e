"""Planner statistics for ``messages_in`` on PostgreSQL, kept current by the hosts when the database does not.

Every row of the table goes pending, running, ended, so what the planner knows of it goes stale quickly. With
current statistics the due queries walk ``ix_messages_in_status_due`` in order and stop after a batch, marking
the index entries of ended rows dead as they pass them. Without (a table never analyzed, or one that grew
tenfold since), PostgreSQL guesses a handful of pending rows and takes a bitmap scan instead, which reads every
entry of the pending range, the dead ones of every row ended since the last VACUUM included, and sorts. On a
server with ``autovacuum = off`` that cost grows with every row ended, and dispatch slows within minutes
(figures: docs/benchmarks.md, "PostgreSQL with 1 and 2 hosts").

So every :data:`EVERY` each host asks (a read) whether the table changed by more than autovacuum's own analyze
threshold (50 rows plus 10%) since it was last analyzed, by anyone, and if so one of them (a chore,
sweeper/chores.py) runs ``ANALYZE messages_in``: a sample of 30,000 rows, which takes a lock that blocks no read
or write. Where autovacuum is on it has usually done so already, and this finds nothing to do. Removing the dead rows
(``VACUUM``) stays the database's job; ``inbox doctor`` says when autovacuum is off.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Engine, text

log = logging.getLogger("inbox.sweeper")
STATISTICS = "statistics"
EVERY = timedelta(seconds=10)
# autovacuum_analyze_threshold and autovacuum_analyze_scale_factor, PostgreSQL's defaults
BASE_THRESHOLD = 50
SCALE_FACTOR = 0.1

_CHANGED = text("SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables WHERE relid = 'messages_in'::regclass")


def stale(changed: int, live: int) -> bool:
    """Whether ``changed`` rows since the last analyze make the statistics of ``live`` rows stale."""
    return changed > BASE_THRESHOLD + SCALE_FACTOR * live


def statistics_stale(engine: Engine) -> bool:
    """Whether ``messages_in`` changed enough since it was last analyzed (a read). SQLite: never."""
    if engine.dialect.name != "postgresql":
        return False  # SQLite plans the due queries from the index alone, with or without statistics
    with engine.connect() as conn:
        found = conn.execute(_CHANGED).first()
        conn.rollback()
    return found is not None and stale(int(found[0] or 0), int(found[1] or 0))


def refresh_statistics(engine: Engine) -> bool:
    """``ANALYZE messages_in`` if it changed enough since it was last analyzed; whether it ran. SQLite: never."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.begin() as conn:
        found = conn.execute(_CHANGED).first()
        if found is None or not stale(int(found[0] or 0), int(found[1] or 0)):
            return False
        conn.execute(text("ANALYZE messages_in"))
    log.info("statistics: analyzed messages_in (%s rows changed since the last analyze)", found[0])
    return True
