"""The host loop sleeps between passes, even when due work is waiting for something other than the host."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import sweeper.loop
from inbox import Inbox
from sweeper.loop import ChangeWatch
from tests.conftest import pg_store


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
    loop = threading.Thread(
        target=sweeper.loop.run_loop, args=(inbox.engine,), kwargs={"interval_s": 60.0, "stop": stop}
    )
    loop.start()
    time.sleep(1.0)
    stop.set()
    loop.join(timeout=10)
    assert passes <= 2  # one pass, then asleep until the interval or the next future row


@pytest.mark.postgres
def test_a_write_wakes_the_sweepers_of_its_own_store_only(tmp_path: Path) -> None:
    """PostgreSQL notifications reach the whole database: a store in another schema must not wake this one."""
    with pg_store() as mine_url, pg_store() as other_url:
        mine, other = (Inbox(url, env={"INBOX_HOME": str(tmp_path)}) for url in (mine_url, other_url))
        watch = ChangeWatch(mine.engine)
        try:
            other.send("for the other store")
            time.sleep(0.2)
            assert not watch.changed()
            # One message (a statement of its own) and a batch (a transaction) each wake it.
            for write in (lambda: mine.send("for this store"), lambda: mine.send_many(["one", "two"])):
                write()
                deadline = time.monotonic() + 5
                while not watch.changed():
                    assert time.monotonic() < deadline, "a write to this store did not wake its sweeper"
                    time.sleep(0.05)
        finally:
            watch.close()
            mine.close()
            other.close()
