"""Tags and priorities as a user gives them: ``--tag``, ``--priority``, ``inbox tasks --tag``, ``inbox show``."""

from __future__ import annotations

import re

from tests.acceptance.conftest import Cli


def test_tasks_are_tagged_listed_by_tag_retagged_and_shown(cli: Cli) -> None:
    backup = cli.json("schedule", "back up", "--every", "1h", "--tag", "backup", "--tag", "nightly", "--json")
    cli.ok("schedule", "ping", "--every", "5m", "--tag", "net", "--priority", "-3")
    cli.ok("schedule", "plain", "--every", "1d")
    tagged = cli.json("tasks", "--tag", "backup", "--json")
    assert [(t["series_id"], t["tags"], t["priority"]) for t in tagged] == [
        (backup["series_id"], ["backup", "nightly"], 0)
    ]
    assert [t["prompt"] for t in cli.json("tasks", "--tag", "net", "--json")] == ["ping"]
    assert [t["priority"] for t in cli.json("tasks", "--tag", "net", "--json")] == [-3]
    assert cli.json("tasks", "--tag", "nothing", "--json") == []

    cli.ok("update", backup["series_id"], "--tag", "net", "--priority", "5")
    assert sorted(t["prompt"] for t in cli.json("tasks", "--tag", "net", "--json")) == ["back up", "ping"]
    assert cli.json("tasks", "--tag", "backup", "--json") == []
    shown = cli.ok("show", backup["series_id"])
    assert "tags:" in shown and "net" in shown and re.search(r"^  priority: +5$", shown, re.MULTILINE)
    cli.ok("update", backup["series_id"], "--tag", "")
    assert cli.json("show", backup["series_id"], "--json")["task"]["tags"] == []
    assert [t["prompt"] for t in cli.json("tasks", "--tag", "net", "--json")] == ["ping"]


def test_bad_tags_and_priorities_are_refused_naming_the_field_and_write_nothing(cli: Cli) -> None:
    for args, field in (
        (("--tag", "Has Space"), "tags"),
        (("--tag", ""), "tags"),
        (("--tag", "x" * 65), "tags"),
        (("--priority", "11"), "priority"),
        (("--priority", "-11"), "priority"),
        (("--priority", "high"), "priority"),
    ):
        done = cli.run("schedule", "nope", "--every", "1h", *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert field in done.stderr, (args, done.stderr)
    many = [arg for index in range(21) for arg in ("--tag", f"t{index}")]
    done = cli.run("schedule", "nope", "--every", "1h", *many)
    assert done.returncode == 2 and "tags" in done.stderr
    assert cli.json("tasks", "--status", "all", "--json") == []
    done = cli.run("tasks", "--tag", "Bad Tag")
    assert done.returncode == 2 and "tag" in done.stderr
