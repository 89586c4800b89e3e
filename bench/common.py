"""Helpers shared by the benchmarks: due times, percentiles, the peer's job, stores filled fast, real hosts."""

from __future__ import annotations

import functools
import itertools
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from inbox import Inbox


def spread(start: float, count: int, over_s: float, *, whole_seconds: bool = False) -> list[float]:
    """``count`` due times (epoch seconds) from ``start``, evenly spaced over ``over_s`` seconds."""
    step = over_s / count if count else 0.0
    times = [start + i * step for i in range(count)]
    return [float(math.ceil(t)) for t in times] if whole_seconds else times


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class Summary:
    """Lateness figures in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, lateness_s: Sequence[float]) -> Summary:
        ms = sorted(value * 1000 for value in lateness_s)
        return cls(len(ms), percentile(ms, 50), percentile(ms, 95), percentile(ms, 99), ms[-1] if ms else math.nan)

    def row(self, label: str) -> str:
        return f"{label:<12} {self.count:>6} {self.p50:>9.1f} {self.p95:>9.1f} {self.p99:>9.1f} {self.max:>9.1f}"


HEADER = f"{'':<12} {'count':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'max ms':>9}"

# The peer's jobs are stored by reference ("bench.common:record_start"), so they must live in an importable module.
PEER_LATENESS: dict[int, float] = {}
PEER_RUNS: dict[int, int] = {}
_peer_lock = threading.Lock()


def record_start(index: int, due: float) -> None:
    """A peer job: note how late it started (seconds after its due time) and how often it ran."""
    started = time.time()
    with _peer_lock:
        PEER_RUNS[index] = PEER_RUNS.get(index, 0) + 1
        PEER_LATENESS.setdefault(index, started - due)


# -- stores and rows ------------------------------------------------------------------------------------------
# Stores and hosts are only needed by some benches; they are imported here lazily so that the light helpers above
# stay cheap to import.
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
INSERT_CHUNK = 5_000


def pg_base() -> str:
    """The PostgreSQL server the benches use: ``INBOX_TEST_DATABASE_URL`` when set, else the local test database."""
    from inbox.config import normalize_url

    return normalize_url(os.environ.get("INBOX_TEST_DATABASE_URL") or PG_BASE)


@contextmanager
def pg_schema() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL schema, dropped afterwards."""
    from sqlalchemy import create_engine, text

    base = pg_base()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def open_store(db: str, home: Path) -> Iterator[Inbox]:
    """An empty, migrated store: SQLite in ``home``, or a PostgreSQL schema made and dropped here."""
    from inbox import Inbox

    env = {"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}
    if db == "sqlite":
        with Inbox(env=env) as inbox:
            yield inbox
        return
    with pg_schema() as url, Inbox(url, env=env) as inbox:
        yield inbox


def message_row(*, series: bool = True, **values: Any) -> dict[str, Any]:
    """Every column of an inbound row: the model's own defaults, a new id, then ``values``.

    A task (``series``) is the first occurrence of its own series, standing for the slot ``process_after``."""
    from inbox.ids import new_id

    row = dict(_defaults())
    row_id = new_id()
    row["id"] = row_id
    if series:
        row.update(series_id=row_id, occurrence_at=values["process_after"])
    row.update(values)
    for name in ("kind", "status", "catch_up"):
        row[name] = str(row[name])  # enum members to their stored text, as the ORM writes them
    return row


@functools.cache
def _defaults() -> dict[str, Any]:
    """The column values the model gives a row it is not told otherwise (built once: a model costs ~0.1 ms)."""
    from inbox.store.models import MessageIn
    from inbox.store.types import utcnow

    template = MessageIn(process_after=utcnow())
    return {column.name: getattr(template, column.name) for column in MessageIn.__table__.columns}  # type: ignore[attr-defined]


def insert_rows(engine: Engine, rows: Iterable[dict[str, Any]], *, chunk: int = INSERT_CHUNK) -> int:
    """Multi-row Core inserts into ``messages_in``, ``chunk`` rows per transaction; returns how many.

    Each transaction wakes sleeping sweepers on PostgreSQL, as the product's own inserts do."""
    from sqlalchemy import insert

    from inbox.store.engine import transaction
    from inbox.store.models import MessageIn

    table = MessageIn.__table__  # type: ignore[attr-defined]
    count = 0
    for batch in _batched(rows, chunk):
        with transaction(engine) as db:
            db.execute(insert(table), batch)
            db.info["wake"] = True
        count += len(batch)
    return count


def _batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


# -- hosts ----------------------------------------------------------------------------------------------------
SERVE = [sys.executable, "-c", "import sys; from inbox.cli.main import run; sys.exit(run())", "serve"]


def host_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without the machine's inbox settings, for a host on ``home`` (UTC)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INBOX_", "OPENAI_", "ANTHROPIC_"))}
    env.update(INBOX_HOME=str(home), INBOX_TZ="UTC", TZ="UTC", INBOX_RUNTIME="process", **extra)
    return env


def start_host(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A real ``inbox serve`` process, its output in ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(SERVE, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_host(host: subprocess.Popen[bytes], timeout_s: float = 45.0) -> int:
    """SIGTERM, then SIGKILL if it will not stop; returns its exit code."""
    if host.poll() is None:
        host.send_signal(signal.SIGTERM)
    try:
        return host.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        host.kill()
        return host.wait()


def wait_for_log(log_path: Path, marker: str, host: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """Until the host's log shows ``marker`` (e.g. that it is serving)."""
    deadline = time.monotonic() + timeout_s
    while marker not in log_path.read_text(errors="replace"):
        if host.poll() is not None:
            raise RuntimeError(f"inbox serve exited with {host.returncode}: {log_path.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {marker!r} in {log_path} after {timeout_s:g} s")
        time.sleep(0.1)


def exit_on_sigterm() -> None:
    """SIGTERM (e.g. from ``timeout``) unwinds like Ctrl-C, so hosts are stopped and schemas dropped."""

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def timed_ms(action: Callable[[], object], repeat: int) -> list[float]:
    """``repeat`` timings of ``action`` in milliseconds, sorted."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return sorted(times)


async def timed_gets(client: Any, label: str, path: str, repeat: int) -> list[float]:
    """``repeat`` GETs of ``path`` through an httpx client, after one untimed (a running host has compiled its
    templates): each one's milliseconds, sorted; a status other than 200 ends the benchmark naming ``label``."""
    await client.get(path, follow_redirects=True)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        answer = await client.get(path, follow_redirects=True)
        times.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{label}: {path} answered {answer.status_code}: {answer.text[:300]}")
    return sorted(times)
