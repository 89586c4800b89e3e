"""``inbox update ID --do KIND --with JSON`` as a user gives it: the task's kind changes, a bad ``--with`` exits 2
naming the field and writes nothing."""

from __future__ import annotations

import json

from tests.acceptance.conftest import Cli


def test_update_changes_what_a_task_does_and_refuses_a_bad_with(cli: Cli) -> None:
    made = cli.json("schedule", "ping the box", "--every", "1h", "--json")
    sid = made["series_id"]
    target = json.dumps({"url": "http://127.0.0.1:9/up", "method": "GET"})  # a person's request may stay local
    changed = cli.json("update", sid, "--do", "http", "--with", target, "--json")
    assert (changed["do"], changed["with"]["url"]) == ("http", "http://127.0.0.1:9/up")
    for args, field in (
        (("--with", '{"url": "gopher://x"}'), "with.url"),
        (("--with", "{not json"), "with"),
        (("--do", "command"), "with.argv"),
        (("--do", "Nope"), "do"),
    ):
        done = cli.run("update", sid, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert field in done.stderr, (args, done.stderr)
    shown = cli.json("show", sid, "--json")["task"]
    assert (shown["do"], shown["with"]) == ("http", {"url": "http://127.0.0.1:9/up", "method": "GET", "headers": {}})
    assert "kind:" in cli.ok("show", sid)
