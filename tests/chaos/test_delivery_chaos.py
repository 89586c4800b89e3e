"""Delivery under chaos, on every backend: two hosts deliver reminders to a webhook receiver that refuses about half
of its requests, while a host is killed with SIGKILL every few seconds and started again.

Afterwards every outbox row has ended ``delivered`` or ``failed`` with its attempts recorded, no request was sent
by a claim that did not count it, and the receiver saw a row more than once only under the same
``Idempotency-Key``, with the same signed body (a host killed between sending and recording sends it again).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from inbox.store.engine import transaction
from inbox.store.models import MessageOut
from inbox.store.types import utcnow
from scripts.webhook_receiver.server import Received, Receiver, refusing
from tests.acceptance.served import serving
from tests.chaos.cluster import Cluster, Monkey, kill_leftovers

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

REMINDERS = 240
SESSIONS = 4
FLOW_S = 18.0  # reminders come due over this long, while hosts are killed
SETTLE_S = 40.0
# One attempt may take 1 s (a claim's lease is then 9 s); a refused attempt is tried again a second later, up to
# nine times, so a row that the receiver keeps refusing still ends within the test.
HOST_ENV = {"INBOX_DELIVERY_TIMEOUT": "1", "INBOX_DELIVERY_BACKOFF": ",".join(["1s"] * 8)}


def _outbox(served_engine: object) -> list[MessageOut]:
    with transaction(served_engine) as db:  # type: ignore[arg-type]
        return list(db.exec(select(MessageOut)).all())


def test_every_row_ends_delivered_or_failed_and_repeats_carry_the_same_key(
    backend: str, store_url: str, home: Path
) -> None:
    secrets: dict[str, str] = {}
    try:
        # Each answer takes a moment, so a killed host often dies between sending and recording.
        receiver = Receiver(refusing(0.5, seed=7), delay_s=0.3)
        with receiver, serving(home, store_url) as served:
            for index in range(SESSIONS):
                made = served.inbox.add_channel(f"phone-{index}", webhook=receiver.url(f"/s{index}"))
                assert made.secret is not None
                secrets[f"/s{index}"] = made.secret
                served.inbox.set_session(f"s{index}", deliver=f"phone-{index}")
            start = utcnow() + timedelta(seconds=3)
            for index in range(REMINDERS):
                due = start + timedelta(seconds=FLOW_S * index / REMINDERS)
                served.inbox.schedule(
                    f"reminder {index}", at=due.isoformat(), remind=True, session=f"s{index % SESSIONS}"
                )
            cluster = Cluster(served, extra_env=HOST_ENV)
            monkey = Monkey(cluster, seed=5, period_s=(2.0, 4.0), host_every=1, down_s=(0.3, 1.0))
            cluster.start()
            try:
                monkey.start()
                time.sleep(3 + FLOW_S)
            finally:
                monkey.stop()
            cluster.restart_dead()
            deadline = time.monotonic() + SETTLE_S
            while time.monotonic() < deadline:
                rows = _outbox(served.inbox.engine)
                if len(rows) == REMINDERS and all(row.delivery in ("delivered", "failed") for row in rows):
                    break
                time.sleep(0.5)
            served.stop_hosts()
            rows = _outbox(served.inbox.engine)
            got = receiver.received
    finally:
        kill_leftovers(home)
    report = _report(rows, got, monkey.kills.events)
    assert monkey.kills.host_kills >= 3, report
    assert len(rows) == REMINDERS, report
    unsettled = [row.id for row in rows if row.delivery not in ("delivered", "failed") or row.attempts < 1]
    assert unsettled == [], report

    by_key: dict[str, list[Received]] = defaultdict(list)
    for request in got:
        by_key[request.key or ""].append(request)
    attempts = {row.id: row.attempts for row in rows}
    assert set(by_key) <= set(attempts), report  # nothing sent but outbox rows, each under its own id
    for key, requests in by_key.items():
        assert len(requests) <= attempts[key], f"{key}: {len(requests)} sends, {attempts[key]} attempts\n{report}"
        assert len({r.body for r in requests}) == 1, f"{key} was sent with different bodies\n{report}"
        assert all(r.signed_by(secrets[r.path]) for r in requests), report
    for row in rows:
        accepted = [r for r in by_key.get(row.id, []) if r.status == 200]
        if row.delivery == "delivered":
            assert accepted, f"{row.id} is recorded delivered but the receiver never accepted it\n{report}"
    # The run did what it is for: refusals were retried, and kills left claims that were taken up again.
    assert any(row.attempts > 1 for row in rows if row.delivery == "delivered"), report


def _report(rows: list[MessageOut], got: list[Received], kills: list[str]) -> str:
    endings = Counter(row.delivery for row in rows)
    attempts = Counter(row.attempts for row in rows)
    accepted = Counter(r.key for r in got if r.status == 200)
    repeated = sum(1 for count in accepted.values() if count > 1)
    return "\n".join(
        [
            f"outbox rows: {len(rows)}, endings: {dict(endings)}, attempts: {dict(sorted(attempts.items()))}",
            f"requests: {len(got)}, refused: {sum(r.status != 200 for r in got)}, rows accepted twice or more: "
            f"{repeated}",
            *kills,
        ]
    )
