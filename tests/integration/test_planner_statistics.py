"""After a burst of endings the due scan still walks the due index in order and stops after a batch.

On PostgreSQL that depends on the planner's statistics of ``messages_in``: without current ones it takes a
bitmap scan over every entry of the pending range, the dead entries of the rows ended since the last VACUUM
included, and sorts them (dispatch fell from 11,000 to 2,200 msg/s in two minutes on a server with autovacuum
off). The hosts keep the statistics current themselves (sweeper/statistics.py); SQLite plans from the index
alone.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

from inbox import Inbox
from sweeper.statistics import refresh_statistics

# the due queries' shape: a batch of pending rows, due first, more columns than the index holds
DUE_BATCH = text(
    "SELECT id, content FROM messages_in WHERE status = 'pending' AND process_after <= :now"
    " ORDER BY process_after, id LIMIT 500"
)


def _plan(engine: Engine, backend: str) -> str:
    explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        rows = conn.execute(text(explain + str(DUE_BATCH)), {"now": "2100-01-01T00:00:00"}).all()
    return "\n".join(str(row[-1]) for row in rows)


def _changes_counted(engine: Engine, at_least: int, *, inserted: int, updated: int) -> None:
    """PostgreSQL's statistics views see a backend's writes once it reports them, after its commit. Every write is
    waited for (the inserts of the pool's other connections too): one reported after the ANALYZE would count as a
    change since it, and the statistics would look stale again."""
    deadline = time.monotonic() + 15  # an idle backend reports at least every 10 s
    query = text(
        "SELECT n_mod_since_analyze >= :changed AND n_tup_ins >= :inserted AND n_tup_upd >= :updated"
        " FROM pg_stat_user_tables WHERE relid = 'messages_in'::regclass"
    )
    counts = {"changed": at_least, "inserted": inserted, "updated": updated}
    with engine.connect() as conn:
        while not conn.execute(query, counts).scalar_one():
            assert time.monotonic() < deadline, "the statistics views never counted the writes"
            time.sleep(0.1)
            conn.rollback()  # each look is a snapshot of its own


def test_after_a_burst_of_endings_the_due_scan_walks_the_index_and_stops_after_a_batch(
    inbox: Inbox, backend: str
) -> None:
    for _ in range(20):
        inbox.send_many([f"message {n}" for n in range(1_000)])
    with inbox.engine.begin() as conn:  # the endings of 19,000 of them
        conn.execute(
            text(
                "UPDATE messages_in SET status = 'completed' WHERE id NOT IN"
                " (SELECT id FROM messages_in ORDER BY id DESC LIMIT 1000)"
            )
        )
        if backend == "postgres" and int(conn.execute(text("SHOW server_version_num")).scalar_one()) >= 150000:
            conn.execute(text("SELECT pg_stat_force_next_flush()"))  # reported at commit, not up to 10 s later
    if backend == "postgres":
        _changes_counted(inbox.engine, 19_000, inserted=20_000, updated=19_000)

    assert refresh_statistics(inbox.engine) is (backend == "postgres")
    plan = _plan(inbox.engine, backend)

    if backend == "sqlite":
        assert "USING INDEX ix_messages_in_status_due" in plan and "TEMP B-TREE" not in plan, plan
    else:
        assert "Index Scan using ix_messages_in_status_due" in plan, plan
        assert "Sort" not in plan and "Bitmap" not in plan, plan
        assert refresh_statistics(inbox.engine) is False  # nothing changed since: nothing to do
