"""Helpers shared by the benchmarks: evenly spread due times, percentiles, and the peer's job function."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass


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
