"""``inbox tasks``, ``runs`` and ``outbox`` page like ``gh``: the first ``--limit N`` rows (100 unless told), every
row with ``--all``, and a line on standard error saying how many more there are (standard output stays the table or
the JSON list)."""

from __future__ import annotations

import json
import re

from inbox import Inbox
from tests.acceptance.conftest import Cli
from tests.integration.test_paging import add_outbox, add_runs, schedule


def stored(cli: Cli, store_url: str) -> Inbox:
    return Inbox(store_url, env={"INBOX_HOME": str(cli.home), "INBOX_TZ": "UTC"})


def test_tasks_show_a_hundred_and_say_how_many_more(cli: Cli, store_url: str) -> None:
    with stored(cli, store_url) as inbox:
        made = schedule(inbox, 104)
    first = cli.run("tasks", "--json")
    assert first.returncode == 0, first.stderr
    assert [t["series_id"] for t in json.loads(first.stdout)] == made[:100]
    assert first.stderr.strip() == "100 shown, 4 more: --limit N to show N, --all for every one"
    every = cli.json("tasks", "--all", "--json")
    assert [t["series_id"] for t in every] == made
    table = cli.run("tasks", "--limit", "3")
    assert table.returncode == 0
    assert [line.split()[0] for line in table.stdout.splitlines()[2:]] == made[:3]
    assert "3 shown, 101 more" in table.stderr
    last = cli.run("tasks", "--limit", "104")
    assert last.returncode == 0 and last.stderr == ""  # nothing more: nothing said


def test_runs_and_the_outbox_page_too(cli: Cli, store_url: str) -> None:
    with stored(cli, store_url) as inbox:
        [series] = schedule(inbox, 1)
        runs = add_runs(inbox, series, 130)
        items = add_outbox(inbox, 1_150)
    shown = cli.run("runs", series, "--json")
    assert [r["id"] for r in json.loads(shown.stdout)] == runs[::-1][:100]
    assert "100 shown, 30 more" in shown.stderr
    assert len(cli.json("runs", series, "--all", "--json")) == 130
    newest = cli.run("outbox", "--limit", "2")
    assert newest.returncode == 0
    assert [line.split(": ", 1)[1] for line in newest.stdout.splitlines()] == ["reply 1148", "reply 1149"]
    assert newest.stderr.strip() == "2 shown, 1,000+ older: --limit N to show N, --all for every one"
    every = cli.json("outbox", "--all", "--json")
    assert [i["id"] for i in every] == items


def test_limit_must_be_a_whole_number_and_not_beside_all(cli: Cli, store_url: str) -> None:
    with stored(cli, store_url) as inbox:
        [series] = schedule(inbox, 1)
    for args, problem in [
        (("tasks", "--limit", "0"), r"limit: 0 must be a whole number of at least 1"),
        (("runs", series, "--limit", "-3"), r"limit: -3 must be a whole number of at least 1"),
        (("outbox", "--limit", "5", "--all"), r"limit: give --limit or --all, not both"),
        (("tasks", "--limit", "many"), r"--limit"),
    ]:
        result = cli.run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert re.search(problem, result.stderr), result.stderr
