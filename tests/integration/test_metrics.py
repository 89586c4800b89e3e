"""``GET /metrics`` over real HTTP: the Prometheus text format, figures computed from the store, read scope enough."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from inbox import Inbox
from inbox.enums import DeliveryStatus, Outcome
from inbox.ids import encode
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.engine import transaction
from inbox.store.models import MessageOut
from sweeper.http.app import HostState, make_app
from sweeper.http.runner_auth import RunnerIdentity
from tests.conftest import Clock
from tests.integration.helpers import claim, stored_text
from tests.integration.unix_server import serving_on_loopback


@pytest.fixture
def state(store_url: str, tmp_path: Path, clock: Clock) -> Iterator[HostState]:
    inbox = Inbox(store_url, env={"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}, actor="api", clock=clock)
    try:
        yield HostState(inbox=inbox)
    finally:
        inbox.close()


@pytest.fixture
def host(state: HostState) -> Iterator[tuple[Inbox, str]]:
    with serving_on_loopback(make_app(state)) as url:
        yield state.inbox, url


def _scrape(url: str, token: str) -> dict[str, list[Sample]]:
    answer = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {family.name: family.samples for family in text_string_to_metric_families(answer.text)}


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    [found] = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return found


def _ran(inbox: Inbox, clock: Clock, outcome: Outcome, seconds: float, tokens: tuple[int, int]) -> None:
    [row] = claim(inbox, limit=1)
    report = RunReport(
        outcome=outcome,
        started_at=clock() - timedelta(seconds=seconds),
        error="HTTP 500" if outcome == Outcome.FAILED else None,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
    )
    with transaction(inbox.engine) as db:
        end_occurrence(db, row.id, report, now=clock())


def test_metrics_count_the_queue_and_the_last_hours_runs(host: tuple[Inbox, str], clock: Clock) -> None:
    inbox, url = host
    reader = inbox.create_token("prometheus", scope="read").token
    inbox.send("first")
    _ran(inbox, clock, Outcome.COMPLETED, 0.3, (100, 20))
    inbox.send("second")
    _ran(inbox, clock, Outcome.FAILED, 4.0, (50, 0))
    clock.advance(hours=2)  # what ended more than an hour ago leaves the run figures; the queue stays
    inbox.send("third")
    _ran(inbox, clock, Outcome.COMPLETED, 45.0, (7, 3))
    paused = inbox.schedule("weekly review", cron="0 9 * * 1")
    inbox.pause(paused.series_id)
    inbox.send("waiting")
    inbox.send("later", in_="1h")
    clock.advance(minutes=1)

    metrics = _scrape(url, reader)

    statuses = metrics["inbox_messages"]
    assert {s.labels["status"]: s.value for s in statuses} == {"pending": 2, "running": 0, "paused": 1}
    assert _value(metrics["inbox_due_backlog"], "inbox_due_backlog") == 1
    assert _value(metrics["inbox_due_backlog_oldest_seconds"], "inbox_due_backlog_oldest_seconds") == 60
    assert _value(metrics["inbox_runs_recent"], "inbox_runs_recent", outcome="completed") == 1
    assert not [s for s in metrics["inbox_runs_recent"] if s.labels["outcome"] == "failed"]
    durations = metrics["inbox_run_duration_seconds"]
    assert _value(durations, "inbox_run_duration_seconds_bucket", le="30.0") == 0
    assert _value(durations, "inbox_run_duration_seconds_bucket", le="60.0") == 1
    assert _value(durations, "inbox_run_duration_seconds_bucket", le="+Inf") == 1
    seconds = metrics["inbox_run_duration_seconds_gsum"]  # a gauge histogram's sum is a gauge of its own
    assert _value(seconds, "inbox_run_duration_seconds_gsum") == pytest.approx(45.0, abs=0.01)
    tokens = metrics["inbox_model_tokens_recent"]
    assert (
        _value(tokens, "inbox_model_tokens_recent", direction="input"),
        _value(tokens, "inbox_model_tokens_recent", direction="output"),
    ) == (7, 3)
    assert _value(metrics["inbox_outbox_items"], "inbox_outbox_items") >= 1  # the failure notice at least
    assert _value(metrics["inbox_api_tokens_active"], "inbox_api_tokens_active") == 1


def test_metrics_say_how_late_the_last_hours_runs_started(host: tuple[Inbox, str], clock: Clock) -> None:
    inbox, url = host
    reader = inbox.create_token("prometheus", scope="read").token
    inbox.send("on time")
    _ran(inbox, clock, Outcome.COMPLETED, 0.0, (0, 0))
    inbox.send("late", in_="1m")
    clock.advance(minutes=1, seconds=3)  # the host was away: it starts 3 s after the message's time
    _ran(inbox, clock, Outcome.COMPLETED, 0.0, (0, 0))

    late = _scrape(url, reader)["inbox_run_lateness_seconds"]
    counts = {s.labels["le"]: s.value for s in late if s.name == "inbox_run_lateness_seconds_bucket"}
    assert (counts["0.01"], counts["1.0"], counts["5.0"], counts["+Inf"]) == (1, 1, 2, 2)


def test_metrics_count_failed_deliveries_of_the_last_hour(host: tuple[Inbox, str], clock: Clock) -> None:
    inbox, url = host
    reader = inbox.create_token("prometheus", scope="read").token
    now_ms = int(clock().timestamp() * 1000)
    made = [  # (written how long ago, delivery)
        (timedelta(hours=2), DeliveryStatus.FAILED),
        (timedelta(minutes=5), DeliveryStatus.FAILED),
        (timedelta(minutes=5), DeliveryStatus.DELIVERED),
        (timedelta(minutes=1), DeliveryStatus.PENDING),
    ]
    with transaction(inbox.engine) as db:
        for n, (ago, delivery) in enumerate(made):
            written = encode(now_ms - int(ago.total_seconds() * 1000), n)  # ids sort by when they were made
            db.add(MessageOut(id=written, text="hi", channel="phone", delivery=delivery, created_at=clock() - ago))
    metrics = _scrape(url, reader)
    assert _value(metrics["inbox_deliveries_failed_recent"], "inbox_deliveries_failed_recent") == 1


def test_metrics_say_what_the_serving_host_has_going(state: HostState, host: tuple[Inbox, str]) -> None:
    inbox, url = host
    reader = inbox.create_token("prometheus", scope="read").token
    assert "inbox_host_sweep_seconds" not in _scrape(url, reader)  # no pass yet
    state.runner_tokens.issue(RunnerIdentity(session="main", owner="runner-a"))
    state.runner_tokens.issue(RunnerIdentity(session="work", owner="runner-b"))
    state.last_sweep_s = 0.004
    metrics = _scrape(url, reader)
    assert _value(metrics["inbox_host_runners"], "inbox_host_runners") == 2
    assert _value(metrics["inbox_host_sweep_seconds"], "inbox_host_sweep_seconds") == pytest.approx(0.004)


def test_metrics_need_a_known_token_of_any_scope(host: tuple[Inbox, str]) -> None:
    inbox, url = host
    before = stored_text(inbox.engine)
    assert httpx.get(f"{url}/metrics", timeout=10).status_code == 401
    wrong = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and "inbox_" not in wrong.text
    assert stored_text(inbox.engine) == before
    for scope in ("read", "send", "admin"):
        assert "inbox_messages" in _scrape(url, inbox.create_token(scope, scope=scope).token)
