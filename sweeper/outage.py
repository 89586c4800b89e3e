"""How the host lives through lost time: a store it cannot use for a while (inbox.store.outage), and a wall
clock that steps (NTP correcting it, someone setting it).

A store away: the host says so in one line, keeps trying, and says when the store is back.

One :class:`Outage` per host, shared by the places that meet such errors (the sweep loop, the HTTP endpoints):
the first failure is logged with what is wrong and where, later ones at most once a minute, and the recovery
(seen by the loop's next good pass) with how long it took.
The loop also learns from it how long to wait before its next try, and for how long after the store came back
leases must be judged leniently: a runner could not renew its lease while the store was away.

A clock that steps forward makes every running lease look expired at once, though its runner is alive and
renewing (in real time, no time passed): leases are judged as if the step had not happened, for one lease, by
which time the runners have renewed them on the new clock. A step back needs nothing: what ran stays run, and a
series' next slot comes when the clock reaches it again (docs/reliability.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from inbox.store.outage import describe_outage

REMIND_EVERY_S = 60.0
CLOCK_STEP_S = 1.0  # the wall clock moved this much more (or less) than real time: a step, not NTP's slewing
RETRY_STEPS_S = (0.5, 1.0, 2.0, 5.0)  # the loop's waits between tries, the last repeated


class Outage:
    def __init__(self, engine: Engine, log: logging.Logger, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._log = log
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._since: float | None = None  # when the store was last usable before the current failures
        self._last_ok = self._monotonic()
        self._failures = 0
        self._reminded = 0.0
        self._lenient_until = 0.0
        self._lost = 0.0  # how long the last outage lasted

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> float:
        """Note a failure (logged when it begins, then once a minute); returns how long to wait before trying again."""
        now = self._monotonic()
        with self._lock:
            self._failures += 1
            if self._since is None:
                self._since = self._last_ok
                self._reminded = now
                self._log.error("%s; trying again", describe_outage(self._engine, exc))
            elif now - self._reminded >= REMIND_EVERY_S:
                self._reminded = now
                self._log.error("still failing after %.0f s: %s", now - self._since, describe_outage(self._engine, exc))
            return RETRY_STEPS_S[min(self._failures, len(RETRY_STEPS_S)) - 1]

    def succeeded(self, *, lease: timedelta = timedelta(0)) -> None:
        """The store answered: an outage in progress is over (said once), leases judged leniently for ``lease``."""
        now = self._monotonic()
        with self._lock:
            self._last_ok = now
            if self._since is None:
                return
            self._lost = now - self._since
            self._lenient_until = now + lease.total_seconds()
            self._log.warning("the store answers again, after %.1f s", self._lost)
            self._since = None
            self._failures = 0

    def clock_stepped(self, seconds: float, *, lease: timedelta) -> None:
        """The wall clock jumped forward by ``seconds``: leases are judged without that jump for one lease."""
        with self._lock:
            now = self._monotonic()
            self._lost = seconds + (self._lost if now < self._lenient_until else 0.0)
            self._lenient_until = now + lease.total_seconds()

    def lease_cutoff(self, now: datetime) -> datetime:
        """Leases that expired before this instant are taken back: ``now``, but during an outage and for one lease
        after it ``now`` less the outage, so a live runner gets the time it lost to renew before its work is
        retried."""
        with self._lock:
            if self._since is not None:
                return now - timedelta(seconds=self._monotonic() - self._since)
            if self._monotonic() < self._lenient_until:
                return now - timedelta(seconds=self._lost)
            return now


class ClockWatch:
    """Notices the wall clock stepping: between two looks it moved by other than real (monotonic) time."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._last: tuple[datetime, float] | None = None

    def step(self, wall: datetime) -> float:
        """Seconds the clock stepped since the last look (forward > 0, back < 0); 0.0 when it did not."""
        mono = self._monotonic()
        last, self._last = self._last, (wall, mono)
        if last is None:
            return 0.0
        drift = (wall - last[0]).total_seconds() - (mono - last[1])
        return drift if abs(drift) >= CLOCK_STEP_S else 0.0
