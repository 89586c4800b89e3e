"""The disk under a SQLite store fills up while a host works, and is freed again.

The store lives on a small filesystem of its own (an 8 MiB tmpfs, mounted for the test; skipped where mounting
is not permitted). A real ``inbox serve`` delivers reminders and runs model tasks on it; then a ballast file takes
every free byte until the store's writes fail. The host says so in one line naming the disk, keeps running and
keeps trying; nothing is corrupted (``PRAGMA integrity_check``); once the ballast is removed the work goes on,
and afterwards nothing was lost or run twice.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.outage import disk_full
from inbox.store.types import utcnow
from tests.acceptance.served import Served, serving
from tests.chaos.invariants import Snapshot, check_endings, check_no_overlap, check_notices, check_outbox, check_slots

pytestmark = pytest.mark.slow

SIZE = "8m"
CHUNK = 64 * 1024
FULL_LINE = "the disk holding the store is full"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(ballast: Path) -> int:
    """Write ``ballast`` until the filesystem has no byte left; returns its size."""
    written = 0
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (CHUNK, 4096, 512, 1):  # down to the last byte, so even a one-page write finds no room
            block = b"\0" * size
            while True:
                try:
                    written += os.write(fd, block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    return written


def _completed_since(served: Served, series: list[str], since: datetime) -> int:
    return sum(1 for s in series for run in served.runs(s) if run.outcome == "completed" and run.started_at > since)


def test_a_full_disk_stops_writes_cleanly_and_work_resumes_when_space_returns(small_disk: Path, home: Path) -> None:
    store = small_disk / "inbox.db"
    with serving(home, f"sqlite:///{store}") as served:
        reminders = [served.inbox.schedule(f"stretch {i}", every="1s", remind=True, max_runs=40) for i in range(3)]
        prompts = [served.inbox.schedule(f"check {i}", every="2s", max_runs=20) for i in range(2)]
        series = [made.series_id for made in (*reminders, *prompts)]
        host = served.start_host()
        served.wait_for("a few runs before the disk fills", lambda: sum(len(served.runs(s)) for s in series) >= 8)

        ballast = small_disk / "ballast"
        _fill(ballast)
        full_at = utcnow()
        # Writes fail now (the host's, and a user's): a send is refused with the disk named, not half written.
        refused = served.wait_for("a write to fail", lambda: _send_refused(served), timeout_s=60)
        assert disk_full(refused), refused
        served.wait_for("the host to say the disk is full", lambda: FULL_LINE in served.log_text(), timeout_s=30)
        time.sleep(3)  # the host keeps trying meanwhile
        assert host.poll() is None, served.log_text()

        ballast.unlink()
        freed_at = utcnow()
        served.wait_for(
            "work after the space returned", lambda: _completed_since(served, series, freed_at) >= 3, timeout_s=60
        )
        served.wait_for("every series to end", lambda: not any(served.live_rows(s) for s in series), timeout_s=120)
        served.wait_for("nothing running", lambda: not _running(served), timeout_s=30)
        settled = utcnow()
        served.stop_hosts()
        assert host.returncode == 0, served.log_text()

        logs = served.log_text()
        assert "Traceback" not in logs, logs
        lines = [line for line in logs.splitlines() if FULL_LINE in line]
        assert str(store) in lines[0] and "free" in lines[0], lines  # the disk named, with its free space
        assert len([line for line in lines if "inbox.host" in line]) <= 3, lines  # told once, not per attempt
        assert "the store answers again" in logs

        snap = Snapshot.load(served.inbox.engine, settled_at=settled)
        found = [
            *check_endings(snap),
            *check_slots(snap),
            *check_outbox(snap),
            *check_notices(snap),
            *check_no_overlap(snap),
        ]
        assert found == [], "\n".join(map(str, found))
        for made, wanted in [*((r, 40) for r in reminders), *((p, 20) for p in prompts)]:
            chain = [row for row in snap.series_rows(made.series_id) if not row.is_extra]
            assert len(chain) == wanted, (made.series_id, len(chain))
        assert full_at < freed_at
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def _send_refused(served: Served) -> OperationalError | None:
    try:
        served.inbox.send("is there room?", session="probe")
    except OperationalError as exc:
        return exc
    return None


def _running(served: Served) -> bool:
    with transaction(served.inbox.engine) as db:
        return db.exec(select(MessageIn.id).where(MessageIn.status == "running")).first() is not None
