"""The start gate over a real unix socket: a runner's item claimed early starts at its due time, not before, and
one paused in the window, or asked for while the host shuts down, is handed back unstarted.

The claim window is widened to 5 s here (CLAIM_AHEAD is 100 ms) so that what happens inside it does not race the
machine's speed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import sweeper.http.runner_api
from agent_runner.client import LeaseLost
from inbox.store.types import utcnow
from tests.integration.test_runner_api import Host, host  # noqa: F401  (the fixture)

DUE_IN = timedelta(milliseconds=700)


@pytest.fixture(autouse=True)
def _wide_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweeper.http.runner_api, "CLAIM_AHEAD", timedelta(seconds=5))


def _scheduled_soon(host: Host) -> str:  # noqa: F811
    when = (utcnow() + DUE_IN).isoformat(timespec="microseconds")
    return host.inbox.schedule("say hi", at=when, session="a").id


def test_an_item_claimed_early_starts_at_its_due_time_and_not_before(host: Host) -> None:  # noqa: F811
    message_id = _scheduled_soon(host)
    runner = host.runner()
    [item] = runner.claim(limit=4, wait_s=0).items
    assert (item.id, item.early, item.history) == (message_id, True, None)  # its conversation is read at the start
    assert utcnow() < item.process_after
    assert runner.start(item.id, item.attempt).go  # asked early: the host answers at the due time
    assert utcnow() >= item.process_after
    row = host.row(message_id)
    assert (row.status, row.tries, row.lease_owner) == ("running", 0, "r-a")


def test_a_pause_before_the_due_time_hands_the_item_back_unstarted(host: Host) -> None:  # noqa: F811
    message_id = _scheduled_soon(host)
    runner = host.runner()
    [item] = runner.claim(limit=4, wait_s=0).items
    series_id = host.row(message_id).series_id
    assert series_id is not None
    host.inbox.pause(series_id)
    reply = runner.start(item.id, item.attempt)
    assert (reply.go, reply.reason) == (False, "paused")
    row = host.row(message_id)
    assert (row.status, row.tries, row.lease_owner) == ("paused", 0, None)
    assert host.runs(message_id) == []
    with pytest.raises(LeaseLost):  # no longer the runner's: a second ask is refused
        runner.start(item.id, item.attempt)


def test_a_host_shutting_down_hands_an_early_item_back_pending(host: Host) -> None:  # noqa: F811
    message_id = _scheduled_soon(host)
    runner = host.runner()
    [item] = runner.claim(limit=4, wait_s=0).items
    host.state.draining.set()
    reply = runner.start(item.id, item.attempt)
    assert (reply.go, reply.reason) == (False, "host shutting down")
    row = host.row(message_id)
    assert (row.status, row.tries, row.lease_owner) == ("pending", 0, None)
    assert host.runs(message_id) == []


def test_another_runner_cannot_start_a_row_it_does_not_hold(host: Host) -> None:  # noqa: F811
    _scheduled_soon(host)
    [item] = host.runner().claim(limit=4, wait_s=0).items
    with pytest.raises(LeaseLost):
        host.runner(owner="r-other").start(item.id, item.attempt)
