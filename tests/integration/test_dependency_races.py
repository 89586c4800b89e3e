"""Two upstreams of one task ending at the same moment on two hosts (PostgreSQL, where two transactions really run at
once; each host has its own engine): exactly one round of the downstream, taking both endings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from inbox import Inbox
from inbox.enums import Outcome
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.engine import transaction
from inbox.store.trigger_tables import DependencyRound
from tests.conftest import Clock, pg_store
from tests.integration.helpers import wait_until_blocked_by

pytestmark = pytest.mark.postgres
WAIT_S = 10.0


@pytest.fixture
def hosts(clock: Clock, home: Path) -> Iterator[tuple[Inbox, Inbox]]:
    env = {"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}
    with pg_store() as url, Inbox(url, clock=clock, env=env) as one, Inbox(url, clock=clock, env=env) as two:
        yield one, two


def _end(inbox: Inbox, message_id: str) -> None:
    with transaction(inbox.engine) as db:
        end_occurrence(db, message_id, RunReport(Outcome.COMPLETED, started_at=inbox.clock()), now=inbox.clock())


def _rounds(inbox: Inbox, series_id: str) -> list[DependencyRound]:
    with transaction(inbox.engine) as db:
        query = select(DependencyRound).where(DependencyRound.downstream_id == series_id)
        return list(db.exec(query.order_by(DependencyRound.round_no)).all())


def test_an_ending_that_waits_for_the_other_sees_it_and_completes_the_round(hosts: tuple[Inbox, Inbox]) -> None:
    one, two = hosts
    a, b = one.schedule("a", every="1h"), one.schedule("b", every="1h")
    down = one.schedule("down", after=[a.series_id, b.series_id])
    a_run, b_run = one.run_now(a.series_id), one.run_now(b.series_id)
    other = threading.Thread(target=_end, args=(two, b_run.id))
    with transaction(one.engine) as db:  # host one's ending of a, held open while host two ends b
        end_occurrence(db, a_run.id, RunReport(Outcome.COMPLETED, started_at=one.clock()), now=one.clock())
        other.start()
        wait_until_blocked_by(one, db)  # host two waits for the downstream's lock, not past it
    other.join(timeout=WAIT_S)
    assert not other.is_alive()
    [round_] = _rounds(one, down.series_id)
    assert sorted(u["message_id"] for u in round_.upstream) == sorted([a_run.id, b_run.id])


def test_endings_racing_on_two_hosts_make_exactly_one_round_each_time(hosts: tuple[Inbox, Inbox]) -> None:
    one, two = hosts
    a, b = one.schedule("a", every="1h"), one.schedule("b", every="1h")
    down = one.schedule("down", after=[a.series_id, b.series_id], when="all_done")
    tries = 15
    ended: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    for _ in range(tries):
        pair = (one.run_now(a.series_id).id, one.run_now(b.series_id).id)
        ended.append(pair)
        start = threading.Barrier(2)

        def host(inbox: Inbox, message_id: str, start: threading.Barrier = start) -> None:
            try:
                start.wait(WAIT_S)
                _end(inbox, message_id)
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=host, args=pair_) for pair_ in zip((one, two), pair, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=WAIT_S)
    assert errors == []
    found = _rounds(one, down.series_id)
    assert [r.round_no for r in found] == list(range(1, tries + 1))
    assert [sorted(u["message_id"] for u in r.upstream) for r in found] == [sorted(pair) for pair in ended]
