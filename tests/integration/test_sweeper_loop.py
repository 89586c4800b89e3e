"""The host loop sleeps between passes, even when due work is waiting for something other than the host."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import sweeper.loop
from inbox import Inbox
from sweeper.loop import ChangeWatch
from tests.conftest import pg_base_url, pg_schema_url


def test_a_due_message_waiting_for_a_runner_does_not_make_the_loop_spin(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox.send("hello")  # due now; only a session runner can answer it, the host cannot
    passes = 0
    real_pass = sweeper.loop.sweep_once

    def counting_pass(*args: object, **kwargs: object) -> object:
        nonlocal passes
        passes += 1
        return real_pass(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sweeper.loop, "sweep_once", counting_pass)
    stop = threading.Event()
    loop = threading.Thread(target=sweeper.loop.run_loop, args=(inbox.engine,),
                            kwargs={"interval_s": 60.0, "stop": stop})
    loop.start()
    time.sleep(1.0)
    stop.set()
    loop.join(timeout=10)
    assert passes <= 2  # one pass, then asleep until the interval or the next future row


@pytest.mark.postgres
def test_a_write_wakes_the_sweepers_of_its_own_store_only(tmp_path: Path) -> None:
    """PostgreSQL notifications reach the whole database: a store in another schema must not wake this one."""
    base = pg_base_url()
    assert base is not None
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with admin.connect() as conn:
        for schema in schemas:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        mine, other = (Inbox(pg_schema_url(base, s), env={"INBOX_HOME": str(tmp_path)}) for s in schemas)
        watch = ChangeWatch(mine.engine)
        try:
            other.send("for the other store")
            time.sleep(0.2)
            assert not watch.changed()
            mine.send("for this store")
            deadline = time.monotonic() + 5
            while not watch.changed():
                assert time.monotonic() < deadline, "a write to this store did not wake its sweeper"
                time.sleep(0.05)
        finally:
            watch.close()
            mine.close()
            other.close()
    finally:
        with admin.connect() as conn:
            for schema in schemas:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
