"""``inbox audit`` as a user runs it, on every backend: what the commands changed, by ``cli``, newest first."""

from __future__ import annotations

from tests.acceptance.conftest import Cli


def test_inbox_audit_lists_the_changes_newest_first_and_says_how_many_more(cli: Cli) -> None:
    sid = cli.json("schedule", "check mail", "--every", "1h", "--name", "mail", "--json")["series_id"]
    cli.ok("pause", "mail")
    cli.ok("update", "mail", "--prompt", "check all mail")
    cli.ok("resume", sid)
    cli.ok("token", "create", "laptop", "--scope", "read")
    cli.ok("hook", "create", "github")

    entries = cli.json("audit", "--json")
    assert [(e["actor"], e["action"], e["subject"]) for e in entries] == [
        ("cli", "hook.create", "github"),
        ("cli", "token.create", "laptop"),
        ("cli", "task.resume", sid),
        ("cli", "task.update", sid),
        ("cli", "task.pause", sid),
        ("cli", "task.create", sid),
    ]
    assert entries[2]["changes"] == {"status": {"before": "paused", "after": "active"}}
    assert entries[3]["changes"] == {"prompt": {"before": "check mail", "after": "check all mail"}}

    newest = cli.run("audit", "mail", "--limit", "1")
    assert newest.returncode == 0, newest.stderr
    assert "task.resume" in newest.stdout and "status: paused → active" in newest.stdout
    assert "task.update" not in newest.stdout and newest.stderr.startswith("1 shown, 3 older")
    assert len(cli.json("audit", "mail", "--all", "--json")) == 4
    assert [e["action"] for e in cli.json("audit", "laptop", "--json")] == ["token.create"]

    for wrong in (["--limit", "0"], ["--limit", "1", "--all"]):
        refused = cli.run("audit", *wrong)
        assert refused.returncode == 2 and "limit" in refused.stderr
