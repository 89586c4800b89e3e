"""``--after``, ``--when`` and ``inbox graph`` as a user runs them: real processes, exit codes, JSON read back."""

from __future__ import annotations

import pytest

from tests.acceptance.conftest import Cli


def test_a_chain_is_made_shown_and_drawn(cli: Cli) -> None:
    fetch = cli.json("schedule", "fetch the feeds", "--every", "1h", "--name", "fetch", "--json")
    digest = cli.json("schedule", "write the digest", "--after", "fetch", "--name", "digest", "--json")
    mail = cli.json(
        "schedule", "mail it", "--after", "digest", "--after", fetch["id"], "--when", "all_done", "--name", "mail",
        "--json",
    )  # fmt: skip
    assert digest["next_runs"] == [] and digest["schedule"] == f"after {fetch['series_id']} (all_success)"

    shown = cli.json("show", "digest", "--json")
    assert shown["task"]["after"] == [fetch["series_id"]] and shown["task"]["when"] == "all_success"
    assert [n["name"] for n in shown["upstreams"]] == ["fetch"]
    assert [n["name"] for n in shown["downstreams"]] == ["mail"]
    text = cli.ok("show", "digest")
    assert "after:" in text and "fetch" in text and "before:" in text and "mail" in text

    drawn = cli.json("graph", "mail", "--json")
    assert {n["series_id"]: (n["name"], n["status"]) for n in drawn["nodes"]} == {
        fetch["series_id"]: ("fetch", "active"),
        digest["series_id"]: ("digest", "active"),
        mail["series_id"]: ("mail", "active"),
    }
    assert {(e["upstream"], e["downstream"], e["when"]) for e in drawn["edges"]} == {
        (fetch["series_id"], digest["series_id"], "all_success"),
        (digest["series_id"], mail["series_id"], "all_done"),
        (fetch["series_id"], mail["series_id"], "all_done"),
    }
    table = cli.ok("graph")
    assert table.index("fetch") < table.index("digest") < table.index("mail")  # upstream first
    assert "when the tasks it runs after have ended" in cli.ok("schedule", "x", "--after", "fetch")


def test_a_cycle_exits_2_naming_it_and_writes_nothing(cli: Cli) -> None:
    cli.json("schedule", "a", "--every", "1h", "--name", "a", "--json")
    cli.json("schedule", "b", "--after", "a", "--name", "b", "--json")
    cli.json("schedule", "c", "--after", "b", "--name", "c", "--json")
    before = cli.json("graph", "--json")
    for args, cycle in ((["update", "a", "--after", "c"], "a → b → c → a"), (["update", "b", "--after", "b"], "b → b")):
        result = cli.run(*args)
        assert result.returncode == 2, result.stderr
        assert f"after: would close a cycle: {cycle}" in result.stderr and len(result.stderr.splitlines()) == 1
    assert cli.json("graph", "--json") == before


def test_update_replaces_and_removes_upstreams_and_cancel_pauses_the_downstream(cli: Cli) -> None:
    a = cli.json("schedule", "a", "--every", "1h", "--name", "a", "--json")
    b = cli.json("schedule", "b", "--every", "1h", "--name", "b", "--json")
    down = cli.json("schedule", "down", "--every", "1d", "--after", "a", "--json")
    changed = cli.json("update", down["id"], "--after", "a", "--after", "b", "--when", "any_success", "--json")
    assert changed["after"] == [a["series_id"], b["series_id"]] and changed["when"] == "any_success"
    cli.ok("cancel", "b")
    [paused] = [t for t in cli.json("tasks", "--status", "paused", "--json") if t["series_id"] == down["series_id"]]
    assert paused["status"] == "paused"
    assert f"upstream task b ({b['series_id']}) was cancelled" in cli.ok("show", down["id"])
    removed = cli.json("update", down["id"], "--after", "", "--json")
    assert removed["after"] == [] and removed["schedule"] == "every 1d"
    assert cli.json("graph", "--json") == {"nodes": [], "edges": []}
    assert "No task runs after another." in cli.ok("graph")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["schedule", "p", "--after", "nope"], "after: no task 'nope'"),
        (["schedule", "p", "--after", ""], "after: "),
        (["schedule", "p", "--after", "up", "--when", "sometimes"], "when: "),
        (["schedule", "p", "--every", "1h", "--when", "all_done"], "when: is only for a task with --after"),
        (["schedule", "p", "--after", "up", "--at", "2099-01-01T00:00"], "after: cannot be combined with --at"),
        (["schedule", "p", "--after", "up", "--max-runs", "2"], "max_runs: "),
        (["update", "up", "--when", "all_done"], "when: "),
        (["update", "up", "--after", "up"], "after: would close a cycle: up → up"),
        (["graph", "nope"], "nope"),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_writes_nothing(cli: Cli, args: list[str], says: str) -> None:
    cli.json("schedule", "upstream", "--every", "1h", "--name", "up", "--json")
    before = cli.json("tasks", "--status", "all", "--json")
    result = cli.run(*args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert cli.json("tasks", "--status", "all", "--json") == before
    assert cli.json("graph", "--json") == {"nodes": [], "edges": []}
