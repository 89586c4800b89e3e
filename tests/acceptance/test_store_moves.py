"""``inbox export``/``import`` and ``inbox backup``/``restore`` as a user runs them, on every backend."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.conftest import Cli


def _other_home(cli: Cli, tmp_path: Path) -> Cli:
    """A second installation on SQLite, in a home of its own."""
    home = tmp_path / "other"
    home.mkdir()
    env = {k: v for k, v in cli.env.items() if k != "INBOX_DATABASE_URL"}
    return Cli(home=home, backend="sqlite", env={**env, "INBOX_HOME": str(home)})


def _next_runs(cli: Cli) -> dict[str, str | None]:
    return {t["series_id"]: t["next_run"] for t in cli.json("tasks", "--status", "all", "--json")}


def test_export_then_import_moves_the_tasks_and_a_second_import_adds_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.ok("schedule", "Stretch", "--every", "1h30m", "--remind", "--name", "stretch")
    cli.ok("schedule", "Weekly", "--cron", "0 9 * * 1", "--tz", "Europe/Paris", "--catch-up", "skip")
    paused = cli.json("schedule", "Digest", "--cron", "@daily", "--json")["series_id"]
    cli.ok("pause", paused)
    cli.ok("send", "later", "--in", "2h")
    document = cli.json("export")
    assert (document["format"], document["version"], len(document["tasks"])) == ("inbox-export", 1, 3)

    exported = tmp_path / "tasks.json"
    result = cli.run("export", str(exported))
    assert result.returncode == 0 and result.stdout == "", result.stderr
    assert "exported 3 tasks, 1 message" in result.stderr

    other = _other_home(cli, tmp_path)
    assert other.ok("import", str(exported)).strip() == "imported 3 tasks, 1 message"
    assert _next_runs(other) == _next_runs(cli)
    assert other.json("tasks", "--status", "paused", "--json")[0]["series_id"] == paused

    again = other.json("import", "-", "--json", stdin=exported.read_text())
    assert again == {"tasks": {"added": 0, "present": 3}, "messages": {"added": 0, "present": 1}}
    assert len(other.json("tasks", "--status", "all", "--json")) == 3


def test_an_import_with_a_bad_field_exits_2_naming_it_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.ok("schedule", "one", "--every", "1h")
    cli.ok("schedule", "two", "--every", "2h")
    document = cli.json("export")
    document["tasks"][1]["timezone"] = "Europe/Atlantis"
    other = _other_home(cli, tmp_path)
    result = other.run("import", "-", stdin=json.dumps(document))
    assert result.returncode == 2
    assert "tasks[1].timezone" in result.stderr and "Europe/Atlantis" in result.stderr
    assert other.json("tasks", "--status", "all", "--json") == []

    for broken, says in (("{", "not JSON"), ('{"format": "inbox-export", "version": 7}', "version")):
        refused = other.run("import", "-", stdin=broken)
        assert refused.returncode == 2 and says in refused.stderr
    missing = other.run("import", str(tmp_path / "nothing.json"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_backup_and_restore_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    cli.ok("schedule", "Stretch", "--every", "1h30m", "--remind")
    made = cli.json("backup", str(tmp_path / "b"), "--json")
    expected_format = "sqlite" if cli.backend == "sqlite" else "pg_dump"
    assert (made["format"], made["rows"]["messages_in"]) == (expected_format, 1)
    assert made["bytes"] == (tmp_path / "b").stat().st_size

    refused = cli.run("restore", str(tmp_path / "b"))
    assert refused.returncode == 2 and "--force" in refused.stderr
    cli.ok("schedule", "made later", "--every", "1h")
    cli.ok("restore", "--force", str(tmp_path / "b"))
    assert [t["prompt"] for t in cli.json("tasks", "--json")] == ["Stretch"]

    portable = cli.json("backup", str(tmp_path / "b.jsonl"), "--format", "json", "--json")
    other = _other_home(cli, tmp_path)
    restored = other.json("restore", str(tmp_path / "b.jsonl"), "--json")
    assert restored["rows"] == portable["rows"]
    assert _next_runs(other) == _next_runs(cli)

    wrong = cli.run("backup", str(tmp_path / "c"), "--format", "tarball")
    assert wrong.returncode == 2 and "--format" in wrong.stderr
    nothing = other.run("restore", str(tmp_path / "missing"))
    assert nothing.returncode == 2 and "no such file" in nothing.stderr
