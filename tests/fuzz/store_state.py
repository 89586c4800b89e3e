"""What "nothing was written" means: the rows of the tables a request or command could write, digested."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Engine, text

# each table and the columns its rows are ordered by
TABLES = {
    "messages_in": "id",
    "messages_out": "id",
    "runs": "id",
    "events": "id",
    "event_matches": "event_id, series_id",
    "event_triggers": "series_id, pattern",
    "series_state": "series_id",
    "dependencies": "downstream_id, upstream_id",
    "dependency_rounds": "downstream_id, round_no",
    "hooks": "name",
    "drop_ingested": "key",
    "channels": "name",
    "session_settings": "session",
}


@dataclass(frozen=True)
class StoreState:
    counts: tuple[tuple[str, int], ...]
    digest: str

    def __str__(self) -> str:
        rows = ", ".join(f"{table}={count}" for table, count in self.counts)
        return f"{rows} (sha256 {self.digest[:12]})"


def store_state(engine: Engine) -> StoreState:
    """Row counts and a digest of every column of every row, in id order."""
    hasher = hashlib.sha256()
    counts = []
    with engine.connect() as conn:
        for table, order in TABLES.items():
            rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}")).all()
            counts.append((table, len(rows)))
            for row in rows:
                hasher.update(repr(tuple(row)).encode("utf-8", "backslashreplace"))
            hasher.update(b"\x00")
        conn.rollback()
    return StoreState(tuple(counts), hasher.hexdigest())
