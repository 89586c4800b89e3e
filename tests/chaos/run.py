"""The chaos driver: ``python -m tests.chaos.run --tasks 1000 --minutes 10 --db sqlite|postgres``.

1. A fresh store (a SQLite file, or a new schema in the PostgreSQL database named by ``--database-url`` or
   ``INBOX_TEST_DATABASE_URL``), two ``inbox serve`` hosts on it, the fake model provider on loopback.
2. The tasks of :func:`tests.chaos.plan.make_plan`: half scheduled at once, the rest while the kills go on, with
   some series cancelled and some run now (``inbox run``) on the way; and the dependency chains of
   :func:`tests.chaos.chains.make_chains` (a head and two tasks after it), scheduled at once; and the listening
   tasks of :func:`tests.chaos.events.make_listeners`, scheduled at once, with an emitter process
   (:mod:`tests.chaos.emitter`) emitting the events of :func:`tests.chaos.events.make_emissions` all along, some
   of them as webhook calls to the hosts, which then listen on HTTP (the hooks of :mod:`tests.chaos.hooks`,
   made at once).
3. Chaos for the window: every few seconds a host or a runner is killed with SIGKILL (a host is started again a
   moment later); the emitter is killed too, and started again, every few seconds. The window is stretched, when
   needed, to cover at least one cron slot.
4. Settle: both hosts up, until nothing is running, nothing is due and every series with an end has ended (or
   the settle timeout passes), then the hosts are stopped with SIGTERM.
5. The invariants of :mod:`tests.chaos.invariants`, checked on the store, and the figures printed.

Exit status 0 when every invariant held, 1 otherwise. Every process started is stopped, also on failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from inbox import Inbox
from inbox.errors import Conflict
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.types import utcnow
from tests.acceptance.served import serving
from tests.chaos.chains import ChainPlan, ScheduledChain, check_chains, make_chains, schedule_chain
from tests.chaos.cluster import Cluster, KillLog, Monkey, kill_leftovers
from tests.chaos.db_restarts import DatabaseRestarts
from tests.chaos.emitter import Emitter
from tests.chaos.events import check_events, make_emissions, make_listeners
from tests.chaos.figures import Figures, compute
from tests.chaos.hooks import check_hooks, create_hooks
from tests.chaos.invariants import Snapshot, Violation, check_all
from tests.chaos.plan import ScheduledTask, Shape, TaskPlan, make_plan, model_reply, schedule
from tests.chaos.private_pg import missing, postgres_schema, private_postgres

CRON_MARGIN = timedelta(seconds=5)  # a cron slot this close to the window's end does not count as inside it
STORE_RETRY_S = 60.0  # how long the driver's own calls wait for a store that is being restarted
T = TypeVar("T")


class Disruption(Protocol):
    """What goes wrong during the window: processes killed (:class:`Monkey`), the database restarted, ..."""

    kills: KillLog

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _patiently(call: Callable[[], T]) -> T:
    """The driver is a user of the store, not the system under test: while the database is being restarted
    its own calls wait for it (a call cut off before it committed is simply made again)."""
    deadline = time.monotonic() + STORE_RETRY_S
    while True:
        try:
            return call()
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@dataclass(frozen=True)
class ChaosConfig:
    tasks: int = 200
    chaos_s: float = 45.0
    seed: int = 1
    settle_timeout_s: float = 120.0
    sessions: int = 6
    kill_period_s: tuple[float, float] = (2.0, 5.0)
    chains: int = 6  # dependency chains of three tasks
    events: int = 0  # events emitted over the window
    listeners: int = 8  # tasks listening for them (when there are events)


@dataclass(frozen=True)
class ChaosResult:
    figures: Figures
    violations: list[Violation]
    kills: KillLog
    hosts_started: int  # the two at the start, and one for each host that was killed or died
    settled: bool
    unsettled: str | None  # what was still going on when the settle timeout passed
    home: Path  # host logs: serve-N.log

    def report(self) -> str:
        lines = self.figures.lines()
        if not self.settled:
            lines.append(f"NOT SETTLED after the timeout: {self.unsettled}")
        lines += [f"violations:   {len(self.violations)}", *(f"  {v}" for v in self.violations[:50])]
        if len(self.violations) > 50:
            lines.append(f"  … and {len(self.violations) - 50} more")
        lines.append(
            f"hosts started: {self.hosts_started} (two at the start, one more for each that died or was killed)"
        )
        lines.append(f"host logs:    {self.home}/serve-*.log")
        return "\n".join(lines)


def _window_end(start: datetime, chaos_s: float) -> datetime:
    """The chaos window, stretched to hold at least one whole-minute cron slot."""
    end = start + timedelta(seconds=chaos_s)
    boundary = (start + timedelta(minutes=1)).replace(second=0, microsecond=0)
    return max(end, boundary + CRON_MARGIN)


def _unsettled(engine: Engine, finite: set[str]) -> str | None:
    """What keeps the run from being settled: running rows, due rows, or series with an end still live."""
    now = utcnow()
    with transaction(engine) as db:
        live = db.exec(select(MessageIn).where(col(MessageIn.status).in_(("pending", "running", "paused")))).all()
    running = sum(row.status == "running" for row in live)
    due = sum(row.status == "pending" and row.process_after <= now for row in live)
    unfinished = sum(row.series_id in finite and not row.is_extra for row in live)
    if running or due or unfinished:
        return f"{running} running, {due} due, {unfinished} series with an end not ended"
    return None


class Driver:
    """One chaos run on one store: schedule, kill, settle, check."""

    def __init__(self, inbox: Inbox, cluster: Cluster, config: ChaosConfig) -> None:
        self.inbox = inbox
        self.cluster = cluster
        self.config = config
        self.tasks: dict[str, ScheduledTask] = {}  # by tag
        self.chains: list[ScheduledChain] = []
        self.listeners: dict[str, TaskPlan] = {}  # by series id
        self.cancelled: set[str] = set()
        self.refused: list[Violation] = []  # operations on a live series that the store refused

    def _schedule(self, plan: TaskPlan, window_end: datetime) -> None:
        self.tasks[plan.tag] = _patiently(lambda: schedule(self.inbox, plan, window_end=window_end))

    def _schedule_chain(self, chain: ChainPlan, window_end: datetime) -> None:
        self._schedule(chain.head, window_end)  # the head is a task of the plan; the two after it are started by it
        self.chains.append(_patiently(lambda: schedule_chain(self.inbox, chain, self.tasks[chain.head.tag].series_id)))

    def _cancel(self, tag: str) -> None:
        task = self.tasks.get(tag)
        if task is not None and tag not in self.cancelled:
            self.cancelled.add(tag)
            try:
                _patiently(lambda: self.inbox.cancel(task.series_id))
            except Conflict as exc:  # the series is endless: it is live until cancelled
                self.refused.append(Violation("operation", task.series_id, f"cancel refused: {exc}"))

    def _pause(self, tag: str, *, resume: bool) -> None:
        task = self.tasks.get(tag)
        if task is not None and tag not in self.cancelled:
            operation = self.inbox.resume if resume else self.inbox.pause
            try:
                _patiently(lambda: operation(task.series_id))
            except Conflict as exc:
                self.refused.append(Violation("operation", task.series_id, f"{operation.__name__} refused: {exc}"))

    def _run_now(self, tag: str) -> None:
        task = self.tasks.get(tag)
        if task is not None and tag not in self.cancelled:
            try:
                _patiently(lambda: self.inbox.run_now(task.series_id))
            except Conflict as exc:
                self.refused.append(Violation("operation", task.series_id, f"run now refused: {exc}"))

    def chaos(
        self,
        plans: list[TaskPlan],
        monkey: Disruption,
        chains: Sequence[ChainPlan] = (),
        listeners: Sequence[TaskPlan] = (),
        emitter: Emitter | None = None,
    ) -> float:
        """Schedule the plan over the window while ``monkey`` kills; returns the window's length in seconds."""
        start = utcnow()
        window_end = _window_end(start, self.config.chaos_s)
        actions: list[tuple[float, int, str, TaskPlan]] = []
        for plan in plans:
            actions.append((plan.create_at_s, 0, "schedule", plan))
            if plan.cancel_at_s is not None:
                actions.append((plan.cancel_at_s, 1, "cancel", plan))
            if plan.run_now_at_s is not None:
                actions.append((plan.run_now_at_s, 2, "run", plan))
            if plan.pause_at_s is not None and plan.resume_at_s is not None:
                actions.append((plan.pause_at_s, 3, "pause", plan))
                actions.append((plan.resume_at_s, 4, "resume", plan))
        actions.sort(key=lambda action: (action[0], action[1], action[3].tag))
        for plan in plans:  # the first half before the first kill
            if plan.create_at_s == 0:
                self._schedule(plan, window_end)
        for chain in chains:
            self._schedule_chain(chain, window_end)
        for listener in listeners:  # tasks of the plan, but never paused or cancelled: every event must reach them
            self._schedule(listener, window_end)
            self.listeners[self.tasks[listener.tag].series_id] = listener
        monkey.start()
        if emitter is not None:
            emitter.start()
        for offset, _, what, plan in actions:
            wait = (start + timedelta(seconds=offset) - utcnow()).total_seconds()
            if wait > 0:
                time.sleep(wait)
            if what == "schedule" and plan.tag not in self.tasks:
                self._schedule(plan, window_end)
            elif what == "cancel":
                self._cancel(plan.tag)
            elif what == "run":
                self._run_now(plan.tag)
            elif what in ("pause", "resume"):
                self._pause(plan.tag, resume=what == "resume")
        left = (window_end - utcnow()).total_seconds()
        if left > 0:
            time.sleep(left)
        if emitter is not None:
            emitter.finish()
        for task in self.tasks.values():  # an endless interval series is always cancelled by the end
            if task.plan.shape == Shape.EVERY and task.endless:
                self._cancel(task.plan.tag)
        monkey.stop()
        return (utcnow() - start).total_seconds()

    def settle(self) -> tuple[bool, str | None, datetime]:
        self.cluster.restart_dead()
        finite = {t.series_id for t in self.tasks.values() if not t.endless or t.plan.tag in self.cancelled}
        deadline = time.monotonic() + self.config.settle_timeout_s
        while True:
            checked_at = utcnow()
            unsettled = _unsettled(self.inbox.engine, finite)
            if unsettled is None:
                return True, None, checked_at
            if time.monotonic() > deadline:
                return False, unsettled, checked_at
            self.cluster.restart_dead()  # a host that died by itself is a finding in its log; keep two running
            time.sleep(0.5)


def run_chaos(
    home: Path,
    store_url: str,
    config: ChaosConfig,
    *,
    backend: str,
    disrupt: Callable[[Cluster], Disruption] | None = None,
) -> ChaosResult:
    """One run; ``disrupt`` makes what goes wrong in the window (default: the :class:`Monkey`'s kills)."""
    started, clock_start = utcnow(), time.monotonic()
    plans = make_plan(config.tasks, config.chaos_s, seed=config.seed, sessions=config.sessions)
    chains = make_chains(config.chains, seed=config.seed, sessions=config.sessions)
    listeners = make_listeners(config.listeners if config.events else 0, seed=config.seed, sessions=config.sessions)
    emissions = make_emissions(config.events, config.chaos_s, seed=config.seed, sessions=config.sessions)
    try:
        with serving(home, store_url) as served:
            served.fake.respond_with(model_reply)
            hooks = (home / "hooks.json", home / "hosts.urls") if emissions else None  # secrets, live hosts
            cluster = Cluster(served, urls=hooks[1] if hooks else None)
            if disrupt is None:
                monkey: Disruption = Monkey(cluster, seed=config.seed, period_s=config.kill_period_s)
            else:
                monkey = disrupt(cluster)
            driver = Driver(served.inbox, cluster, config)
            emitter = Emitter(
                home,
                served.env,
                count=config.events,
                window_s=config.chaos_s,
                seed=config.seed,
                sessions=config.sessions,
                hooks=hooks,
            )
            try:
                if hooks is not None:
                    _patiently(lambda: create_hooks(served.inbox, hooks[0]))
                cluster.start()
                chaos_s = driver.chaos(plans, monkey, chains, listeners, emitter if emissions else None)
                settle_start = time.monotonic()
                settled, unsettled, settled_at = driver.settle()
                settle_s = time.monotonic() - settle_start
                served.stop_hosts()
            finally:
                monkey.stop()
                emitter.finish(timeout_s=0)
            tasks = list(driver.tasks.values())
            hosts_started = len(served.hosts)
            snap = Snapshot.load(served.inbox.engine, settled_at=settled_at)
    finally:
        kill_leftovers(home)  # runners orphaned by killed hosts, and their pre-scripts
    answers = emitter.answers()
    violations = [*driver.refused, *check_all(snap, tasks), *check_chains(snap, driver.chains)]
    violations += [Violation("emit", "emitter", failure) for failure in emitter.failures]
    violations += check_events(snap, driver.listeners, answers, emissions)
    violations += check_hooks(snap, answers)
    if not settled:
        violations.append(Violation("loss", "run", f"not settled within {config.settle_timeout_s:g} s: {unsettled}"))
    figures = compute(
        snap,
        tasks,
        driver.chains,
        violations,
        monkey.kills,
        backend=backend,
        started=started,
        chaos_s=chaos_s,
        settle_s=settle_s,
        wall_s=time.monotonic() - clock_start,
        listeners=len(driver.listeners),
        answers=answers,
        emitter_kills=emitter.kills,
    )
    return ChaosResult(figures, violations, monkey.kills, hosts_started, settled, unsettled, home)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="tasks to schedule (default 1000)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the chaos window (default 10)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--fault",
        choices=["kills", "db-restarts"],
        default="kills",
        help="kills: hosts and runners killed (default); db-restarts: a private PostgreSQL restarted (--db ignored)",
    )
    parser.add_argument("--database-url", default=os.environ.get("INBOX_TEST_DATABASE_URL"), help="PostgreSQL")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chains", type=int, default=20, help="dependency chains of three tasks (default 20)")
    parser.add_argument("--events", type=int, default=2000, help="events emitted over the window (default 2000)")
    parser.add_argument("--listeners", type=int, default=40, help="tasks listening for them (default 40)")
    parser.add_argument("--settle-minutes", type=float, default=5.0, help="how long to wait for the end")
    parser.add_argument("--home", type=Path, default=None, help="INBOX_HOME to use (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema afterwards, to look into")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    config = ChaosConfig(
        tasks=args.tasks,
        chaos_s=args.minutes * 60,
        seed=args.seed,
        settle_timeout_s=args.settle_minutes * 60,
        chains=args.chains,
        events=args.events,
        listeners=args.listeners,
    )
    home = args.home or Path(tempfile.mkdtemp(prefix="inbox-chaos-"))
    home.mkdir(parents=True, exist_ok=True)
    if args.fault == "db-restarts":
        if why := missing():
            print(f"no private PostgreSQL server can be started here: {why}", file=sys.stderr)
            return 2
        with private_postgres() as server:

            def restarts(_cluster: Cluster) -> Disruption:
                return DatabaseRestarts(server, seed=args.seed)

            result = run_chaos(home, server.url, config, backend="postgres", disrupt=restarts)
    elif args.db == "sqlite":
        result = run_chaos(home, f"sqlite:///{home / 'inbox.db'}", config, backend="sqlite")
    else:
        if not args.database_url:
            print("--db postgres needs --database-url or INBOX_TEST_DATABASE_URL", file=sys.stderr)
            return 2
        with postgres_schema(args.database_url, keep=args.keep) as url:
            result = run_chaos(home, url, config, backend="postgres")
            if args.keep:
                print(f"store kept: {url}")
    print(result.report())
    return 0 if not result.violations and (args.fault == "kills" or result.hosts_started == 2) else 1


if __name__ == "__main__":
    raise SystemExit(main())
