"""Sending many messages at once: all or nothing, each checked, indistinguishable from single sends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inbox import Inbox
from inbox.errors import InvalidInput
from sweeper.sweep import sweep_once
from tests.conftest import Clock


def test_send_many_writes_every_message_like_a_single_send(inbox: Inbox, clock: Clock) -> None:
    single = inbox.send("one", session="ops")
    many = inbox.send_many(["two", "three", "four"], session="ops")
    assert [m.text for m in many] == ["two", "three", "four"]
    assert len({m.id for m in [single, *many]}) == 4
    assert {(m.kind, m.status, m.created_by, m.session) for m in [single, *many]} == {
        ("chat", "pending", "user", "ops")
    }
    assert sweep_once(inbox.engine, now=clock()).waiting_sessions == {"ops": 4}  # all due, all waiting for a runner


def test_one_bad_message_rejects_the_whole_batch(inbox: Inbox, clock: Clock) -> None:
    with pytest.raises(InvalidInput) as rejected:
        inbox.send_many(["fine", "   ", "also fine"])
    assert rejected.value.field == "texts[1]"
    assert sweep_once(inbox.engine, now=clock()).waiting_sessions == {}  # nothing was written


def test_messages_sent_for_later_wait_until_then(inbox: Inbox, clock: Clock) -> None:
    later = inbox.send_many(["a", "b"], in_="10m")
    assert all(m.process_after == clock() + timedelta(minutes=10) for m in later)
    assert sweep_once(inbox.engine, now=clock()).waiting_sessions == {}
    clock.advance(minutes=11)
    assert sweep_once(inbox.engine, now=clock()).waiting_sessions == {"main": 2}
