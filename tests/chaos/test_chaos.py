"""The short form of the chaos suite, on every backend: 160 tasks, 6 dependency chains, 8 tasks listening for 150
events from an emitter process (two in five of them webhook calls), two hosts, about 30 s of random kills.

The long form is ``python -m tests.chaos.run`` (docs/reliability.md). A failure prints the figures, every
violation found and where the host logs are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.run import ChaosConfig, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

SHORT = ChaosConfig(tasks=160, chaos_s=30.0, seed=1, settle_timeout_s=150.0, events=150, listeners=8)


def test_nothing_is_lost_or_run_twice_while_hosts_and_runners_are_killed(
    backend: str, store_url: str, home: Path
) -> None:
    result = run_chaos(home, store_url, SHORT, backend=backend)
    figures = result.figures
    assert result.violations == [], result.report()
    assert result.settled, result.report()
    # The run did what it is for: both kinds of kill happened, and every kind of ending was reached.
    assert figures.host_kills >= 2 and figures.runner_kills >= 2, result.report()
    assert figures.runs_by_outcome.get("interrupted", 0) > 0, result.report()
    for outcome in ("completed", "skipped", "script_error"):
        assert figures.endings_by_outcome.get(outcome, 0) > 0, result.report()
    assert figures.occurrences > figures.tasks  # the series moved on
    for outcome in ("completed", "upstream_failed"):  # chains ran rounds, and failures went down them
        assert figures.rounds_by_outcome.get(outcome, 0) > 0, result.report()
    # Events fanned out while the emitter was killed too: each way an event meets a series was reached.
    assert figures.emitter_kills >= 1 and figures.key_repeats > 0, result.report()
    for state in ("started", "queued", "coalesced"):
        assert figures.matches_by_state.get(state, 0) > 0, result.report()
    assert figures.event_endings.get("completed", 0) > 0, result.report()
    # Some of them were webhook calls to the hosts, and the --message hook's bodies became messages.
    assert figures.hook_calls > 0 and figures.hook_events > 0 and figures.hook_messages > 0, result.report()
