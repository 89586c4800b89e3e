"""One host pass: which due rows the host ends itself and which it leaves for a session's runner."""

from __future__ import annotations

from inbox import Inbox
from sweeper.sweep import sweep_once
from tests.conftest import Clock


def test_a_reminder_with_a_script_waits_for_the_runner_that_runs_its_script(inbox: Inbox, clock: Clock) -> None:
    inbox.schedule("plain reminder", in_="1m", remind=True)
    gated = inbox.schedule("gated reminder", in_="1m", remind=True, script="echo '{\"wakeAgent\": false}'")
    clock.advance(minutes=2)

    report = sweep_once(inbox.engine, now=clock())

    assert report.delivered == 1
    assert [o.text for o in inbox.outbox()] == ["plain reminder"]
    assert report.waiting_sessions == {"main": 1}  # the gated one: only a runner may run its script
    assert inbox.get(gated.series_id).status == "active"
