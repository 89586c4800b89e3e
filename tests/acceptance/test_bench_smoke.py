"""The benchmarks still run end to end (a tiny size, no peer); their figures are not checked here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository: bench/ is run from there


@pytest.mark.slow
def test_lateness_bench_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.lateness", "--tasks", "5", "--over", "2", "--no-peer"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = result.stdout.strip().splitlines()
    assert lines, output
    assert lines[-1].startswith("lateness p50="), output


@pytest.mark.slow
def test_wake_bench_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.wake", "--runs", "2", "--runtime", "process"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.strip().splitlines()[-1].startswith("wake (process): cold p50="), output


@pytest.mark.parametrize(
    ("module", "args", "headline"),
    [
        ("bench.dispatch", ["--messages", "300", "--no-peer"], "dispatch (sqlite): inbox "),
        ("bench.enqueue", ["--messages", "300"], "enqueue (sqlite): single "),
        ("bench.due_scan", ["--sizes", "200,400", "--repeat", "5"], "due-scan (sqlite): at 400 rows "),
        ("bench.fanout", ["--series", "50"], "fanout (sqlite): 50 series' next rows written "),
        pytest.param(
            "bench.due_scan",
            ["--sizes", "200", "--repeat", "5", "--db", "postgres"],
            "due-scan (postgres): at 200 rows ",
            marks=pytest.mark.postgres,
        ),
        pytest.param(
            "bench.fanout",
            ["--series", "50", "--db", "postgres"],
            "fanout (postgres): 50 series' next rows written ",
            marks=pytest.mark.postgres,
        ),
    ],
)
def test_store_benches_run(module: str, args: list[str], headline: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output  # the benches exit 1 when a message was lost or left pending
    assert result.stdout.strip().splitlines()[-1].startswith(headline), output


@pytest.mark.slow
def test_memory_bench_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--series", "400", "--seconds", "12", "--baseline-seconds", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output  # 1 when no work flowed through the measured host or it logged errors
    assert result.stdout.strip().splitlines()[-1].startswith("memory: host RSS "), output


@pytest.mark.slow
@pytest.mark.postgres
def test_pg_hosts_bench_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.pg_hosts", "--hosts", "2", "--minutes", "0.1", "--backlog", "2000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output  # 1 on a duplicate delivery or a message never ended
    assert result.stdout.strip().splitlines()[-1].startswith("pg_hosts (2 hosts, 0.1 min): "), output
