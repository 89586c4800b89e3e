"""The runner's main loop: claim its session's due work, keep the leases alive, do the work, report.

Up to ``slots`` items run at once, each in a worker thread; a heartbeat thread renews the leases of everything
held every third of the lease. The runner stops when it has had nothing to do for ``idle_s`` (the host starts it
again when work comes due), when told to (SIGTERM: it finishes what it holds first), or when its host is gone.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from agent_runner.client import HostClient, IncompatibleHost, LeaseLost, StoreAway, store_wait
from agent_runner.protocol import RunResult, WorkItem
from agent_runner.work import Sandbox, do_item

log = logging.getLogger("agent_runner")
LONG_POLL_S = 20.0
HEARTBEAT_CHECK_S = 0.25
HEARTBEAT_RETRY_S = 1.0  # after a failed heartbeat: the lease may be short of its time
HOST_GONE_AFTER_S = 10.0  # the host has not answered for this long: it died; a new host starts new runners
# An item claimed early is asked to start this long before its due time. The host looks at the row and answers go
# a little later, still before the due time (inbox.defaults.GO_AHEAD, 10 ms: the request's way there, 2 to 3 ms
# over the socket on a busy 2-core machine, comes first), and the runner starts the work at the due time on its own
# clock. Neither trip, nor the host's read, is then lateness (docs/benchmarks.md, "Lateness").
START_LEAD = timedelta(milliseconds=20)


def wait_until(at: datetime) -> None:
    """Sleep until the wall clock reaches ``at`` (``time.sleep`` never wakes before the time asked; on an idle Linux,
    some tens of microseconds after it)."""
    target = (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()
    while (left := target - time.time()) > 0:
        time.sleep(left)


@dataclass(frozen=True)
class RunnerConfig:
    session: str
    slots: int = 4
    idle_s: float = 600.0
    parent_pid: int | None = None  # process runtime: the host's pid; a runner whose host died stops


class Runner:
    def __init__(self, host: HostClient, config: RunnerConfig, sandbox: Sandbox) -> None:
        self.host = host
        self.config = config
        self.sandbox = sandbox
        self.stopping = threading.Event()  # stop claiming
        self.orphaned = False  # its host died: nobody takes its results, and its leases are left to expire
        self._closed = threading.Event()  # all held work reported: stop renewing leases
        self._held: dict[str, WorkItem] = {}
        self._reporting: set[str] = set()  # held, done, and being reported
        self._lock = threading.Lock()
        self._lease_s = 60.0
        self._pool = ThreadPoolExecutor(max_workers=config.slots, thread_name_prefix="work")

    # -- leases ----------------------------------------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        # Short waits, each checking whether a third of the lease has passed: the lease is known only once the
        # first claim answers, and a host may lease for less than the default a first long wait would assume.
        last = time.monotonic()
        failures = 0
        while not self._closed.wait(HEARTBEAT_CHECK_S):
            if time.monotonic() - last < self._lease_s / 3:
                continue
            last = time.monotonic()
            with self._lock:
                leases = {message_id: item.attempt for message_id, item in self._held.items()}
            if not leases:
                continue
            try:
                lost = self.host.heartbeat(leases).lost
            except (httpx.HTTPError, StoreAway) as exc:
                failures += 1
                if failures == 1:  # once per run of failures: they come every second
                    log.warning("heartbeat failed: %s; trying again every %g s", exc, HEARTBEAT_RETRY_S)
                last = time.monotonic() - self._lease_s / 3 + HEARTBEAT_RETRY_S  # soon, not a third of a lease on
                continue
            failures = 0
            with self._lock:  # one being reported has ended, not been taken back: its report says which
                lost = [m for m in lost if m in self._held and m not in self._reporting]
            for message_id in lost:
                log.warning("lease on %s was taken back; its result will not be recorded", message_id)

    def _may_start(self, item: WorkItem) -> WorkItem | None:
        """``item`` to do now: at once, unless it was claimed early; then at its due time, once the host's start gate
        has said go (with the conversation the run continues, when it moved on since the claim). None: a hand-back
        (paused, cancelled or updated meanwhile, or the host shutting down) is no longer this runner's: it is dropped
        without a result."""
        if not item.early:
            return item
        wait_until(item.process_after - START_LEAD)
        try:
            reply = self.host.start(item.id, item.attempt, history=item.history)
        except LeaseLost as exc:
            log.warning("%s not started: %s", item.id, exc)
            return None
        except (httpx.HTTPError, StoreAway) as exc:  # its lease expires and the host retries it
            log.error("could not ask the host to start %s: %s", item.id, exc)
            return None
        if not reply.go:
            log.info("%s handed back unstarted: %s", item.id, reply.reason)
            return None
        wait_until(item.process_after)  # the go comes a little before the due time
        history = reply.continued(item.history)
        return item if history is item.history else item.model_copy(update={"history": history})

    def _finish(self, item: WorkItem) -> None:
        started = datetime.now(UTC)
        try:
            ready = self._may_start(item)
            if ready is None:
                return
            started = datetime.now(UTC)
            result = do_item(ready, self.host, self.sandbox)
            with self._lock:
                self._reporting.add(item.id)
            reply = self.host.report(result)
            what = f'{item.kind} "{item.name}" ({item.series_id})' if item.name else f"{item.kind} {item.id}"
            why = f": {result.error}" if result.error else ""
            log.info("%s -> %s (%s)%s", what, result.outcome, reply.status, why)
        except LeaseLost as exc:
            log.warning("result for %s not recorded: %s", item.id, exc)
        except StoreAway as exc:  # asked again for minutes: its lease expires and the host retries it
            log.error("result for %s not recorded, the host's store stayed unavailable: %s", item.id, exc)
        except Exception as exc:
            log.exception("work on %s failed inside the runner", item.id)
            self._report_fault(item, started, exc)
        finally:
            with self._lock:
                self._held.pop(item.id, None)
                self._reporting.discard(item.id)

    def _report_fault(self, item: WorkItem, started: datetime, exc: Exception) -> None:
        """Say what went wrong rather than let the lease run out with a vaguer reason (it is retried)."""
        why = f"runner error: {type(exc).__name__}: {exc}"[:1000]
        fault = RunResult(
            id=item.id, attempt=item.attempt, outcome="failed", started_at=started, error=why, transient=True
        )
        try:
            self.host.report(fault)
        except Exception as again:  # nothing more to do: the lease expires and the host retries the row
            log.error("could not report the fault for %s either: %s", item.id, again)

    # -- main loop -------------------------------------------------------------------------------------
    def _host_alive(self) -> bool:
        return self.config.parent_pid is None or os.getppid() == self.config.parent_pid

    def run(self) -> int:
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        last_work = time.monotonic()
        unreachable_since: float | None = None
        store_away = 0  # claims answered 503 in a row: the host is there, its store is not (yet)
        futures: set[Future[None]] = set()
        try:
            while not self.stopping.is_set() and self._host_alive():
                futures = {f for f in futures if not f.done()}
                free = self.config.slots - len(futures)
                if free <= 0:
                    time.sleep(0.01)
                    continue
                idle_left = self.config.idle_s - (time.monotonic() - last_work)
                if not futures and idle_left <= 0:
                    log.info("idle for %g s: stopping", self.config.idle_s)
                    return 0
                wait = min(LONG_POLL_S, max(idle_left, 0.0)) if not futures else 0.2
                try:
                    reply = self.host.claim(limit=free, wait_s=wait)
                except IncompatibleHost as exc:
                    log.error("%s", exc)
                    return 4
                except StoreAway as exc:  # not a dead host: wait for its store, however long it takes
                    store_away += 1
                    if store_away == 1:
                        log.warning("claim: %s; waiting", exc)
                    time.sleep(store_wait(store_away))
                    continue
                except httpx.HTTPError as exc:
                    unreachable_since = unreachable_since or time.monotonic()
                    if time.monotonic() - unreachable_since > HOST_GONE_AFTER_S:
                        log.error("host unreachable for %g s (%s): stopping", HOST_GONE_AFTER_S, exc)
                        return 3
                    time.sleep(0.5)
                    continue
                unreachable_since, store_away = None, 0
                self._lease_s = reply.lease_s
                if reply.items:
                    last_work = time.monotonic()
                for item in reply.items:
                    with self._lock:
                        self._held[item.id] = item
                    futures.add(self._pool.submit(self._finish, item))
            if not self._host_alive():
                # Its attempts are retried once their leases expire: work left going here would then run beside
                # its own retry (and past the tag limits), so the runner exits at once (agent_runner.__main__),
                # and the programs it started die with it (agent_runner.processes).
                self.orphaned = True
                log.error("host (pid %s) is gone: stopping at once, held work is retried", self.config.parent_pid)
            return 0
        finally:
            self.stopping.set()
            if not self.orphaned:
                self._pool.shutdown(wait=True)  # held work finishes and reports before the runner exits
            self._closed.set()
