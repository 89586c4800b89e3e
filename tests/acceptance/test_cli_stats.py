"""``inbox stats`` as a user runs it: a real process, its JSON read back, bad input refused with exit 2."""

from __future__ import annotations

from tests.acceptance.conftest import Cli


def test_stats_of_a_task_and_of_the_store(cli: Cli) -> None:
    made = cli.json("schedule", "stretch", "--every", "1h", "--name", "stretch", "--remind", "--json")
    whole = cli.json("stats", "--json")
    assert whole["series_id"] is None and whole["runs"] == 0 and whole["busiest"] == []
    mine = cli.json("stats", "stretch", "--since", "30d", "--json")
    assert (mine["series_id"], mine["name"], mine["runs"], mine["success_rate"]) == (
        made["series_id"],
        "stretch",
        0,
        None,
    )
    text = cli.ok("stats", "stretch")
    assert "Stats of stretch" in text and "lateness:" in text


def test_a_bad_window_exits_2_naming_it(cli: Cli) -> None:
    result = cli.run("stats", "--since", "a while")
    assert result.returncode == 2 and "since:" in result.stderr
    missing = cli.run("stats", "no-such-task")
    assert missing.returncode == 2 and "no-such-task" in missing.stderr
