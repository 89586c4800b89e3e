"""Chores one host does for all: however many hosts share a store, one of them runs each chore per interval."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from inbox import Inbox
from inbox.store.engine import open_engine
from sweeper.chores import run_chore, take_chore
from tests.conftest import Clock

HOUR = timedelta(hours=1)


def test_a_chore_is_taken_once_per_interval_whoever_asks(inbox: Inbox, clock: Clock) -> None:
    engine = inbox.engine
    assert take_chore(engine, "retention", owner="host-a", now=clock(), every=HOUR)
    assert not take_chore(engine, "retention", owner="host-b", now=clock(), every=HOUR)
    assert not take_chore(engine, "retention", owner="host-a", now=clock.advance(minutes=59), every=HOUR)
    assert take_chore(engine, "retention", owner="host-b", now=clock.advance(minutes=1), every=HOUR)
    assert take_chore(engine, "other chore", owner="host-a", now=clock(), every=HOUR)  # chores are independent


def test_hosts_asking_at_the_same_moment_run_it_exactly_once(store_url: str, inbox: Inbox, clock: Clock) -> None:
    hosts = 6
    engines = [open_engine(store_url) for _ in range(hosts)]  # each host has its own connections
    start = threading.Barrier(hosts)
    ran: list[str] = []
    lock = threading.Lock()

    def host(index: int) -> None:
        def work() -> None:
            with lock:
                ran.append(f"host-{index}")

        start.wait()
        run_chore(engines[index], "retention", work, owner=f"host-{index}", now=clock(), every=HOUR)

    threads = [threading.Thread(target=host, args=(i,)) for i in range(hosts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert len(ran) == 1


def test_a_failing_chore_does_not_stop_the_host_and_is_due_again_next_interval(
    inbox: Inbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("disk full")

    assert run_chore(inbox.engine, "retention", broken, owner="host-a", now=clock(), every=HOUR)
    assert "retention failed: disk full" in caplog.text
    assert not run_chore(inbox.engine, "retention", broken, owner="host-b", now=clock.advance(minutes=30), every=HOUR)
    assert run_chore(inbox.engine, "retention", lambda: None, owner="host-b", now=clock.advance(hours=1), every=HOUR)
