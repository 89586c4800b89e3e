"""``http`` tasks the host runs itself, in batches, the way it delivers reminders (docs/kinds.md says when).

An ``http`` task without a pre-script needs nothing a runner has (inbox.store.filters.HOST_REQUESTS): its request
is the host's to make in any case (sweeper.http_work), so a runner holding the run would only add a claim, a call
back to the host and a report, each through the runner socket. Here the host claims such rows itself, through the
same limit-aware claim as a runner (tag limits, priorities, active hours: inbox.store.claims.claim_due), under its
own lease owner ``HOST_ID/http``; makes their requests outside any transaction, many at once, in daemon threads;
and writes the ends in batches, one transaction each, through the same recording as a runner's result
(sweeper.results.record_held: outcome, retries and backoff, outbox, follow-ups, budget).

All of it runs in one dispatcher thread of its own, woken by the sweep loop: a slow target holds neither the sweep
nor reminders. While requests are in flight their leases are renewed with one statement every third of the lease
(the heartbeat a runner sends); a host killed mid-batch stops renewing, the leases expire and the sweep of any host
puts the rows back to pending with one more try. A request that has not finished within its time limit and
``LATE_S`` is given up as a transient failure, as a runner's call to the host would be.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col

from agent_runner.conversation import Usage
from agent_runner.ending import Done, http_done, kind_result
from agent_runner.protocol import HttpAnswer
from inbox.enums import Outcome, Status
from inbox.errors import NotFound
from inbox.store.batch_ends import BatchEnd
from inbox.store.claims import NotHeld, OtherSession, claim_due, held_row
from inbox.store.engine import transaction
from inbox.store.host_requests import PLAIN_OUTCOMES, ClaimedRequest, claim_plain_requests, end_plain_requests
from inbox.store.models import MessageIn
from inbox.store.types import utcnow
from sweeper.http_work import DEFAULT_TIMEOUT_S, HttpWork
from sweeper.results import record_held, run_report

log = logging.getLogger("inbox.sweeper")
OWNER_SUFFIX = "/http"
BATCH = 200  # rows per claim and at most per ending transaction
WORKERS = 32  # requests in flight at once
WRITE_EVERY_S = 0.05  # ends wait at most this long to share a transaction with others
LATE_S = 10.0  # past its time limit, how long a request's answer is still waited for


@dataclass(frozen=True)
class _Job:
    row: ClaimedRequest
    attempt: int

    @property
    def key(self) -> tuple[str, int]:
        return self.row.id, self.attempt

    @property
    def limit_s(self) -> float:
        return self.row.timeout_s or DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class _Answered:
    job: _Job
    answer: HttpAnswer
    started_at: datetime


class HostRequests:
    """The dispatcher of the host's own http requests; ``kick`` after each sweep pass, ``wait_idle`` in cron mode."""

    def __init__(
        self,
        engine: Engine,
        work: HttpWork,
        *,
        owner: str,
        lease: timedelta,
        backoff: Sequence[timedelta],
        grace: timedelta,
        daily_series_tokens: int,
        workers: int = WORKERS,
        batch: int = BATCH,
    ) -> None:
        self.engine, self.work, self.owner = engine, work, owner
        self.lease, self.backoff, self.grace = lease, backoff, grace
        self.daily_series_tokens = daily_series_tokens
        self.workers, self.batch = workers, batch
        self.ended = 0  # runs recorded by this host's dispatcher
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()  # None: a thread's end
        self._answers: queue.SimpleQueue[_Answered] = queue.SimpleQueue()
        self._started: dict[tuple[str, int], float] = {}  # job -> when a thread began its request (monotonic)
        self._kicked = threading.Event()
        self._stopping = threading.Event()
        self._give_up_at = float("inf")
        self._turns = threading.Condition()
        self._asked = self._served = 0
        self._thread: threading.Thread | None = None
        self._workers_started = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="http-tasks", daemon=True)
        self._thread.start()

    def _start_workers(self) -> None:
        """The request threads, at the first due http task: a host that has none keeps none."""
        if not self._workers_started:
            self._workers_started = True
            # Daemon threads: a request still in flight at exit must not hold the process (its row is handed back).
            for number in range(self.workers):
                threading.Thread(target=self._requests, name=f"http-task-{number}", daemon=True).start()

    def kick(self) -> int:
        """Look for due http tasks now (without waiting); returns the turn that will have looked."""
        with self._turns:
            self._asked += 1
            self._kicked.set()
            return self._asked

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Look now and wait until every due http task found has ended (cron mode); False on timeout."""
        turn = self.kick()
        with self._turns:
            done = self._turns.wait_for(
                lambda: self._served >= turn or self._thread is None or self._stopping.is_set(), timeout=timeout_s
            )
        return done

    def stop(self, grace_s: float) -> None:
        """Claim nothing more; wait up to ``grace_s`` for what is in flight to end. What is still running after
        that is the host's to hand back (sweeper.host.Host._hand_back)."""
        self.stop_soon(grace_s)
        self.join(grace_s)

    def stop_soon(self, grace_s: float) -> None:
        """Claim nothing more; what is in flight has ``grace_s`` to end (see :meth:`join`)."""
        self._give_up_at = time.monotonic() + grace_s
        self._stopping.set()
        self._kicked.set()

    def join(self, grace_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=grace_s + 5)
        if self._workers_started:
            for _ in range(self.workers):
                self._jobs.put(None)  # after what is queued: a request under way finishes, none is sent after it

    def _serve(self) -> None:
        while not self._stopping.is_set():
            self._kicked.wait()
            with self._turns:
                turn = self._asked
                self._kicked.clear()
            try:
                self._start_workers()
                before = self.ended
                self._drain()
                if self.ended > before:  # a line per drain, as a sweep pass says what it delivered
                    log.info("http tasks run by the host: %d ended", self.ended - before)
            except Exception as exc:  # the store away, most likely: the leases expire and the rows are retried
                log.error("http tasks: %s; what was in flight is retried once its leases expire", exc)
            with self._turns:
                self._served = turn
                self._turns.notify_all()
        with self._turns:
            self._served = self._asked
            self._turns.notify_all()

    def _requests(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._started[job.key] = time.monotonic()
            started = utcnow()
            try:
                answer = self.work.run(job.row)
            except Exception as exc:  # never expected (every failure is an answer), but the run must still end
                answer = HttpAnswer(error=f"the request failed: {exc!r}", transient=True)
            self._answers.put(_Answered(job, answer, started))

    def _drain(self) -> None:
        """Claim, request and end until no due http task is left (or the host stops)."""
        flying: dict[tuple[str, int], _Job] = {}
        ended: list[_Answered] = []
        more, last_write = True, time.monotonic()
        beat_every = self.lease.total_seconds() / 3
        next_beat = time.monotonic() + beat_every
        while True:
            stopping = self._stopping.is_set()
            room = min(self.batch + self.workers - len(flying), self.batch)  # queued enough that no thread waits
            if more and not stopping and room >= self.batch // 2:
                jobs = self._claim(room)
                more = len(jobs) == room
                for job in jobs:
                    flying[job.key] = job
                    self._jobs.put(job)
            if stopping:
                self._unqueue(flying)  # not sent yet: handed back with the host's other work, never sent late
            if not flying and not ended:
                return
            if stopping and time.monotonic() >= self._give_up_at:
                return  # what is still in flight is handed back with the host's other work
            if flying:
                self._collect(flying, ended)
            now = time.monotonic()
            if ended and (len(ended) >= self.batch or not flying or now - last_write >= WRITE_EVERY_S):
                self._end(ended)
                ended, last_write, more = [], now, True  # ends free tag room and series: look again
            if flying and now >= next_beat:
                self._renew([job.row.id for job in flying.values()])
                next_beat = now + beat_every

    def _collect(self, flying: dict[tuple[str, int], _Job], ended: list[_Answered]) -> None:
        try:
            answered: _Answered | None = self._answers.get(timeout=WRITE_EVERY_S)
        except queue.Empty:
            answered = None
        while answered is not None:
            self._started.pop(answered.job.key, None)
            if flying.pop(answered.job.key, None) is not None:
                ended.append(answered)  # else: given up already, its answer comes too late
            try:
                answered = self._answers.get_nowait()
            except queue.Empty:
                answered = None
        now = time.monotonic()
        for key, job in list(flying.items()):
            began = self._started.get(key)
            if began is not None and began + job.limit_s + LATE_S < now:
                del flying[key]
                why = f"the request had no answer within its time limit ({job.limit_s:g} s)"
                ended.append(_Answered(job, HttpAnswer(error=why, transient=True), utcnow()))

    def _unqueue(self, flying: dict[tuple[str, int], _Job]) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                flying.pop(job.key, None)

    def _claim(self, limit: int) -> list[_Job]:
        """Due http tasks, set-based where the case is plain, else (and for the rest) through the general claim."""
        held: list[MessageIn] = []  # outside their active hours: claim_due ends them skipped
        with transaction(self.engine) as db:
            now = utcnow()  # read once the claim holds the store (SQLite's write lock): see claim_due's ``clock``
            rows = claim_plain_requests(db, owner=self.owner, now=now, limit=limit, lease=self.lease) or []
            if len(rows) < limit:
                weighed = claim_due(
                    db,
                    owner=self.owner,
                    now=now,
                    clock=utcnow,
                    limit=limit - len(rows),
                    lease=self.lease,
                    grace=self.grace,
                    work="http",
                    held=held,
                )
                rows += [ClaimedRequest.of(row) for row in weighed]
        return [_Job(row, row.tries + 1) for row in rows]

    def _end(self, ended: list[_Answered]) -> None:
        """Record the ends in one transaction, each as a runner's result would be: the plain ones set-based
        (inbox.store.request_ends), the others one by one (sweeper.results.record_held). A row no longer this
        host's (taken back after its lease expired) keeps what was done with it meanwhile."""
        done = [(answered, http_done(answered.answer)) for answered in ended]
        plain = [
            BatchEnd(
                id=answered.job.row.id,
                session=answered.job.row.session,
                text=kind.text or None,
                series_id=answered.job.row.series_id,
                tries=answered.job.attempt - 1,
                deliver=answered.job.row.deliver,
                outcome=Outcome(kind.outcome),
                started_at=answered.started_at,
                output=kind.text or None,
            )
            for answered, kind in done
            if Outcome(kind.outcome) in PLAIN_OUTCOMES
        ]
        with transaction(self.engine) as db:
            now = utcnow()
            batched = end_plain_requests(db, plain, owner=self.owner, now=now)
            for answered, kind in done:
                if answered.job.row.id not in batched:
                    self._end_one(db, answered, kind, now=now)
        self.ended += len(ended)

    def _end_one(self, db: Session, answered: _Answered, kind: Done, *, now: datetime) -> None:
        job = answered.job
        try:
            row = held_row(db, job.row.id, session=job.row.session, owner=self.owner, attempt=job.attempt)
        except (NotFound, NotHeld, OtherSession) as exc:
            log.warning("http task %s: its end is not recorded: %s", job.row.id, exc)
            return
        result = kind_result(kind, id=row.id, attempt=job.attempt, started_at=answered.started_at)
        report = run_report(result, self.owner, Usage())
        record_held(db, row, report, result, now=now, backoff=self.backoff, limit=self.daily_series_tokens)

    def _renew(self, ids: list[str]) -> None:
        """The heartbeat: extend the leases of the rows whose requests are in flight, in one statement."""
        with transaction(self.engine) as db:
            db.execute(
                update(MessageIn)
                .where(
                    col(MessageIn.id).in_(ids),
                    col(MessageIn.status) == Status.RUNNING.value,
                    col(MessageIn.lease_owner) == self.owner,
                )
                .values(lease_expires_at=utcnow() + self.lease)
            )
