"""Connections kept open between requests to one receiver (sweeper.kept_connections), through ``http`` tasks'
requests, against a real keep-alive receiver on loopback: reused while open, never used once the receiver has
closed it, and no request sent twice either way."""

from __future__ import annotations

from scripts.webhook_receiver.server import Receiver
from sweeper.http_work import HttpWork


def _post(work: HttpWork, receiver: Receiver, key: str) -> int | None:
    given = {"url": receiver.url("/ping"), "method": "POST", "body": {"key": key}}
    return work.call(given, by_agent=False, timeout_s=5, key=key).status


def test_requests_to_one_receiver_share_one_connection() -> None:
    work = HttpWork()
    with Receiver() as receiver:
        statuses = [_post(work, receiver, f"k{n}") for n in range(5)]
    assert statuses == [200] * 5
    assert [r.key for r in receiver.received] == [f"k{n}" for n in range(5)]
    assert receiver.connections == 1


def test_a_connection_the_receiver_closed_while_idle_is_replaced_before_anything_is_sent() -> None:
    work = HttpWork()
    with Receiver() as receiver:
        first = _post(work, receiver, "before")
        receiver.close_idle()
        second = _post(work, receiver, "after")
    assert (first, second) == (200, 200)
    assert [r.key for r in receiver.received] == ["before", "after"]  # each once: no resend on a stale connection
    assert receiver.connections == 2


def test_each_address_keeps_its_own_connection() -> None:
    work = HttpWork()
    with Receiver() as one, Receiver() as other:
        statuses = [_post(work, receiver, f"{n}") for n in range(3) for receiver in (one, other)]
    assert statuses == [200] * 6
    assert (one.connections, other.connections) == (1, 1)
    assert len(one.received) == len(other.received) == 3
