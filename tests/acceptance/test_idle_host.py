"""An idle host writes nothing: a store on an SD card must not wear out under a host with nothing to do.

A real ``inbox serve`` on a store holding series none of which is due for an hour, and some recent history, is
started, left to sweep (every second here, so there are many passes and the chores are looked at) and stopped. The
store's every row is the same afterwards; on SQLite the database and WAL files are byte for byte the same too.
Nothing here is timed: what is compared is what is stored.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest

from inbox.store.types import utcnow
from sweeper.sweep import sweep_once
from tests.acceptance.served import Served
from tests.integration.helpers import stored_text

pytestmark = pytest.mark.slow

IDLE_S = 12.0  # longer than the host's 10 s between looks at its chores: it looks at them twice


def _files(store: Path) -> dict[str, str]:
    """The SQLite database and its WAL, each by content digest."""
    found = {}
    for path in (store, store.with_name(store.name + "-wal")):
        if path.exists():
            found[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_an_idle_host_writes_nothing(served: Served, backend: str) -> None:
    inbox = served.inbox
    later = utcnow() + timedelta(hours=2)
    for index in range(50):  # none due for an hour
        inbox.schedule(f"daily digest {index}", cron=f"{later.minute} {later.hour} * * *", remind=index % 2 == 0)
    inbox.schedule("weekly review", every="7d")
    done = inbox.schedule("stretch", in_="1s", remind=True)  # some recent history: a delivered reminder
    time.sleep(1.2)
    sweep_once(inbox.engine, now=utcnow())
    assert inbox.runs(done.series_id)[0].outcome == "completed"
    store = served.home / "inbox.db"
    before = stored_text(inbox.engine)
    if backend == "sqlite":  # what was written so far goes into the database file, and this process lets go
        inbox.engine.dispose()
        conn = sqlite3.connect(store, isolation_level=None)
        try:
            assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # not busy: all moved
        finally:
            conn.close()
    files = _files(store)

    host = served.start_host(INBOX_API_TOKEN="configured-token-0123456789")  # no token for the host to make
    served.wait_for("the host to serve", lambda: "runners connect on" in served.log_text())
    time.sleep(IDLE_S)
    served.stop_hosts()
    assert host.returncode == 0, served.log_text()

    if backend == "sqlite":
        assert _files(store) == files  # not a byte
    assert stored_text(inbox.engine) == before  # not a row written, updated or deleted
