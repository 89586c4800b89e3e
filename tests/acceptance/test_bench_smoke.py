"""The benchmarks still run end to end (a tiny size, no peer); their figures are not checked here.

Each bench exits 1 when it finds a wrong result (a message lost, delivered twice or left pending; no work flowing
while measured), and prints its headline last.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository: bench/ is run from there


def _postgres(module: str, args: list[str], headline: str) -> object:
    return pytest.param(module, [*args, "--db", "postgres"], headline, marks=pytest.mark.postgres)


@pytest.mark.parametrize(
    ("module", "args", "headline"),
    [
        ("bench.dispatch", ["--messages", "300", "--no-peer"], "dispatch (sqlite): inbox "),
        ("bench.enqueue", ["--messages", "300"], "enqueue (sqlite): single "),
        ("bench.due_scan", ["--sizes", "200,400", "--repeat", "5"], "due-scan (sqlite): at 400 rows "),
        ("bench.fanout", ["--series", "50"], "fanout (sqlite): 50 series' next rows written "),
        ("bench.claims", ["--rows", "2000", "--repeat", "5"], "claims (sqlite, 2000 due rows, 10 limited tags): "),
        _postgres("bench.claims", ["--rows", "2000", "--repeat", "5"], "claims (postgres, 2000 due rows, "),
        ("bench.dashboard", ["--series", "200", "--repeat", "2"], "dashboard (sqlite): 200 series, 22 pages"),
        ("bench.paging", ["--sizes", "50,250", "--repeat", "2"], "paging (sqlite): first page of GET /v1/tasks "),
        _postgres(
            "bench.paging", ["--sizes", "250", "--repeat", "2"], "paging (postgres): first page of GET /v1/tasks "
        ),
        ("bench.events", ["--events", "60", "--batch", "20", "--series", "30", "--latency", "0"], "events (sqlite): "),
        _postgres("bench.events", ["--events", "60", "--batch", "20", "--series", "30", "--latency", "0"], "events ("),
        pytest.param(
            "bench.events",
            ["--events", "20", "--series", "10", "--latency", "3"],
            "events (sqlite): ingest batched ",
            marks=pytest.mark.slow,
        ),
        ("bench.hooks", ["--calls", "3", "--files", "3"], "hooks: webhook to model request "),
        ("bench.cli_startup", ["--runs", "1", "--series", "5"], "cli start-up: inbox --help "),
        _postgres("bench.due_scan", ["--sizes", "200", "--repeat", "5"], "due-scan (postgres): at 200 rows "),
        _postgres("bench.fanout", ["--series", "50"], "fanout (postgres): 50 series' next rows written "),
        pytest.param(
            "bench.lateness",
            ["--tasks", "5", "--over", "2", "--no-peer"],
            "lateness p50=",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "bench.delivery",
            ["--messages", "200", "--lateness", "20", "--over", "2"],
            "delivery (sqlite, 10 channels): ",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "bench.wake", ["--runs", "2", "--runtime", "process"], "wake (process): cold p50=", marks=pytest.mark.slow
        ),
        pytest.param(
            "bench.dispatch_http",
            ["--tasks", "40", "--sessions", "2"],
            "dispatch_http (sqlite, process runtime): ",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "bench.memory",
            ["--series", "400", "--seconds", "12", "--baseline-seconds", "2"],
            "memory: host RSS ",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "bench.idle",
            ["--series", "20", "--minutes", "0.05", "--warmup-seconds", "1"],
            "idle (sqlite, 20 series, 0.05 min): CPU ",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "bench.idle",
            [
                "--series",
                "20",
                "--minutes",
                "0.05",
                # PostgreSQL flushes an idle backend's statistics up to 10 s late: the host's start-up writes
                # (its first API token) must not land in the window.
                "--warmup-seconds",
                "11",
                "--baseline-minutes",
                "0.02",
                "--db",
                "postgres",
            ],
            "idle (postgres, 20 series, 0.05 min): CPU ",
            marks=[pytest.mark.slow, pytest.mark.postgres],
        ),
        pytest.param(
            "bench.pg_hosts",
            ["--hosts", "2", "--minutes", "0.1", "--backlog", "2000"],
            "pg_hosts (2 hosts, 0.1 min): ",
            marks=[pytest.mark.slow, pytest.mark.postgres],
        ),
    ],
)
def test_bench_runs(module: str, args: list[str], headline: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = result.stdout.strip().splitlines()
    assert lines and lines[-1].startswith(headline), output
