"""Cron mode (``inbox sweep --once``): one complete pass of the host, then exit.

The pass runs the same :class:`~sweeper.host.Host` as ``inbox serve`` (socket server, runtime, model proxy), only
without the endless loop: a sweep delivers reminders and names the sessions with due work, a runner is started
for each, and the pass waits until the http tasks the host runs itself have ended (sweeper.host_requests) and every
runner has drained its session and exited. Runners are told to stop as soon as they find nothing more to claim (a
short ``INBOX_RUNNER_IDLE``); each run is bounded by its own timeout, and a runner that stops renewing its leases is
killed by the recovery sweep made while waiting.

Outbox rows are sent through their channels while the pass runs (the host's deliverer), and before it exits
the pass waits until every row due by then has had its attempt, up to ``DELIVERY_WAIT_S``; a row whose attempt
failed in a way worth retrying waits for a later pass (docs/delivery.md).

Work the pass's own runs make due at once (a chain's next task, a ``run_task_now``, a retry with no wait) is
taken by another round, as long as the last round ran something and at most ``MAX_ROUNDS`` times, so a pass
always ends; whatever comes due later is the next pass's. Overlapping passes are safe because every row is
claimed under a lease, by a runner of one pass only.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import col, select

from inbox.store.engine import transaction
from inbox.store.models import Run
from inbox.store.types import utcnow
from sweeper.drop_watch import DropWatch
from sweeper.host import Host
from sweeper.sweep import PassReport, sweep_once

log = logging.getLogger("inbox.sweeper")
MAX_ROUNDS = 5
DELIVERY_WAIT_S = 60.0  # how long a pass waits, at its end, for the outbox rows due to be sent
RUNNER_IDLE_S = 2.0  # long enough for a fresh runner's first claim to see the work that woke it


@dataclass
class OnceReport:
    recovered: int = 0
    delivered: int = 0  # reminders
    sent: int = 0  # outbox rows delivered through their channels
    send_failures: int = 0  # outbox rows whose delivery failed for good
    outcomes: Counter[str] = field(default_factory=Counter)  # runs ended by this pass's runners, by outcome
    start_failures: list[tuple[str, str]] = field(default_factory=list)  # (session, why)
    runner_deaths: list[tuple[str, str]] = field(default_factory=list)  # (session, cause)

    @property
    def runs(self) -> int:
        return sum(self.outcomes.values())

    @property
    def ok(self) -> bool:
        return not self.start_failures and not self.runner_deaths

    def add(self, report: PassReport) -> None:
        self.recovered += report.recovered
        self.delivered += report.delivered

    def summary(self) -> str:
        detail = ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.outcomes.items()))
        runs = f"{self.runs} run{'' if self.runs == 1 else 's'}" + (f" ({detail})" if detail else "")
        line = f"swept: {self.delivered} reminders delivered, {runs}, {self.recovered} recovered"
        if self.sent or self.send_failures:
            line += f", {self.sent} sent through channels" + (
                f" ({self.send_failures} failed)" if self.send_failures else ""
            )
        if self.start_failures:
            line += f"; runners not started for: {', '.join(sorted({s for s, _ in self.start_failures}))}"
        if self.runner_deaths:
            line += f"; runners died in: {', '.join(sorted({s for s, _ in self.runner_deaths}))}"
        return line

    def as_json(self) -> dict[str, object]:
        return {
            "recovered": self.recovered,
            "delivered": self.delivered,
            "sent": self.sent,
            "send_failures": self.send_failures,
            "runs": self.runs,
            "outcomes": dict(sorted(self.outcomes.items())),
            "start_failures": [{"session": s, "error": why} for s, why in self.start_failures],
            "runner_deaths": [{"session": s, "cause": cause} for s, cause in self.runner_deaths],
        }


def _outcomes(engine: Engine, host_id: str, since: datetime) -> Counter[str]:
    """Runs this host's runners ended since the pass began (their lease owners are ``HOST_ID/…``)."""
    with transaction(engine) as db:
        query = (
            select(Run.outcome, func.count())
            .where(col(Run.ended_at) >= since, col(Run.runner).startswith(f"{host_id}/"))
            .group_by(col(Run.outcome))
        )
        return Counter({str(outcome): int(count) for outcome, count in db.exec(query).all()})


def _sweep(host: Host) -> PassReport:
    config = host.config
    return sweep_once(host.inbox.engine, now=utcnow(), grace=config.grace, backoff=config.backoff, clock=utcnow)


def _wait_for_runners(host: Host, report: OnceReport) -> None:
    """Until every runner has exited. A sweep every third of a lease meanwhile takes back the rows of a runner
    that stopped renewing them, and the host kills that runner (it is hung)."""
    recheck_s = host.config.lease.total_seconds() / 3
    next_sweep = time.monotonic() + recheck_s
    while host.runtime.active() and not host.stop.is_set():
        host.nudge.wait(min(1.0, recheck_s))  # set when a runner exits
        host.nudge.clear()
        if time.monotonic() >= next_sweep:
            next_sweep = time.monotonic() + recheck_s
            swept = _sweep(host)
            report.add(swept)
            host.on_pass(swept, wake=False)  # sessions still waiting are the next round's


def sweep_pass(host: Host, *, max_rounds: int = MAX_ROUNDS) -> OnceReport:
    """One complete pass with ``host``'s runtime (its runners should have a short idle: RUNNER_IDLE_S)."""
    report = OnceReport()
    began = utcnow()
    with host.serving():
        DropWatch(host.inbox, host.stop, on_written=lambda: None).look_once()  # files complete by now; the rest wait
        for _ in range(max_rounds):
            if host.stop.is_set():
                break  # SIGTERM: the shutdown below stops the runners and hands back what they hold
            ran_before = _outcomes(host.inbox.engine, host.id, began).total()
            swept = _sweep(host)
            report.add(swept)
            host.on_pass(swept)
            host.requests.wait_idle()  # the http tasks the host runs itself: each bounded by its time limit
            if host.runtime.active():
                _wait_for_runners(host, report)
            if _outcomes(host.inbox.engine, host.id, began).total() == ran_before:
                break  # the runners found nothing to do: what still waits is held elsewhere (another pass)
        if not host.stop.is_set() and not host.deliverer.drain(DELIVERY_WAIT_S):
            log.warning("some outbox rows were still being sent after %g s; the next pass sends them", DELIVERY_WAIT_S)
        tally = host.deliverer.tally
        report.sent, report.send_failures = tally.delivered, tally.failed
    report.outcomes = _outcomes(host.inbox.engine, host.id, began)
    report.start_failures = list(dict(host.start_failures).items())  # a session tried in two rounds: once
    report.runner_deaths = list(host.runner_deaths)
    return report
