"""The http tasks the host runs itself (sweeper/host_requests.py), against a real receiver on loopback, on every
backend: the outcomes a runner's run gives, written the same way; no runner woken for them; limits and priorities
held; a host gone mid-request loses nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from agent_runner.ending import http_done, kind_result
from inbox import Inbox
from inbox.store.claims import claim_due
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, MessageOut, Run
from inbox.store.types import utcnow
from sweeper.http.runner_api import work_item
from sweeper.http_work import HttpWork
from sweeper.meter import TokenMeter
from sweeper.results import record_result
from sweeper.sweep import sweep_once
from tests.acceptance.receiver import Receiver, receiving
from tests.integration.helpers import host_requests

WAIT_S = 60.0


@pytest.fixture
def inbox(store_url: str, home: Path) -> Iterator[Inbox]:
    """A store on the real clock: the host's dispatcher reads it."""
    with Inbox(store_url, env={"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}) as opened:
        yield opened


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def _http(inbox: Inbox, receiver: Receiver, path: str, **given: Any) -> MessageIn:
    """A person's http task to ``path``, due now."""
    task = inbox.schedule("ping", in_="1h", do="http", with_={"url": receiver.url(path)}, **given)
    with transaction(inbox.engine) as db:
        db.execute(update(MessageIn).where(col(MessageIn.id) == task.id).values(process_after=utcnow()))
        row = db.get(MessageIn, task.id)
        assert row is not None
        return row


def _row(inbox: Inbox, message_id: str) -> MessageIn:
    with transaction(inbox.engine) as db:
        row = db.get(MessageIn, message_id)
        assert row is not None
        return row


def _runs(inbox: Inbox, message_id: str) -> list[Run]:
    with transaction(inbox.engine) as db:
        return list(db.exec(select(Run).where(Run.message_id == message_id).order_by(col(Run.attempt))).all())


def _outbox(inbox: Inbox, message_id: str) -> list[MessageOut]:
    with transaction(inbox.engine) as db:
        return list(db.exec(select(MessageOut).where(MessageOut.in_reply_to == message_id)).all())


def _run_all(inbox: Inbox, **options: Any) -> None:
    with host_requests(inbox.engine, **options) as requests:
        assert requests.wait_idle(timeout_s=WAIT_S)


def test_outcomes_results_and_retries_are_a_runners(inbox: Inbox, receiver: Receiver) -> None:
    ok = _http(inbox, receiver, "/ok")
    quiet = _http(inbox, receiver, "/quiet")
    missing = _http(inbox, receiver, "/missing", retries=3)
    broken = _http(inbox, receiver, "/broken", retries=1)
    before = utcnow()
    _run_all(inbox)
    assert [(r.outcome, r.runner, r.model_output) for r in _runs(inbox, ok.id)] == [("completed", "h/http", "pong")]
    assert [(o.kind, o.text) for o in _outbox(inbox, ok.id)] == [("reply", "pong")]
    assert _row(inbox, ok.id).status == "completed"
    assert [r.outcome for r in _runs(inbox, quiet.id)] == ["silent"] and _outbox(inbox, quiet.id) == []
    assert [(r.outcome, r.error) for r in _runs(inbox, missing.id)] == [("failed", "HTTP 404: no such thing")]
    assert _row(inbox, missing.id).status == "failed"  # not retried: a 404 is not transient
    retried = _row(inbox, broken.id)
    assert (retried.status, retried.tries, retried.lease_owner) == ("pending", 1, None)
    assert retried.process_after >= before + timedelta(seconds=30)  # the first backoff step
    assert [(r.outcome, r.attempt) for r in _runs(inbox, broken.id)] == [("failed", 1)]
    assert [(r.method, r.headers["Idempotency-Key"]) for r in receiver.requests if r.path == "/ok"] == [("POST", ok.id)]


def _written(inbox: Inbox, message_id: str) -> tuple[object, ...]:
    row, (run,), texts = _row(inbox, message_id), _runs(inbox, message_id), _outbox(inbox, message_id)
    return (
        (row.status, row.reason, row.lease_owner, row.lease_expires_at, row.tries),
        (run.outcome, run.attempt, run.error, run.model_output, run.input_tokens, run.script_output),
        [(o.kind, o.text, o.session, o.series_id == row.series_id, o.channel) for o in texts],
    )


@pytest.mark.parametrize("path", ["/ok", "/quiet"])
def test_a_batched_end_writes_what_a_runners_result_writes(inbox: Inbox, receiver: Receiver, path: str) -> None:
    by_runner = _http(inbox, receiver, path)
    with transaction(inbox.engine) as db:  # a runner's claim and result for the same request, the general way
        [row] = claim_due(db, owner="r-a", now=utcnow(), session=by_runner.session, limit=1)
        item = work_item(row)
    answer = HttpWork().run(row)
    result = kind_result(http_done(answer), id=item.id, attempt=item.attempt, started_at=utcnow())
    record_result(
        inbox.engine, TokenMeter(), result, session=row.session, owner="r-a", backoff=[], daily_series_tokens=10**6
    )
    by_host = _http(inbox, receiver, path)
    _run_all(inbox)
    assert _written(inbox, by_host.id) == _written(inbox, by_runner.id)


def test_no_runner_is_woken_for_them_and_no_runner_claims_them(inbox: Inbox, receiver: Receiver) -> None:
    rows = [_http(inbox, receiver, "/ok", session=f"s{i}") for i in range(3)]
    report = sweep_once(inbox.engine, now=utcnow())
    assert (report.waiting_sessions, report.host_requests) == ({}, True)
    with transaction(inbox.engine) as db:
        assert claim_due(db, owner="r-a", now=utcnow(), session="s0", limit=10, work="runner") == []
    gated = _http(inbox, receiver, "/ok", session="s0", script="echo '{}'")  # a pre-script runs in a runner
    assert sweep_once(inbox.engine, now=utcnow()).waiting_sessions == {"s0": 1}
    _run_all(inbox)
    assert [_row(inbox, row.id).status for row in rows] == ["completed"] * 3
    assert _row(inbox, gated.id).status == "pending"
    assert sweep_once(inbox.engine, now=utcnow()).host_requests is False


def test_a_tags_limit_holds_while_the_host_runs_them(inbox: Inbox, receiver: Receiver) -> None:
    inbox.set_limit("api", max_running=1)
    limited = [_http(inbox, receiver, "/slow", tags=["api"]) for _ in range(4)]
    free = [_http(inbox, receiver, "/slow") for _ in range(4)]
    _run_all(inbox)
    assert [_row(inbox, row.id).status for row in limited + free] == ["completed"] * 8
    spans = sorted((run.started_at, run.ended_at) for row in limited for run in _runs(inbox, row.id))
    assert all(end <= start for (_, end), (start, _) in pairwise(spans)), spans
    assert receiver.most_in_flight >= 2  # the unlimited ones went at once: the test could see an overlap


def test_the_higher_priority_goes_first(inbox: Inbox, receiver: Receiver) -> None:
    low = [_http(inbox, receiver, f"/ok?low{i}") for i in range(3)]
    high = _http(inbox, receiver, "/ok?high", priority=5)  # the newest, and yet the first
    _run_all(inbox, batch=1, workers=1)
    assert [r.path for r in receiver.requests] == ["/ok?high", "/ok?low0", "/ok?low1", "/ok?low2"]
    assert [_row(inbox, row.id).status for row in [*low, high]] == ["completed"] * 4


def test_a_host_gone_mid_request_loses_nothing(inbox: Inbox, receiver: Receiver) -> None:
    """A host killed while its request is in flight stops renewing the lease: the row is retried with one more
    try, its interrupted attempt recorded; nothing is left running, nothing is recorded completed."""
    row = _http(inbox, receiver, "/hang", retries=2)
    with host_requests(inbox.engine, owner="gone/http") as requests:
        requests.kick()
        running = _wait_for(lambda: _row(inbox, row.id).lease_owner == "gone/http")
        assert running
        lease = _row(inbox, row.id).lease_expires_at
        assert lease is not None
        # The host dies here: nothing more of it writes. Any host's sweep after the lease ran out takes it back.
        requests.stop(0)
    report = sweep_once(inbox.engine, now=lease + timedelta(seconds=1))
    assert report.recovered == 1
    after = _row(inbox, row.id)
    assert (after.status, after.tries, after.lease_owner) == ("pending", 1, None)
    assert [(r.outcome, r.runner) for r in _runs(inbox, row.id)] == [("interrupted", "gone/http")]


def _wait_for(probe: Any, timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.05)
    return False
