"""PostgreSQL restarted under load: the hosts and their runners reconnect by themselves and the work goes on.

The chaos run's tasks, two hosts, and instead of kills a private PostgreSQL server (tests/chaos/private_pg.py)
stopped every few seconds, in turn cleanly and as if it crashed, and started again a moment later. Afterwards
the chaos invariants hold (nothing lost, nothing run twice), and neither host died: none had to be replaced.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.db_restarts import DatabaseRestarts
from tests.chaos.private_pg import missing, private_postgres
from tests.chaos.run import ChaosConfig, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

SHORT = ChaosConfig(tasks=120, chaos_s=30.0, seed=2, settle_timeout_s=150.0)


def test_hosts_and_runners_ride_out_database_restarts(tmp_path: Path) -> None:
    why = missing()
    if why:
        pytest.skip(f"no private PostgreSQL server can be started here: {why}")
    home = tmp_path / "home"
    home.mkdir()
    with private_postgres() as server:
        result = run_chaos(
            home,
            server.url,
            SHORT,
            backend="postgres",
            disrupt=lambda _cluster: DatabaseRestarts(server, seed=SHORT.seed),
        )
    figures = result.figures
    assert result.violations == [], result.report()
    assert result.settled, result.report()
    assert result.kills.db_restarts >= 3, result.report()
    assert result.hosts_started == 2, f"a host died and was replaced\n{result.report()}"
    for outcome in ("completed", "skipped", "script_error"):
        assert figures.endings_by_outcome.get(outcome, 0) > 0, result.report()
    assert figures.occurrences > figures.tasks  # the series moved on, across the restarts
