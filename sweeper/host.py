"""The host: the sweeper loop, the HTTP server (unix socket for runners, optional TCP), and a runtime.

``inbox serve`` builds one :class:`Host` and runs it until SIGTERM/SIGINT. Shutdown order matters: stop
sweeping, stop handing out work, let runners report what they hold (up to a deadline), then close the server
the runners report through.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import socket
import socket as socketlib
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import uvicorn

from inbox.api import Inbox
from inbox.http.auth import prepare_admin_tokens
from inbox.store.claims import release_host, release_owner
from inbox.store.endings import describe_row
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.outage import STORE_ERRORS, is_outage
from inbox.store.rollups import EVERY as ROLLUPS_EVERY
from inbox.store.rollups import ROLLUPS, roll_up_store, rollups_due
from inbox.store.types import utcnow
from sweeper.chores import RETENTION, run_chore
from sweeper.delivery.deliverer import Deliverer, DeliveryConfig
from sweeper.drop_watch import DropWatch
from sweeper.host_config import HostConfig
from sweeper.host_requests import OWNER_SUFFIX, HostRequests
from sweeper.http.agent_limits import AgentLimits
from sweeper.http.app import HostState, make_app
from sweeper.http.model_proxy import ModelProxy
from sweeper.http.server import Server
from sweeper.http_work import HttpWork
from sweeper.loop import run_loop
from sweeper.outage import Outage
from sweeper.retention import RetentionPolicy, apply_retention, retention_due
from sweeper.runtimes.base import RunnerContext, Runtime
from sweeper.runtimes.process import ProcessRuntime
from sweeper.statistics import EVERY as STATISTICS_EVERY
from sweeper.statistics import STATISTICS, refresh_statistics, statistics_stale
from sweeper.sweep import PassReport

log = logging.getLogger("inbox.host")
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux
SERVER_CLOSE_S = 2
# Listening from the moment a socket is bound: a client that connects once the host has said where (a runner, a
# script, a test reading the start lines) waits in this queue until the server takes it, where a bound socket not
# yet listening would refuse it. uvicorn's own backlog, which it sets again when it starts serving.
BACKLOG = 2048
RETENTION_EVERY = timedelta(hours=1)
CHORE_CHECK_S = 10.0  # how often a host looks whether a chore is due (by its own clock; reads only)


class UnsafeSocketFolder(Exception):
    """The folder the runners' socket would go in is not this user's alone: whoever can replace the socket there
    could pose as the host to its runners."""


class ServerDidNotStart(Exception):
    """The HTTP server's thread ended before serving (uvicorn logged why): a host without it would start runners
    that can never claim, so it stops instead."""


def socket_path(home: Path) -> Path:
    """Where this host listens for its runners: under ``$INBOX_HOME/run``, or a short temp path if too long."""
    path = home / "run" / f"host-{os.getpid()}.sock"
    if len(str(path)) > MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"inbox-{digest}" / f"host-{os.getpid()}.sock"
    return path


def _own_folder(folder: Path) -> None:
    """Make ``folder`` (mode 0700) or check the one there is this user's and writable by nobody else.

    The short fallback under /tmp has a name anyone can work out: another user could have made it first, and
    would then own the socket's place. ``$INBOX_HOME/run`` gets the same check.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    found = os.lstat(folder)
    if not stat.S_ISDIR(found.st_mode):
        raise UnsafeSocketFolder(f"the runners' socket folder {folder} is not a folder (a link?): remove it")
    if found.st_uid != os.geteuid():
        raise UnsafeSocketFolder(
            f"the runners' socket folder {folder} is owned by uid {found.st_uid}, not this user "
            f"(uid {os.geteuid()}): remove it, or set an INBOX_HOME of this user's"
        )
    if found.st_mode & 0o022:
        raise UnsafeSocketFolder(
            f"the runners' socket folder {folder} is writable by others (mode {stat.S_IMODE(found.st_mode):04o}): "
            "remove it, or chmod go-w it"
        )


def _unix_listener(path: Path) -> socketlib.socket:
    _own_folder(path.parent)
    path.unlink(missing_ok=True)
    sock = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, 0o600)  # runners run as this user (process runtime) or get the socket mounted in
    sock.listen(BACKLOG)
    return sock


def _tcp_listener(listen: str) -> socketlib.socket:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    family = socketlib.AF_INET6 if ":" in host else socketlib.AF_INET
    sock = socketlib.socket(family, socketlib.SOCK_STREAM)
    sock.setsockopt(socketlib.SOL_SOCKET, socketlib.SO_REUSEADDR, 1)
    sock.bind((host, int(port)))
    sock.listen(BACKLOG)
    return sock


class Host:
    def __init__(
        self,
        inbox: Inbox,
        config: HostConfig,
        *,
        listen: str | None = None,
        runtime_factory: Callable[[RunnerContext], Runtime] = ProcessRuntime,
    ) -> None:
        self.inbox = inbox
        self.config = config
        self.stop = threading.Event()
        self.nudge = threading.Event()
        self.id = f"{socket.gethostname()[:40]}-{os.getpid()}"
        home = inbox.settings.home
        self.socket_path = socket_path(home)
        # The TCP address first: a busy or unknown one fails before anything is logged, written or bound.
        tcp = [_tcp_listener(listen)] if listen is not None else []
        unix = _unix_listener(self.socket_path)  # a refused socket folder: nothing written either
        api = Inbox(inbox.url, env=inbox.settings.env, actor="api", engine=inbox.engine)
        settings = inbox.settings
        configured = settings.api_token
        self.admin_tokens = prepare_admin_tokens(inbox.engine, home, configured)  # where the user finds one
        log.info("admin token of the HTTP API: %s", self.admin_tokens)
        self.state = HostState(
            inbox=api,
            nudge=self.nudge,
            admin_token=configured,
            model=ModelProxy(inbox.settings),
            lease=config.lease,
            backoff=config.backoff,
            outage=Outage(inbox.engine, log),
            http=HttpWork(own=[sock.getsockname()[:2] for sock in tcp]),  # never reached by the agent's requests
            agent_limits=AgentLimits(
                max_live_tasks=settings.agent_max_tasks,
                min_interval=settings.agent_min_interval,
                unattended_recurring=settings.agent_unattended_recurring,
                daily_series_tokens=settings.series_daily_tokens,
                history_tokens=settings.history_tokens,
            ),
        )
        self._listeners = [unix, *tcp]
        # Script-less http tasks: run by this host itself, in its own thread (sweeper/host_requests.py).
        self.requests = HostRequests(
            inbox.engine,
            self.state.http,
            owner=f"{self.id}{OWNER_SUFFIX}",
            lease=config.lease,
            backoff=config.backoff,
            grace=config.grace,
            daily_series_tokens=settings.series_daily_tokens,
        )
        self.runtime = runtime_factory(
            RunnerContext(
                host_id=self.id,
                socket_path=self.socket_path,
                home=home,
                tokens=self.state.runner_tokens,
                doorbells=self.state.doorbells,
                idle_s=config.runner_idle_s,
                allow_unsandboxed=config.allow_unsandboxed,
                log_level=config.runner_log_level,
                log_format=config.log_format,
                on_exit=self._runner_ended,
            )
        )
        # Outbox rows go out through their channels from this host too (sweeper/delivery), beside the sweeper.
        self.deliverer = Deliverer(inbox.engine, owner=self.id, config=DeliveryConfig.from_settings(settings))
        self.retention = RetentionPolicy(
            keep_runs=settings.keep_runs, keep_outbox=settings.keep_outbox, keep_audit=settings.keep_audit
        )
        self.start_failures: list[tuple[str, str]] = []  # (session, why) of runners that could not be started
        self.runner_deaths: list[tuple[str, str]] = []  # (session, cause) of runners that did not exit cleanly
        self._next_chore_check = 0.0
        self._next_look: dict[str, float] = {}  # chore -> when this host looks at it again (monotonic)
        self.server = Server(
            uvicorn.Config(
                make_app(self.state, public=listen is not None),  # without --listen the API is off
                log_level="warning",
                log_config=None,  # its lines go through the host's own handler: text or JSON (INBOX_LOG_FORMAT)
                access_log=False,
                lifespan="on",  # the MCP endpoint's transport lives as long as the server
                # By then every runner has reported or been stopped: a request still open (a model call a
                # stopped runner made) has nobody left to answer, so it must not hold the host up.
                timeout_graceful_shutdown=SERVER_CLOSE_S,
            )
        )

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        for sock in self._listeners:
            if sock.family != socketlib.AF_UNIX:
                host, port = sock.getsockname()[:2]
                return str(host), int(port)
        return None

    def _runner_ended(self, session: str, owner: str, cause: str | None) -> None:
        released: list[MessageIn] = []
        # Requests the host is making for it go on until they end: its rows are handed back after them. Not past
        # a lease: by then the row's lease has expired (it was not renewed) and the sweep takes it back anyway.
        wait_s = self.state.lease.total_seconds()
        if not self.state.http_held.close(owner, timeout_s=wait_s):
            log.warning("runner %s ended while a request it asked for went on past %g s", owner, wait_s)
        if cause is not None and not self.state.draining.is_set():  # when draining, _hand_back says why
            try:
                with transaction(self.inbox.engine) as db:
                    released = release_owner(db, owner, cause, now=utcnow(), backoff=self.config.backoff)
            except STORE_ERRORS as exc:  # the loop says the store is away; the dead runner's leases expire instead
                if not is_outage(exc):
                    raise
                log.warning(
                    "runner %s (session %s) died (%s); its work is retried once its leases expire (%s)",
                    owner,
                    session,
                    cause,
                    type(exc).__name__,
                )
            for row in released:
                fate = "failed (no tries left)" if row.status == "failed" else "to be retried"
                log.warning("runner %s (session %s) died: %s; %s %s", owner, session, cause, describe_row(row), fate)
        self.state.http_held.forget(owner)
        if cause is not None:
            self.runner_deaths.append((session, cause))
        self.nudge.set()  # its session may still have work: look now

    def on_pass(self, report: PassReport, *, wake: bool = True) -> None:
        """After a sweep: stop hung runners, do the shared chores when due, and (``wake``) get a runner going
        for every session with due work."""
        self.state.last_sweep_s = report.seconds
        if report.host_requests:
            self.requests.kick()  # without waiting: a slow target must not hold the loop
        for owner in report.silent_owners:
            self.runtime.discard(owner)  # hung: its rows were retried, it must not hold the session's place
        now = time.monotonic()
        if now >= self._next_chore_check:
            self._next_chore_check = now + CHORE_CHECK_S
            self._chores()
        for session in report.waiting_sessions if wake else ():
            try:
                self.runtime.wake(session)
            except Exception as exc:  # the rows stay pending; the next pass tries again
                self.start_failures.append((session, str(exc)))
                log.error("could not start a runner for session %s: %s", session, exc)

    def _chores(self) -> None:
        """Chores one host does for all that share the store (sweeper/chores.py): retention hourly, the runs' hourly
        roll-ups for the dashboard's stats every minute (inbox/store/rollups.py) and, on PostgreSQL, planner
        statistics every 10 s (sweeper/statistics.py). Each is looked at once per its interval by this host, with
        reads; it writes only when there is something to do."""
        engine, instant, clock = self.inbox.engine, utcnow(), time.monotonic()
        policy, keep = self.retention, self.retention.keep_runs
        chores: list[tuple[str, Callable[[], bool], Callable[[], object], timedelta]] = [
            (
                RETENTION,
                lambda: retention_due(engine, now=instant, policy=policy),
                lambda: apply_retention(engine, now=instant, policy=policy),
                RETENTION_EVERY,
            ),
            (
                ROLLUPS,
                lambda: rollups_due(engine, now=instant, keep=keep),
                lambda: roll_up_store(engine, now=instant, keep=keep),
                ROLLUPS_EVERY,
            ),
        ]
        if engine.dialect.name == "postgresql":  # SQLite plans the due queries from the index alone
            chores.append(
                (STATISTICS, lambda: statistics_stale(engine), lambda: refresh_statistics(engine), STATISTICS_EVERY)
            )
        for name, needed, work, every in chores:
            if clock < self._next_look.get(name, 0.0):
                continue
            self._next_look[name] = clock + every.total_seconds()
            try:
                run_chore(engine, name, work, owner=self.id, now=instant, every=every, needed=needed)
            except Exception as exc:  # a chore is no reason to stop the host's loop: due again next interval
                if is_outage(exc) and self.state.outage is not None:
                    self.state.outage.failed(exc)  # told once, with the loop's; looked at again at the next check
                    self._next_look[name] = clock
                    return
                log.error("could not check the host chore %s: %s", name, exc)

    @contextmanager
    def serving(self) -> Iterator[None]:
        """The HTTP server up for the runners while the body runs; afterwards, the ordered shutdown."""
        server_thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": self._listeners}, name="http", daemon=True
        )
        server_thread.start()
        while not self.server.started and server_thread.is_alive():
            self.stop.wait(0.01)  # runners started by the first pass must find the socket listening
        if not self.server.started and not self.stop.is_set():
            self.socket_path.unlink(missing_ok=True)
            raise ServerDidNotStart("the HTTP server did not start: see the error logged above")
        self.deliverer.start()
        self.requests.start()
        try:
            yield
        finally:
            self.state.draining.set()
            self.requests.stop_soon(self.config.shutdown_grace_s)  # its requests share the runners' grace
            for session in self.runtime.active():
                self.state.doorbells.ring(session)  # waiting claims return empty at once
            self.runtime.shutdown(self.config.shutdown_grace_s)
            self.requests.join(self.config.shutdown_grace_s)  # what is still in flight is handed back below
            self._hand_back()
            self.deliverer.stop()  # what the runners' last results wrote was rung already; sends under way finish
            self.server.stop_soon()
            server_thread.join(timeout=10)
            if self.state.model is not None:
                self.state.model.close()
            self.socket_path.unlink(missing_ok=True)

    def run(self) -> None:
        with self.serving():
            # Everything loaded so far lives as long as the host: keep it out of the collector's full passes,
            # whose pauses (every thread stopped) otherwise set the tail of how late due work starts.
            gc.collect()
            gc.freeze()
            watch = DropWatch(self.inbox, self.stop, on_written=self.nudge.set).start()
            try:
                self._loop()
            finally:
                self.stop.set()
                watch.join(timeout=5)

    def _loop(self) -> None:
        run_loop(
            self.inbox.engine,
            interval_s=self.config.interval_s,
            stop=self.stop,
            grace=self.config.grace,
            backoff=self.config.backoff,
            on_pass=self.on_pass,
            nudge=self.nudge,
            lease=self.config.lease,
            outage=self.state.outage,
        )

    def _hand_back(self) -> None:
        """What this host's runners still hold after the grace goes back to pending now, for any host."""
        try:
            with transaction(self.inbox.engine) as db:
                released = release_host(db, self.id, now=utcnow())
        except Exception as exc:  # the store is unreachable: the leases expire instead
            log.error("could not hand back running work: %s", exc)
            return
        if released:
            log.warning("shutting down: %d unfinished runs handed back for retry", len(released))

    def request_stop(self) -> None:
        self.stop.set()
        self.nudge.set()
