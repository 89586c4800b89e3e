"""``inbox emit`` and ``--on`` as a user runs them: real processes, exit codes, JSON read back."""

from __future__ import annotations

import pytest

from tests.acceptance.conftest import Cli


def test_a_task_on_events_is_listed_without_a_next_run_and_emit_starts_it(cli: Cli) -> None:
    made = cli.json("schedule", "Sort the mail", "--on", "mail.*", "--on", "github.**", "--json")
    assert made["next_runs"] == [] and made["schedule"] == "on mail.*, github.**"
    assert "every 1h or on x" in cli.ok("schedule", "mixed", "--on", "x", "--every", "1h")
    assert "when a matching event is emitted" in cli.ok("schedule", "only events", "--on", "y")
    [mixed, task, _] = cli.json("tasks", "--json")  # the timed task first, then the others by age
    assert (task["series_id"], task["next_run"], task["on"]) == (made["series_id"], None, ["mail.*", "github.**"])
    assert mixed["next_run"] is not None and mixed["schedule"] == "every 1h or on x"

    done = cli.json("emit", "mail.received", "--data", '{"from": "ann"}', "--json")
    assert set(done) >= {"id", "name", "matched"} and done["matched"] == [made["series_id"]]
    cli.json("emit", "mail.received", "--json")
    third = cli.json("emit", "mail.received", "--json")
    assert third["matched"] == [] and third["coalesced"] == [made["series_id"]]
    shown = cli.json("show", made["series_id"], "--json")
    assert [e["state"] for e in shown["events"]] == ["coalesced", "queued", "started"]
    assert "coalesced" in cli.ok("show", made["series_id"])
    assert "started 0 tasks" in cli.ok("emit", "nothing.listens")


def test_a_repeated_key_answers_the_first_event(cli: Cli) -> None:
    made = cli.json("schedule", "Sort the mail", "--on", "mail.*", "--json")
    first = cli.json("emit", "mail.in", "--key", "msg-1", "--json")
    again = cli.json("emit", "mail.in", "--key", "msg-1", "--json")
    assert (again["id"], again["duplicate"], first["matched"]) == (first["id"], True, [made["series_id"]])
    assert "already emitted" in cli.ok("emit", "mail.in", "--key", "msg-1")


def test_update_on_replaces_and_removes_patterns(cli: Cli) -> None:
    made = cli.json("schedule", "digest", "--every", "1h", "--on", "a.*", "--json")
    assert cli.json("update", made["id"], "--on", "b.*", "--on", "c", "--json")["on"] == ["b.*", "c"]
    assert cli.json("update", made["id"], "--on", "", "--json")["schedule"] == "every 1h"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["emit", "mail..in"], "name: "),
        (["emit", "mail.*"], "name: "),
        (["emit", "mail.in", "--data", "{nope"], "data: is not JSON"),
        (["emit", "mail.in", "--data", "NaN"], "data: "),
        (["emit", "mail.in", "--session", "a b"], "session: "),
        (["emit", "mail.in", "--key", ""], "key: "),
        (["schedule", "p", "--on", "a..b"], "on: "),
        (["schedule", "p", "--on", "a", "--at", "2099-01-01T00:00"], "on: cannot be combined with --at"),
        (["schedule", "p", "--on", "a", "--max-runs", "2"], "max_runs: "),
        (["schedule", "p", "--on", ""], "on: "),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_writes_nothing(cli: Cli, args: list[str], says: str) -> None:
    cli.json("schedule", "listening", "--on", "**", "--json")
    before = cli.json("tasks", "--status", "all", "--json")
    result = cli.run(*args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    after = cli.json("tasks", "--status", "all", "--json")
    assert after == before and after[0]["runs"] == 0
    shown = cli.json("show", after[0]["series_id"], "--json")
    assert shown["events"] == []
