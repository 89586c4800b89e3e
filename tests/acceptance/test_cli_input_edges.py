"""Input at the edges, through the real binary: each case once crashed with a traceback (exit 1) or mangled
what the user typed. Found by tests/fuzz/test_cli_input.py; kept here as plain examples."""

from __future__ import annotations

import os
import re

from tests.acceptance.conftest import Cli

EDGE_INPUTS: list[tuple[str, list[str], str]] = [
    # rich markup in a value was parsed: "[/]" raised MarkupError, "[bold]" vanished from the message
    ("markup in --every", ["schedule", "p", "--every", "[/]"], r"^inbox: error: every: '\[/\]' is not a duration"),
    ("markup in --tz", ["schedule", "p", "--every", "1h", "--tz", "[bold]x"], r"--tz: unknown timezone '\[bold\]x'"),
    # durations and instants past what a datetime holds raised OverflowError
    ("--every of 99999999999 days", ["schedule", "p", "--every", "99999999999d"], r"every: .*limit of 100 years"),
    ("--in of 142857143 weeks", ["send", "hi", "--in", "142857143w"], r"^inbox: error: in: "),
    ("--timeout past a timedelta", ["schedule", "p", "--every", "1h", "--timeout", "99999999999d"], r"timeout: "),
    ("--at in the year 10000 UTC", ["schedule", "p", "--at", "9999-12-31T23:59:59-12:00"], r"^inbox: error: at: "),
    ("--at shown past 9999", ["schedule", "p", "--at", "9999-12-31T23:59:59Z", "--tz", "Asia/Tokyo"], r"at: .*100"),
    ("--from at the end of time", ["next", "--every", "1h", "--from", "9999-12-31T23:00"], r"^inbox: error: from: "),
    # a count past 64 bits could not be stored (past 32 bits on PostgreSQL)
    ("--max-runs of 2**63", ["schedule", "p", "--every", "1h", "--max-runs", str(2**63)], r"max_runs: .*limit"),
    # bytes that are not UTF-8 reach sys.argv as lone surrogates, which the store cannot encode
    ("--name not UTF-8", ["schedule", "p", "--every", "1h", "--name", os.fsdecode(b"caf\xe9")], r"--name: .*UTF-8"),
    ("prompt not UTF-8", ["schedule", "--every", "1h", "--", os.fsdecode(b"\xff")], r"^inbox: error: prompt: .*UTF-8"),
    # a program path whose name is longer than a file system allows: the check that it exists raised ENAMETOOLONG
    ("--command past NAME_MAX", ["channel", "add", "x", "--command", "/" + "0" * 300], r"command: no such program: /0"),
    (
        "--script past NAME_MAX",
        ["schedule", "p", "--every", "1h", "--script", "/" + "0" * 300],
        r"script: no such file",
    ),
    ("script test past NAME_MAX", ["script", "test", "/" + "0" * 300], r"^inbox: error: file: no such file: /0"),
    ("restore past NAME_MAX", ["restore", "/" + "0" * 300], r"^inbox: error: FILE: no such file: /0"),
    ("import past NAME_MAX", ["import", "/" + "0" * 300], r"^inbox: error: FILE: no such file: /0"),
    # the error quoted the value as typed: a file separator or a line separator in it split the message in two
    ("--command with \\x1c", ["channel", "add", "x", "--command", "/no\x1cpe"], r"no such program: /no\\x1cpe$"),
    ("--command with \\u2028", ["channel", "add", "x", "--command", "/no\u2028pe"], r"program: /no\\u2028pe$"),
]


def test_edge_inputs_exit_2_with_one_line_naming_the_flag_and_write_nothing(cli: Cli) -> None:
    assert cli.json("tasks", "--status", "all", "--json") == []  # the store exists before the parallel runs
    results = cli.run_many([args for _, args, _ in EDGE_INPUTS])
    problems = []
    for (name, _, pattern), result in zip(EDGE_INPUTS, results, strict=True):
        lines = result.stderr.splitlines()
        if result.returncode != 2 or len(lines) != 1 or not re.search(pattern, lines[0]) or result.stdout:
            problems.append(f"{name}: exit {result.returncode}, stdout {result.stdout!r}, stderr {result.stderr!r}")
    assert not problems, "\n".join(problems)
    assert cli.json("tasks", "--status", "all", "--json") == [], "a rejected command wrote a task"
    assert cli.json("outbox", "--json") == []


def test_names_with_markup_are_shown_as_typed_and_an_empty_name_removes_it(cli: Cli) -> None:
    made = cli.json("schedule", "p", "--every", "1h", "--name", "[bold]report[/]", "--json")
    assert "[bold]report[/]" in cli.ok("tasks")
    assert "[bold]report[/]" in cli.ok("show", made["series_id"])
    # `--name ''` removes the name, as `--script ''` removes the script (it used to say "nothing to change")
    cli.ok("update", made["series_id"], "--name", "")
    assert cli.json("show", made["series_id"], "--json")["task"]["name"] is None
