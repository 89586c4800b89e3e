"""The host loop sleeps between passes, even when due work is waiting for something other than the host."""

from __future__ import annotations

import threading
import time

import pytest

import sweeper.loop
from inbox import Inbox


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
    loop = threading.Thread(target=sweeper.loop.run_loop, args=(inbox.engine,),
                            kwargs={"interval_s": 60.0, "stop": stop})
    loop.start()
    time.sleep(1.0)
    stop.set()
    loop.join(timeout=10)
    assert passes <= 2  # one pass, then asleep until the interval or the next future row
