"""Work that is not a model call under chaos, on every backend: ``http`` and ``command`` tasks carrying a tag limited
to two running at once (``inbox limit work --max-running 2``), two hosts on one store, hosts and runners killed
with SIGKILL every few seconds (tests/chaos/kinds.py says what is scheduled and what must hold).

Afterwards every occurrence has ended with an outcome and a reason, none completed twice, an occurrence's side
effects number at most its recorded attempts, and no more than two of the tagged tasks ran at once: by the runs'
recorded start and end times, and by what the receiver and the command file saw.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.types import utcnow
from tests.acceptance.served import Served, serving
from tests.chaos.cluster import Cluster, Monkey, kill_leftovers
from tests.chaos.invariants import Snapshot, Violation, check_endings, check_no_overlap, check_series, check_slots
from tests.chaos.kinds import (
    LIMIT_TAG,
    MAX_RUNNING,
    KindTask,
    Receiver,
    SteadyMonkey,
    by_runner,
    check_kinds,
    check_limit,
    command_runs,
    make_kind_tasks,
    most_at_once,
    repeated,
    runs_of,
    schedule_kind,
)
from tests.chaos.plan import ScheduledTask

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

TASKS = 16
WINDOW_S = 15.0
SETTLE_S = 120.0  # a bound: it settles in about 15 s, but a host takes far longer to start on a loaded machine
SEED = 3


def _unsettled(served: Served) -> int:
    """Rows still running, or pending and due (every task here has an end, so nothing is left once all ended)."""
    with transaction(served.inbox.engine) as db:
        query = select(func.count()).where(col(MessageIn.status).in_(("pending", "running")))
        return int(db.exec(query).one())


def _chaos(
    served: Served, cluster: Cluster, monkey: Monkey, receiver: Receiver, lines: Path
) -> tuple[dict[str, ScheduledTask], dict[str, KindTask]]:
    """Set the limit, make the first half of the tasks, and once the hosts run them, the rest while ``monkey``
    kills."""
    done = subprocess.run(
        ["inbox", "limit", LIMIT_TAG, "--max-running", str(MAX_RUNNING)], env=served.env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    plans = make_kind_tasks(TASKS, WINDOW_S, seed=SEED)
    scheduled: dict[str, ScheduledTask] = {}
    kinds: dict[str, KindTask] = {}

    def make(task: KindTask) -> None:
        made = schedule_kind(served.inbox, task, receiver=receiver, lines=lines)
        scheduled[task.plan.tag], kinds[made.series_id] = made, task

    for task in plans:
        if task.plan.create_at_s == 0:
            make(task)
    served.wait_for("a runner at work", lambda: cluster.runners() or None, 60)  # the kills start once work does
    monkey.start()
    start = time.monotonic()
    for task in sorted((t for t in plans if t.plan.create_at_s), key=lambda t: t.plan.create_at_s):
        time.sleep(max(0.0, start + task.plan.create_at_s - time.monotonic()))
        make(task)
    time.sleep(max(0.0, start + WINDOW_S - time.monotonic()))
    return scheduled, kinds


def test_no_limit_is_exceeded_and_no_work_is_lost_or_done_twice_while_hosts_and_runners_are_killed(
    backend: str, store_url: str, home: Path
) -> None:
    lines = home / "commands.lines"
    began = time.monotonic()
    try:
        with Receiver(seed=SEED) as receiver, serving(home, store_url) as served:
            cluster = Cluster(served)
            monkey = SteadyMonkey(cluster, seed=SEED, period_s=(1.0, 2.5), host_every=3, down_s=(0.3, 1.0))
            cluster.start()
            try:
                scheduled, kinds = _chaos(served, cluster, monkey, receiver, lines)
            finally:
                monkey.stop()
            cluster.restart_dead()
            settling = time.monotonic()
            deadline = settling + SETTLE_S
            while (left := _unsettled(served)) and time.monotonic() < deadline:
                cluster.restart_dead()  # a host that died by itself is a finding in its log; keep two running
                time.sleep(0.5)
            settled_at, settle_s = utcnow(), time.monotonic() - settling
            served.stop_hosts()
            snap = Snapshot.load(served.inbox.engine, settled_at=settled_at)
            requests = list(receiver.seen)
    finally:
        kill_leftovers(home)
    commands = command_runs(lines)
    violations: list[Violation] = [
        *check_endings(snap),
        *check_slots(snap),
        *check_series(snap, scheduled.values()),
        *check_no_overlap(snap),
        *check_kinds(snap, kinds, requests, commands),
        *check_limit(snap, kinds, [*requests, *commands]),
    ]
    runs = runs_of(snap, kinds)
    report = "\n".join(
        [
            f"{backend}: {time.monotonic() - began:.1f} s ({settle_s:.1f} s settling), "
            f"{len(snap.rows)} occurrences of {len(kinds)} tasks, "
            f"{len(runs)} runs {dict(Counter(str(r.outcome) for r in runs))}, made by {by_runner(runs)}",
            f"kills: {monkey.kills.host_kills} hosts, {monkey.kills.runner_kills} runners; unsettled rows: {left}",
            f"at once: {most_at_once((r.started_at.timestamp(), r.ended_at.timestamp()) for r in runs)} recorded, "
            f"{most_at_once((s.start, s.end) for s in [*requests, *commands])} seen (limit {MAX_RUNNING})",
            f"side effects: {len(requests)} requests ({sum(not r.accepted for r in requests)} refused), "
            f"{len(commands)} command lines; done twice: {repeated(requests)} requests, {repeated(commands)} commands",
            f"violations: {len(violations)}",
            *(f"  {v}" for v in violations[:40]),
            *monkey.kills.events,
        ]
    )
    print(report)
    assert left == 0, report
    assert violations == [], report
    # The run did what it is for: both kinds of kill, attempts cut off by them, and the limit reached.
    assert monkey.kills.host_kills >= 1 and monkey.kills.runner_kills >= 2, report
    assert any(r.outcome == "interrupted" for r in runs), report
    assert most_at_once((r.started_at.timestamp(), r.ended_at.timestamp()) for r in runs) == MAX_RUNNING, report
    assert requests and commands, report
