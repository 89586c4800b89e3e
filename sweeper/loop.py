"""The host loop: a sweep every interval as the safety net, and at once when the earliest row comes due.

Between passes the loop sleeps until the sooner of the interval and the next ``process_after``. It also
notices writes from other processes (a new message, an update) without reading the tables: on SQLite through
``PRAGMA data_version``, which changes whenever another connection commits, so a message sent with
``inbox send`` is looked at within a fraction of a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from inbox.defaults import BACKOFF, DEFAULT_LEASE, DEFAULT_MISFIRE_GRACE
from inbox.store.engine import wake_channel
from inbox.store.outage import STORE_ERRORS, is_outage
from inbox.store.types import utcnow
from sweeper.outage import ClockWatch, Outage
from sweeper.sweep import PassReport, next_due, sweep_once

log = logging.getLogger("inbox.sweeper")
CHANGE_CHECK_S = 0.1  # how often a busy loop looks for writes by other processes
# A loop with nothing to do for QUIET_AFTER_S looks only every IDLE_CHECK_S: each look wakes the process (about half
# a millisecond of CPU), ten a second were half a percent of a core for a host with nothing to do. A message sent
# to a quiet host is looked at within half a second; one sent while it is busy, within a tenth.
IDLE_CHECK_S = 0.5
QUIET_AFTER_S = 60.0
# Another process's commit asks for a pass, and so does the host's own dispatcher's (SQLite cannot tell them apart):
# a pass that reads a large due backlog, kept up after every such commit, would take a core from the work it is
# for. So writes elsewhere are looked for at most every WATCH_SPACING times the last pass's own length: passes they
# start keep to about a fifth of the loop's time. A nudge or a due time still starts one at once.
WATCH_SPACING = 4.0


class ChangeWatch:
    """Tells whether inbound messages may have changed since the last look.

    SQLite: ``PRAGMA data_version`` moves whenever another connection commits. PostgreSQL: commits that wrote
    inbound messages notify the store's channel (see inbox.store.engine.transaction). A connection lost (the
    server restarted) is opened again at the next look, which then says "changed": what was written meanwhile
    was not heard.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._conn: Connection | None = None
        self._last: int | None = None
        # The driver's own errors too: PostgreSQL notifications are read from the driver's connection.
        self._errors: tuple[type[Exception], ...] = (*STORE_ERRORS, engine.dialect.loaded_dbapi.Error)
        self._open()

    def _open(self) -> None:
        conn = self._engine.connect()
        try:
            if self._sqlite:
                self._conn = conn
                self._last = self._version()
            else:
                raw = conn.connection.driver_connection
                raw.autocommit = True  # type: ignore[union-attr]
                raw.execute(f"LISTEN {wake_channel(self._engine)}")  # type: ignore[union-attr]
                self._conn = conn
        except BaseException:
            self._conn = None
            conn.invalidate()
            conn.close()
            raise

    def _version(self) -> int | None:
        assert self._conn is not None
        value = self._conn.exec_driver_sql("PRAGMA data_version").scalar()
        self._conn.rollback()
        return int(value) if value is not None else None

    def _look(self) -> bool:
        assert self._conn is not None
        if not self._sqlite:
            raw = self._conn.connection.driver_connection
            return len(list(raw.notifies(timeout=0))) > 0  # type: ignore[union-attr]
        current = self._version()
        if current == self._last:
            return False
        self._last = current
        return True

    def changed(self) -> bool:
        if self._conn is None:
            try:
                self._open()
            except self._errors:
                return False  # still away: the loop's passes say so and wait
            return True
        try:
            return self._look()
        except self._errors:
            self.close()
            return True  # the next pass finds out whether the store is away

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.invalidate()  # a LISTENing or autocommit connection must not go back to the pool
            conn.close()


def run_loop(
    engine: Engine,
    *,
    interval_s: float,
    stop: threading.Event,
    clock: Callable[[], datetime] = utcnow,
    grace: timedelta = DEFAULT_MISFIRE_GRACE,
    backoff: Sequence[timedelta] = BACKOFF,
    on_pass: Callable[[PassReport], None] | None = None,
    nudge: threading.Event | None = None,
    lease: timedelta = DEFAULT_LEASE,
    outage: Outage | None = None,
    monotonic: Callable[[], float] | None = None,
) -> None:
    """Sweep until ``stop`` is set. ``on_pass`` sees each pass's report (the host wakes runners from it);
    setting ``nudge`` asks for a pass now (e.g. a runner exited while its session still had work).

    A store that cannot be used (its server restarting, its disk full) does not end the loop: the pass is tried
    again after a short wait, and the outage is logged in one line when it begins and when it ends. ``lease``
    is the runners' lease, which they could not renew meanwhile (see sweeper.outage); ``outage`` may be shared
    with the host's HTTP endpoints, so an outage is told once, whoever meets it first.

    ``monotonic`` is the real time the wall ``clock`` is compared with to notice it stepping (default: the
    system's, when ``clock`` is the system's; a test that moves a clock by hand says how real time moved, or
    nothing, and no step is looked for)."""
    watch = ChangeWatch(engine)
    nudge = nudge or threading.Event()
    busy_until = time.monotonic() + QUIET_AFTER_S
    real_time = monotonic or (time.monotonic if clock is utcnow else None)
    outage = outage or Outage(engine, log, monotonic=real_time or time.monotonic)
    steps = ClockWatch(real_time) if real_time is not None else None
    try:
        while not stop.is_set():
            now = clock()
            nudge.clear()
            if steps is not None:
                _clock_step(steps.step(now), outage, lease)
            try:
                began = time.perf_counter()
                report = sweep_once(
                    engine, now=now, grace=grace, backoff=backoff, clock=clock, expired_before=outage.lease_cutoff(now)
                )
                report = replace(report, seconds=time.perf_counter() - began)
                if on_pass is not None:
                    on_pass(report)
                deadline = now + timedelta(seconds=interval_s)
                due = next_due(engine, after=now)
            except STORE_ERRORS as exc:
                if not is_outage(exc):
                    raise
                stop.wait(min(outage.failed(exc), interval_s))
                continue
            outage.succeeded(lease=lease)
            if due is not None and due < deadline:
                deadline = due
            if report.recovered or report.delivered or report.waiting_sessions or due == deadline:
                busy_until = time.monotonic() + QUIET_AFTER_S
            poll_s = CHANGE_CHECK_S if time.monotonic() < busy_until else IDLE_CHECK_S
            poll_s = max(poll_s, WATCH_SPACING * report.seconds)
            if _sleep_until(
                deadline, stop=stop, nudge=nudge, watch=watch, clock=clock, longest_s=interval_s, poll_s=poll_s
            ):
                busy_until = time.monotonic() + QUIET_AFTER_S
    finally:
        watch.close()


def _clock_step(seconds: float, outage: Outage, lease: timedelta) -> None:
    if seconds > 0:
        outage.clock_stepped(seconds, lease=lease)
        log.warning(
            "the clock stepped forward by %.0f s: slots passed meanwhile follow their catch-up policy, "
            "running work keeps its leases",
            seconds,
        )
    elif seconds < 0:
        log.warning(
            "the clock stepped back by %.0f s: what ran stays done; each series waits for its next slot", -seconds
        )


def _sleep_until(
    deadline: datetime,
    *,
    stop: threading.Event,
    nudge: threading.Event,
    watch: ChangeWatch,
    clock: Callable[[], datetime],
    longest_s: float,
    poll_s: float = CHANGE_CHECK_S,
) -> bool:
    """Until ``deadline`` on ``clock``, but never longer than ``longest_s`` of real time (a clock stepped back
    while the loop sleeps must not hold off the safety-net pass by the step), looking for writes elsewhere every
    ``poll_s``. Whether it was woken early: nudged, or by a write elsewhere."""
    woke_at = time.monotonic()
    while not stop.is_set() and not nudge.is_set():
        left = min((deadline - clock()).total_seconds(), longest_s - (time.monotonic() - woke_at))
        if left <= 0:
            return False
        if nudge.wait(min(left, poll_s)):
            return True
        if watch.changed():
            return True  # something was written elsewhere: look again now
    return nudge.is_set()
