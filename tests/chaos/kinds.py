"""``http`` and ``command`` tasks under a tag limit in a chaos run, and what must hold once it has settled.

Every task carries the tag :data:`LIMIT_TAG`, limited with ``inbox limit work --max-running 2``. An ``http`` task
POSTs to a loopback :class:`Receiver` the test runs (a person's request may reach loopback: docs/kinds.md), which
takes :data:`WORK_S` to answer, refuses a share of the requests with 503 (a transient failure, retried) and answers
the rest with ``ok KEY``, KEY being the request's ``Idempotency-Key`` (the occurrence id). A ``command`` task runs
``sh``, which notes its start, sleeps :data:`WORK_S`, appends one line ``ID START END`` to a file (its side effect)
and prints ``ran ID``. Some tasks of each kind have a pre-script that wakes them (so an ``http`` one goes through a
runner whichever way the host makes script-less requests); the rest have none. The checks hold on the recorded runs
and the side effects, never on who made a request.

What must hold, beside the general invariants (every occurrence ends once with an outcome and a reason, its
attempts numbered, a series moves forward once per slot):

* an occurrence that completed did its own work: its output is its own ``ok ID`` / ``ran ID``, and the receiver
  accepted a request with its key, or the file has its line;
* side effects at least once but never more than once per attempt: an attempt cut off by a kill may have done its
  work before it was retried (docs/guarantees.md, "an attempt can be started more than once"), so an occurrence's
  requests (or lines) number at most its recorded runs; none for an id that is no such task's occurrence;
* the limit holds: the runs of the tagged tasks, as recorded ([started_at, ended_at]), never overlap more than
  :data:`MAX_RUNNING` at once; nor do the executions the receiver and the command file saw.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from inbox import Inbox
from inbox.enums import Outcome
from inbox.store.models import Run
from tests.chaos.cluster import Monkey
from tests.chaos.invariants import DUPLICATE, LOSS, Snapshot, Violation
from tests.chaos.plan import Gate, ScheduledTask, Shape, TaskPlan

LIMIT_TAG = "work"
MAX_RUNNING = 2
WORK_S = 0.3  # a request's answer, or a command's sleep, takes this long: kills land mid-work
REFUSED_SHARE = 0.15  # of the requests, answered 503
INTERVAL_S = 3
WAKE = "sleep 0.2; echo '{\"wakeAgent\": true}'"
# $1: the file the line goes to. The start is read before the sleep, the line written after it: an execution cut
# off before its end leaves no line, one that ran to its end leaves exactly one.
COMMAND = (
    "s=$(date +%s.%N); sleep " + str(WORK_S) + '; echo "$INBOX_MESSAGE_ID $s $(date +%s.%N)" >> "$1"; '
    'echo "ran $INBOX_MESSAGE_ID"'
)
LIMIT = "limit"  # the kind of violation of a tag limit


class Kind(StrEnum):
    HTTP = "http"
    COMMAND = "command"


@dataclass(frozen=True)
class KindTask:
    plan: TaskPlan
    kind: Kind

    def output(self, message_id: str) -> str:
        """What a completed run of occurrence ``message_id`` answers."""
        return f"{'ok' if self.kind == Kind.HTTP else 'ran'} {message_id}"


@dataclass(frozen=True)
class Seen:
    """One execution as the receiver or the command file saw it: whose, from when to when (time.time())."""

    key: str
    start: float
    end: float
    accepted: bool = True


class Receiver:
    """A loopback HTTP server that records each request's key and how long it was being answered."""

    def __init__(self, *, seed: int) -> None:
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._draw = random.Random(seed)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                start = time.time()
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                time.sleep(WORK_S)
                with receiver._lock:
                    refused = receiver._draw.random() < REFUSED_SHARE
                    receiver.seen.append(Seen(key, start, time.time(), accepted=not refused))
                body = b"" if refused else f"ok {key}".encode()
                self.send_response(503 if refused else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="kinds-receiver", daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, tag: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{tag}"


class SteadyMonkey(Monkey):
    """The chaos suite's monkey, kept to a steady mix: every ``host_every``-th action kills a host, every other one
    a runner if one is running (else nothing). On a loaded machine a new host takes seconds to start its runners; a
    monkey that killed a host whenever it found no runner would keep killing hosts before they ran anything."""

    def run(self) -> None:
        self._started_at = time.monotonic()
        actions = 0
        while not self.stopping.wait(self.rng.uniform(*self.period_s)):
            actions += 1
            if actions % self.host_every == 0:
                self._kill_host()
            elif runners := self.cluster.runners():
                self._kill_runner(self.rng.choice(runners))


def command_runs(path: Path) -> list[Seen]:
    """The lines the command tasks appended: one per execution that ran to its end."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        key, start, end = line.split()
        out.append(Seen(key, float(start), float(end)))
    return out


def make_kind_tasks(count: int, window_s: float, *, seed: int, sessions: int = 4) -> list[KindTask]:
    """``count`` tasks, half ``http`` and half ``command``, a third of each with a waking pre-script; half one-shots
    due within the window, half series every few seconds with an end. Half are made before the kills start."""
    rng = random.Random(seed * 31337 + 7)
    tasks = []
    for index in range(count):
        kind = Kind.HTTP if index % 2 == 0 else Kind.COMMAND
        gate = Gate.WAKE if index % 3 == 0 else Gate.NONE
        recurring = rng.random() < 0.5
        create_at = 0.0 if rng.random() < 0.5 else round(rng.uniform(0, window_s * 0.5), 1)
        plan = TaskPlan(
            tag=f"k{index:03d}",
            shape=Shape.EVERY if recurring else Shape.ONE_SHOT,
            session=f"chaos-{rng.randrange(sessions)}",
            create_at_s=create_at,
            gate=gate,
            script=WAKE if gate == Gate.WAKE else None,
            remind=False,
            retries=4,
            catch_up="once",
            context=None,
            interval_s=INTERVAL_S if recurring else None,
            at_s=None if recurring else round(rng.uniform(0.5, max(1.0, window_s * 0.7 - create_at)), 2),
            wanted_runs=rng.randint(2, 3) if recurring else None,
        )
        tasks.append(KindTask(plan, kind))
    return tasks


def schedule_kind(inbox: Inbox, task: KindTask, *, receiver: Receiver, lines: Path) -> ScheduledTask:
    plan = task.plan
    now = inbox.clock()
    given: dict[str, object]
    if task.kind == Kind.HTTP:
        given = {"url": receiver.url(plan.tag), "body": {"task": plan.tag}}
    else:
        given = {"argv": ["sh", "-c", COMMAND, "sh", str(lines)], "timeout": 10}
    at = now + timedelta(seconds=plan.at_s) if plan.at_s is not None else None
    made = inbox.schedule(
        f"[chaos {plan.tag}] {task.kind} task",
        at=at.isoformat() if at is not None else None,
        every=f"{plan.interval_s}s" if plan.interval_s else None,
        max_runs=plan.wanted_runs,
        session=plan.session,
        script=plan.script,
        retries=plan.retries,
        catch_up=plan.catch_up,
        name=f"chaos-{plan.tag}",
        do=str(task.kind),
        with_=given,
        tags=[LIMIT_TAG],
    )
    return ScheduledTask(plan, made.series_id, now, made.next_runs[0] if made.next_runs else now, plan.wanted_runs)


def most_at_once(spans: Iterable[tuple[float, float]]) -> int:
    """The most intervals [start, end] that overlap at one instant (an end before a start at the same instant)."""
    edges = sorted(edge for start, end in spans for edge in ((start, 1), (end, -1)))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def runs_of(snap: Snapshot, series: Iterable[str]) -> list[Run]:
    """The runs of ``series`` that ran (a missed slot is a record written at once, not a run)."""
    wanted = set(series)
    return [r for h in snap.runs.values() for r in h if r.series_id in wanted and r.outcome != Outcome.MISSED]


def check_kinds(
    snap: Snapshot, tasks: dict[str, KindTask], requests: Sequence[Seen], lines: Sequence[Seen]
) -> list[Violation]:
    """``tasks`` by series id; ``requests``: what the receiver saw; ``lines``: what the command file holds."""
    out: list[Violation] = []
    kind_of = {row.id: tasks[row.series_id] for row in snap.rows.values() if row.series_id in tasks}
    effects = {Kind.HTTP: Counter(s.key for s in requests), Kind.COMMAND: Counter(s.key for s in lines)}
    done = {Kind.HTTP: {s.key for s in requests if s.accepted}, Kind.COMMAND: {s.key for s in lines}}
    for kind, seen in effects.items():
        for key in seen:
            if key not in kind_of or kind_of[key].kind != kind:
                out.append(Violation(LOSS, key, f"a {kind} side effect for no {kind} task's occurrence"))
    for message_id, task in kind_of.items():
        row = snap.rows[message_id]
        history = [r for r in snap.runs.get(message_id, []) if r.outcome != Outcome.MISSED]
        repeats = effects[task.kind][message_id]
        if repeats > len(history):
            out.append(Violation(DUPLICATE, message_id, f"{repeats} {task.kind} side effects, {len(history)} runs"))
        final = snap.final_run(row)
        if final is None:
            continue  # left live or never run: the general invariants say so
        if final.outcome == Outcome.COMPLETED:
            if final.model_output != task.output(message_id):
                out.append(Violation("outcome", message_id, f"completed with output {final.model_output!r}"))
            if message_id not in done[task.kind]:
                out.append(Violation(LOSS, message_id, f"completed, but its {task.kind} work was never done"))
        elif final.outcome not in (Outcome.FAILED, Outcome.INTERRUPTED, Outcome.MISSED):
            out.append(Violation("outcome", message_id, f"ended {final.outcome}: {final.error}"))
        elif final.outcome != Outcome.MISSED and final.attempt != row.retries + 1:
            out.append(Violation("outcome", message_id, f"ended {final.outcome} at attempt {final.attempt}"))
    return out


def check_limit(snap: Snapshot, series: Iterable[str], observed: Sequence[Seen]) -> list[Violation]:
    """At most :data:`MAX_RUNNING` at once: by the runs' recorded times, and by what the work's ends saw."""
    out = []
    runs = runs_of(snap, series)
    recorded = most_at_once((r.started_at.timestamp(), r.ended_at.timestamp()) for r in runs)
    if recorded > MAX_RUNNING:
        out.append(Violation(LIMIT, LIMIT_TAG, f"{recorded} runs at once by their recorded times"))
    seen = most_at_once((s.start, s.end) for s in observed)
    if seen > MAX_RUNNING:
        out.append(Violation(LIMIT, LIMIT_TAG, f"{seen} executions at once as the receiver and the commands saw"))
    return out


def repeated(effects: Sequence[Seen]) -> int:
    """How many occurrences had their work done more than once (an attempt cut off after it, then retried)."""
    return sum(n > 1 for n in Counter(s.key for s in effects if s.accepted).values())


def by_runner(runs: Sequence[Run]) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    for run in runs:
        found["host" if (run.runner or "") == "host" else "runner"] += 1
    return dict(found)
