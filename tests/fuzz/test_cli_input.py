"""Whatever follows a flag, ``inbox`` either does the job or exits 2 with one line naming the flag, writing nothing.

Each example fuzzes one flag (or positional argument) of an otherwise valid command, run in-process through
the binary's entry point on a store of the backend under test. Never a traceback (an exception escaping the
entry point), never exit 1 for bad input. ``tests/unit/test_schedule_properties.py`` covers what valid
schedules mean; this file is about how input is taken in.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine

from tests.fuzz import cli_inputs as inputs
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.cli_harness import CliResult, run_inbox
from tests.fuzz.store_state import store_state

pytestmark = pytest.mark.fuzz

TASK = "{task}"  # stands for the id of a task made before the examples run


@dataclass(frozen=True)
class Flag:
    """``inbox *command OPTION=VALUE *rest``; ``option=None`` fuzzes the positional argument after ``--``."""

    command: tuple[str, ...]
    option: str | None
    values: st.SearchStrategy[str]
    field: str  # what an error about this value calls it
    rest: tuple[str, ...] = ()
    writes: bool = True  # success writes to the store

    @property
    def id(self) -> str:
        given = "-".join(part.strip("-") for part in self.command[2:] if part.startswith("--"))
        return "-".join(filter(None, (self.command[0], self.option or self.field, given and f"after-{given}")))

    def argv(self, value: str, separate: bool, task_id: str) -> list[str]:
        command = [task_id if part == TASK else part for part in self.command]
        if self.option is None:
            return [*command, *self.rest, "--", value]
        # "--every VALUE" as people type it, unless the value would read as another option
        taken = [self.option, value] if separate and not value.startswith("-") else [f"{self.option}={value}"]
        return [*command, *taken, *self.rest]


EVERY_HOUR = ("--every", "1h")
FLAGS = [
    Flag(("schedule", "p"), "--every", inputs.duration, "every"),
    Flag(("schedule", "p"), "--in", inputs.duration, "in"),
    Flag(("schedule", "p"), "--at", inputs.instant, "at"),
    Flag(("schedule", "p"), "--cron", inputs.cron, "cron"),
    Flag(("schedule", "p"), "--tz", inputs.zone, "tz", EVERY_HOUR),
    Flag(("schedule", "p", "--at", "2031-03-30T02:30"), "--tz", inputs.zone, "tz"),
    Flag(("schedule", "p"), "--max-runs", inputs.whole_number, "max_runs", EVERY_HOUR),
    Flag(("schedule", "p"), "--timeout", inputs.duration, "timeout", EVERY_HOUR),
    Flag(("schedule", "p"), "--retries", inputs.whole_number, "retries", EVERY_HOUR),
    Flag(("schedule", "p"), "--name", inputs.name, "name", EVERY_HOUR),
    Flag(("schedule", "p"), "--session", inputs.session, "session", EVERY_HOUR),
    Flag(("schedule", "p"), "--catch-up", inputs.choice, "catch_up", EVERY_HOUR),
    Flag(("schedule", "p"), "--context", inputs.choice, "context", EVERY_HOUR),
    Flag(("schedule",), None, inputs.prompt, "prompt", ("--cron", "@daily")),
    Flag(("send", "hello"), "--in", inputs.duration, "in"),
    Flag(("send", "hello"), "--at", inputs.instant, "at"),
    Flag(("send", "hello"), "--session", inputs.session, "session"),
    Flag(("send",), None, inputs.prompt, "text"),
    Flag(("update", TASK), "--cron", inputs.cron, "cron"),
    Flag(("update", TASK), "--every", inputs.duration, "every"),
    Flag(("update", TASK), "--at", inputs.instant, "at"),
    Flag(("update", TASK), "--tz", inputs.zone, "tz"),
    Flag(("update", TASK), "--name", inputs.name, "name"),
    Flag(("update", TASK), "--prompt", inputs.prompt, "prompt"),
    Flag(("schedule", "p"), "--on", inputs.event_pattern, "on"),
    Flag(("schedule", "p", "--every", "1h"), "--on", inputs.event_pattern, "on"),
    Flag(("update", TASK), "--on", inputs.event_pattern, "on"),
    Flag(("schedule", "p"), "--after", inputs.upstream, "after"),
    Flag(("schedule", "p", "--after", "existing"), "--when", inputs.when_rule, "when"),
    Flag(("update", TASK), "--after", inputs.upstream, "after"),
    Flag(("update", TASK), "--when", inputs.when_rule, "when"),
    Flag(("emit",), None, inputs.event_name, "name"),
    Flag(("emit", "mail.in"), "--data", inputs.event_data, "data"),
    Flag(("emit", "mail.in"), "--session", inputs.session, "session"),
    Flag(("emit", "mail.in"), "--key", inputs.key, "key"),
    Flag(("next",), "--cron", inputs.cron, "cron", writes=False),
    Flag(("next",), "--every", inputs.duration, "every", writes=False),
    Flag(("next",), "--tz", inputs.zone, "tz", EVERY_HOUR, writes=False),
    Flag(("next",), "--from", inputs.instant, "from", EVERY_HOUR, writes=False),
    Flag(("next",), "--count", inputs.whole_number, "count", EVERY_HOUR, writes=False),
    Flag(("runs", TASK), "--limit", inputs.whole_number, "limit", writes=False),
    Flag(("tasks",), "--status", inputs.choice, "status", writes=False),
    Flag(("schedule", "p"), "--deliver", inputs.session, "deliver", EVERY_HOUR),
    Flag(("update", TASK), "--deliver", inputs.session, "deliver"),
    Flag(("session", "set", "main"), "--deliver", inputs.session, "deliver"),
    Flag(("channel", "add", "x"), "--webhook", inputs.name, "webhook"),
    Flag(("channel", "add", "x"), "--command", inputs.name, "command"),
    Flag(("channel", "add"), None, inputs.session, "name", ("--command", "true")),
]


@dataclass(frozen=True)
class CliStore:
    engine: Engine
    task_id: str  # a live recurring task for `update` and `runs`


@pytest.fixture
def cli_store(store_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliStore]:
    monkeypatch.setenv("INBOX_DATABASE_URL", store_url)
    monkeypatch.setenv("INBOX_TZ", "UTC")
    made = run_inbox(["schedule", "existing", "--every", "1h", "--name", "existing", "--json"])
    assert made.code == 0, made
    engine = create_engine(store_url)
    try:
        yield CliStore(engine, json.loads(made.stdout)["series_id"])
    finally:
        engine.dispose()


def _names_the_flag(line: str, flag: Flag) -> bool:
    spelled = {flag.field, flag.field.replace("_", "-")}
    if flag.option is not None:
        spelled.add(flag.option)
    # ours: "inbox: error: every: ...", "inbox: error: --tz: ..."; the parser's: "Invalid value for '--every'"
    ours = any(line.startswith(f"inbox: error: {name}: ") for name in spelled)
    parser = flag.option is not None and f"'{flag.option}'" in line
    return ours or parser


def check_outcome(flag: Flag, result: CliResult, changed: bool) -> None:
    assert result.code in (0, 2), f"bad input must exit 2, success 0\n{result}"
    if result.code == 0:
        # an update may change nothing; an emit with a key already used answers the first event
        unchanged_ok = flag.command[0] == "update" or flag.option == "--key"
        assert changed or not flag.writes or unchanged_ok, f"succeeded but wrote nothing\n{result}"
        return
    assert not changed, f"exit 2 but the store changed\n{result}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"exit 2 needs exactly one line on stderr\n{result}"
    assert _names_the_flag(lines[0], flag), f"the error does not name {flag.option or flag.field}\n{result}"
    assert result.stdout == "", f"exit 2 printed on stdout\n{result}"


@pytest.mark.parametrize("flag", FLAGS, ids=[flag.id for flag in FLAGS])
def test_any_value_of_a_flag_is_taken_or_refused_cleanly(flag: Flag, cli_store: CliStore, backend: str) -> None:
    # Parsing does not depend on the backend; PostgreSQL's share checks what only its storage refuses.
    @fuzz_settings(default_examples=20 if backend == "sqlite" else 5)
    @given(value=flag.values, separate=st.booleans())
    def one_value(value: str, separate: bool) -> None:
        argv = flag.argv(value, separate, cli_store.task_id)
        note(f"inbox {shlex.join(argv)}")
        before = store_state(cli_store.engine)
        result = run_inbox(argv)
        after = store_state(cli_store.engine)
        check_outcome(flag, result, changed=after != before)

    one_value()
