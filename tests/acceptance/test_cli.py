"""The ``inbox`` command as a user runs it: real processes, a fresh INBOX_HOME each test, JSON read back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text as sql

from inbox.store.engine import open_engine
from tests.acceptance.conftest import Cli, Result

ISO_WITH_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}")
TASK_FIELDS = {"series_id", "name", "status", "schedule", "timezone", "next_run", "last_outcome", "runs"}
SLACK = timedelta(seconds=5)


def instant(text: str) -> datetime:
    """An ISO 8601 time with a numeric offset (``+01:00``, not a zone name or a bare time)."""
    assert isinstance(text, str) and ISO_WITH_OFFSET.fullmatch(text), f"not ISO 8601 with an offset: {text!r}"
    return datetime.fromisoformat(text)


def utc_instant(text: str) -> datetime:
    value = instant(text)
    assert value.utcoffset() == timedelta(0), f"not UTC: {text}"
    return value


def in_zone(text: str, zone: str) -> datetime:
    """The time, checked to carry the offset the zone has at that moment."""
    value = instant(text)
    assert value.utcoffset() == value.astimezone(ZoneInfo(zone)).utcoffset(), f"{text} is not in {zone}"
    return value


def now() -> datetime:
    return datetime.now(UTC)


def one_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one line on stderr, got: {result.stderr!r}"
    return lines[0]


def check_stored(cli: Cli) -> None:
    """SQLite: the default store under INBOX_HOME; PostgreSQL: INBOX_DATABASE_URL was used instead."""
    if cli.backend == "sqlite":
        assert cli.sqlite_file.is_file(), "no inbox.db in INBOX_HOME"
    else:
        assert not cli.sqlite_file.exists(), "INBOX_DATABASE_URL was ignored: inbox.db created in INBOX_HOME"


def succeeded(results: list[Result]) -> list[Result]:
    for result in results:
        assert result.returncode == 0, f"inbox {' '.join(result.args[1:])} exited {result.returncode}: {result.stderr}"
    return results


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["series_id"]: row for row in rows}


# -- schedule -----------------------------------------------------------------------------------------------


def test_schedule_cron_echoes_zone_and_next_three_runs(cli: Cli) -> None:
    made = cli.json(
        "schedule", "Morning digest", "--cron", "0 9 * * *", "--tz", "Europe/Paris", "--name", "digest", "--json"
    )
    check_stored(cli)
    assert made["id"] and made["series_id"] == made["id"]
    assert made["timezone"] == "Europe/Paris"
    runs = [in_zone(t, "Europe/Paris") for t in made["next_runs"]]
    assert len(runs) == 3
    assert [t.strftime("%H:%M:%S") for t in runs] == ["09:00:00"] * 3
    assert all(t.utcoffset() in (timedelta(hours=1), timedelta(hours=2)) for t in runs)
    assert [(b.date() - a.date()).days for a, b in pairwise(runs)] == [1, 1]
    assert now() < runs[0] <= now() + timedelta(days=1)

    listed = cli.json("tasks", "--json")
    assert len(listed) == 1
    task = listed[0]
    assert task.keys() >= TASK_FIELDS
    assert task["series_id"] == made["series_id"]
    assert task["name"] == "digest"
    assert task["status"] == "active"
    assert "0 9 * * *" in task["schedule"]
    assert task["timezone"] == "Europe/Paris"
    assert utc_instant(task["next_run"]) == runs[0]
    assert task["last_outcome"] is None
    assert task["runs"] == 0

    assert cli.json("runs", made["id"], "--json") == []
    shown = cli.json("show", made["id"], "--json")
    assert shown["task"]["series_id"] == made["series_id"]
    assert "0 9 * * *" in shown["task"]["schedule"]
    assert shown["runs"] == []


def test_schedule_reminder_in_ten_minutes(cli: Cli) -> None:
    before = now()
    made = cli.json("schedule", "Call the dentist", "--in", "10m", "--remind", "--json", env={"INBOX_TZ": "Asia/Tokyo"})
    after = now()
    assert made["timezone"] == "Asia/Tokyo"
    assert len(made["next_runs"]) == 1, "a one-shot has one fire time"
    due = in_zone(made["next_runs"][0], "Asia/Tokyo")
    assert before + timedelta(minutes=10) - SLACK <= due <= after + timedelta(minutes=10) + SLACK

    task = cli.json("show", made["series_id"], "--json")["task"]
    assert task["remind"] is True
    assert task["prompt"] == "Call the dentist"
    assert utc_instant(task["next_run"]) == due


def test_schedule_every_two_hours_is_anchored_now(cli: Cli) -> None:
    before = now()
    made = cli.json("schedule", "Check the feeds", "--every", "2h", "--json", env={"INBOX_TZ": "America/New_York"})
    after = now()
    runs = [in_zone(t, "America/New_York") for t in made["next_runs"]]
    assert len(runs) == 3
    assert before + timedelta(hours=2) - SLACK <= runs[0] <= after + timedelta(hours=2) + SLACK
    assert [b - a for a, b in pairwise(runs)] == [timedelta(hours=2)] * 2
    check_stored(cli)


def test_schedule_every_few_seconds_echoes_three_distinct_times(cli: Cli) -> None:
    out = cli.ok("schedule", "Blink", "--every", "7s", "--remind", env={"INBOX_TZ": "UTC"})
    echoed = [line for line in out.splitlines() if line.strip().startswith("next:")]
    assert len(echoed) == 3 and len(set(echoed)) == 3, out  # seconds shown, not three identical minutes


def test_schedule_at_naive_time_is_wall_clock_in_the_zone(cli: Cli) -> None:
    year = now().year + 1
    made = cli.json(
        "schedule",
        "Renew the passport",
        "--at",
        f"{year}-01-15T08:30",
        "--json",
        env={"INBOX_TZ": "Asia/Tokyo", "TZ": "Europe/Paris"},
    )
    assert made["timezone"] == "Asia/Tokyo"
    assert made["next_runs"] == [f"{year}-01-15T08:30:00+09:00"]

    exact = cli.json("schedule", "File taxes", "--at", f"{year}-04-01T12:00:00Z", "--tz", "Europe/Paris", "--json")
    assert exact["next_runs"] == [f"{year}-04-01T14:00:00+02:00"], "a time with Z is that instant"

    listed = by_id(cli.json("tasks", "--json"))
    assert listed[made["series_id"]]["next_run"] == f"{year}-01-14T23:30:00+00:00"
    assert utc_instant(listed[exact["series_id"]]["next_run"]) == datetime(year, 4, 1, 12, 0, tzinfo=UTC)


def test_schedule_script_from_file_and_from_stdin(cli: Cli) -> None:
    text = "#!/bin/sh\necho '{\"wakeAgent\": false}'\n"
    script = cli.home / "check.sh"
    script.write_text(text, encoding="utf-8")
    from_file = cli.json("schedule", "Only if needed", "--every", "1h", "--script", str(script), "--json")
    piped_text = 'echo \'{"wakeAgent": true, "data": 42}\'\n'
    from_stdin = cli.json("schedule", "Piped", "--every", "1h", "--script", "-", "--json", stdin=piped_text)

    assert cli.json("show", from_file["id"], "--json")["task"]["script"] == text
    assert cli.json("show", from_stdin["id"], "--json")["task"]["script"] == piped_text


# -- tasks ----------------------------------------------------------------------------------------------------


def test_tasks_filters_by_status_and_session(cli: Cli) -> None:
    alpha = cli.json("schedule", "alpha", "--cron", "0 9 * * *", "--name", "alpha", "--json")["series_id"]
    beta, gamma = (
        json.loads(r.stdout)["series_id"]
        for r in succeeded(
            cli.run_many(
                [
                    ["schedule", "beta", "--every", "1h", "--session", "work", "--name", "beta", "--json"],
                    ["schedule", "gamma", "--every", "2h", "--name", "gamma", "--json"],
                ]
            )
        )
    )
    paused, cancelled = succeeded(cli.run_many([["pause", beta, "--json"], ["cancel", gamma, "--json"]]))
    assert json.loads(paused.stdout)["status"] == "paused"
    assert json.loads(cancelled.stdout)["status"] == "cancelled"

    listings = [
        ("tasks", "--json"),
        ("tasks", "--status", "paused", "--json"),
        ("tasks", "--status", "ended", "--json"),
        ("tasks", "--status", "all", "--json"),
        ("tasks", "--session", "work", "--status", "all", "--json"),
        ("tasks", "--session", "main", "--json"),
    ]
    results = succeeded(cli.run_many(listings))
    default, paused, ended, every, work, main = (json.loads(r.stdout) for r in results)
    assert [t["series_id"] for t in default] == [alpha], "the default lists active tasks"
    assert [t["series_id"] for t in paused] == [beta]
    assert [t["series_id"] for t in ended] == [gamma]
    assert {t["series_id"] for t in every} == {alpha, beta, gamma}
    assert [t["series_id"] for t in work] == [beta]
    assert [t["series_id"] for t in main] == [alpha]

    rows = by_id(every)
    for row in every:
        assert row.keys() >= TASK_FIELDS
        assert row["runs"] == 0 and row["last_outcome"] is None
    assert (rows[alpha]["name"], rows[beta]["name"], rows[gamma]["name"]) == ("alpha", "beta", "gamma")
    assert rows[beta]["status"] == "paused"
    assert rows[gamma]["status"] in ("cancelled", "ended")
    assert rows[gamma]["next_run"] is None, "a cancelled task has no next run"
    assert utc_instant(rows[alpha]["next_run"]) > now()
    assert "1h" in rows[beta]["schedule"]


# -- pause, resume, cancel, run, update -------------------------------------------------------------------------


def test_pause_resume_cancel_by_series_id_and_by_prefix(cli: Cli) -> None:
    made = cli.json("schedule", "Standup notes", "--cron", "0 9 * * 1-5", "--tz", "Europe/Paris", "--json")
    series = made["series_id"]
    prefix = series[:12]
    first = instant(made["next_runs"][0])

    paused = cli.json("pause", prefix, "--json")
    assert (paused["series_id"], paused["status"]) == (series, "paused")
    assert [t["series_id"] for t in cli.json("tasks", "--status", "paused", "--json")] == [series]

    resumed = cli.json("resume", series, "--json")
    assert resumed["status"] == "active"
    assert utc_instant(resumed["next_run"]) == first, "resuming does not move a future slot"
    assert cli.json("pause", series, "--json")["status"] == "paused"
    assert cli.json("resume", prefix.lower(), "--json")["status"] == "active"

    cancelled = cli.json("cancel", prefix, "--json")
    assert (cancelled["series_id"], cancelled["status"]) == (series, "cancelled")
    shown = cli.json("show", series, "--json")["task"]
    assert shown["status"] == "cancelled"
    assert shown["next_run"] is None
    assert cli.json("tasks", "--json") == []


def test_run_now_adds_an_occurrence_and_keeps_the_schedule(cli: Cli) -> None:
    made = cli.json("schedule", "Weekly review", "--cron", "0 17 * * 5", "--tz", "Europe/Paris", "--json")
    series = made["series_id"]
    before = now()
    extra = cli.json("run", series[:12], "--json")
    after = now()
    assert extra["id"] != series, "run now is a new occurrence"
    assert extra["text"] == "Weekly review"
    assert before - SLACK <= instant(extra["process_after"]) <= after + SLACK, "due now"

    listed = cli.json("tasks", "--json")
    assert [t["series_id"] for t in listed] == [series], "still one task"
    assert utc_instant(listed[0]["next_run"]) == instant(made["next_runs"][0]), "the schedule did not move"


def test_update_schedule_prompt_and_script(cli: Cli) -> None:
    script = cli.home / "gate.sh"
    script.write_text("echo '{\"wakeAgent\": true}'\n", encoding="utf-8")
    made = cli.json(
        "schedule", "Old prompt", "--cron", "0 9 * * *", "--tz", "Europe/Paris", "--script", str(script), "--json"
    )
    series = made["series_id"]
    old_next = instant(made["next_runs"][0])

    moved = cli.json("update", series[:12], "--cron", "30 18 * * *", "--json")
    new_next = utc_instant(moved["next_run"])
    assert new_next != old_next
    assert new_next.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M") == "18:30"
    assert now() < new_next <= now() + timedelta(days=1)
    assert "30 18 * * *" in moved["schedule"]
    assert moved["script"], "changing the schedule keeps the script"

    assert cli.json("update", series, "--prompt", "New prompt", "--json")["prompt"] == "New prompt"
    assert cli.json("update", series, "--script", "", "--json")["script"] is None

    shown = cli.json("show", series, "--json")["task"]
    assert shown["prompt"] == "New prompt"
    assert shown["script"] is None
    assert utc_instant(shown["next_run"]) == new_next
    assert shown["timezone"] == "Europe/Paris"


# -- next ----------------------------------------------------------------------------------------------------


def test_next_previews_cron_across_both_clock_changes_and_writes_nothing(bare_cli: Cli) -> None:
    times = bare_cli.json(
        "next",
        "--cron",
        "30 2 * * *",
        "--tz",
        "America/New_York",
        "--from",
        "2026-03-07T00:00",
        "--count",
        "3",
        "--json",
    )
    assert times == ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]

    # A '*' minute makes a wildcard job (Debian cron): no 02:xx exists on 03-08, so nothing is made up that day.
    times = bare_cli.json(
        "next", "--cron", "*/10 2 * * *", "--tz", "America/New_York", "--from", "2026-03-07T02:45", "-n", "3", "--json"
    )
    assert times == ["2026-03-07T02:50:00-05:00", "2026-03-09T02:00:00-04:00", "2026-03-09T02:10:00-04:00"]
    # ... and it fires in both copies of the repeated hour on 11-01.
    shown = bare_cli.run(
        "next", "--cron", "*/30 1 * * *", "--tz", "America/New_York", "--from", "2026-11-01T00:00", "-n", "5"
    )
    assert shown.returncode == 0, shown.stderr
    assert [line.strip() for line in shown.stdout.splitlines()] == [
        "in America/New_York:",
        "Sun 2026-11-01 01:00:00 EDT (UTC-0400)",
        "Sun 2026-11-01 01:30:00 EDT (UTC-0400)",
        "Sun 2026-11-01 01:00:00 EST (UTC-0500)",
        "Sun 2026-11-01 01:30:00 EST (UTC-0500)",
        "Mon 2026-11-02 01:00:00 EST (UTC-0500)",
    ]

    times = bare_cli.json(
        "next", "--every", "90m", "--tz", "America/New_York", "--from", "2026-03-08T00:00", "--count", "3", "--json"
    )
    assert times == ["2026-03-08T01:30:00-05:00", "2026-03-08T04:00:00-04:00", "2026-03-08T05:30:00-04:00"]

    missing = bare_cli.run("next", "--tz", "UTC", "--json")
    assert missing.returncode == 2
    line = one_line(missing)
    assert "--cron" in line and "--every" in line
    assert missing.stdout == ""

    assert list(bare_cli.home.iterdir()) == [], "inbox next wrote to INBOX_HOME"


# -- messages ---------------------------------------------------------------------------------------------------


def test_send_and_outbox(cli: Cli) -> None:
    assert cli.json("outbox", "--json") == [], "a fresh store has sent nothing"
    before = now()
    sent = cli.json("send", "hello", "--json")
    after = now()
    assert sent["id"]
    assert sent["text"] == "hello"
    assert sent["session"] == "main"
    assert sent["kind"] == "chat"
    assert before - SLACK <= instant(sent["process_after"]) <= after + SLACK
    check_stored(cli)


# -- doctor -----------------------------------------------------------------------------------------------------


def test_doctor_on_a_fresh_home(cli: Cli) -> None:
    env = {"INBOX_TZ": "Asia/Tokyo"}
    text = cli.ok("doctor", env=env).lower()
    for topic in ("store", "timezone", "runtime", "model provider", "asia/tokyo"):
        assert topic in text, f"doctor does not mention {topic}:\n{text}"

    report = cli.json("doctor", "--json", env=env)
    assert {"store", "timezone", "runtime", "model provider"} <= set(report)
    assert report["store"]["ok"] is True
    assert "Asia/Tokyo" in report["timezone"]["detail"]
    if cli.backend == "sqlite":
        assert str(cli.sqlite_file) in report["store"]["detail"], "doctor does not name the store it checked"
        assert "autovacuum" not in report
    else:
        assert "inbox.db" not in report["store"]["detail"]
        engine = open_engine(cli.env["INBOX_DATABASE_URL"])
        with engine.connect() as conn:  # the server's own setting
            autovacuum = conn.execute(sql("SHOW autovacuum")).scalar_one()
        engine.dispose()
        assert report["autovacuum"]["ok"] is (autovacuum == "on"), report["autovacuum"]
        assert report["autovacuum"]["detail"].startswith(autovacuum)
    process = cli.json("doctor", "--json", env={**env, "INBOX_RUNTIME": "process"})["runtime"]
    assert "NO SANDBOX" in process["detail"] and "INBOX_ALLOW_UNSANDBOXED=1" in process["detail"]


# -- bad input --------------------------------------------------------------------------------------------------

BAD_SCHEDULES: list[tuple[str, list[str], str]] = [
    ("invalid cron", ["bad-cron", "--cron", "61 * * * *"], r"\bcron\b"),
    ("impossible date", ["bad-date", "--cron", "0 9 31 2 *"], r"\bcron\b"),
    ("unknown zone", ["bad-zone", "--cron", "0 9 * * *", "--tz", "Mars/Olympus_Mons"], r"--tz"),
    ("unknown provider", ["bad-provider", "--in", "1h", "--provider", "mystery"], r"\bprovider\b"),
    ("model with spaces", ["bad-model", "--in", "1h", "--model", "two words"], r"\bmodel\b"),
    ("zero interval", ["zero-every", "--every", "0m"], r"\bevery\b"),
    ("interval without unit", ["unitless-every", "--every", "5"], r"\bevery\b"),
    ("past --at", ["past-at", "--at", "2020-01-01T09:00:00Z"], r"\bat\b"),
    ("two schedule options", ["two-options", "--cron", "0 9 * * *", "--every", "1h"], r"--cron.*--every"),
    ("no schedule option", ["no-option"], r"--cron"),
    ("bad catch-up", ["bad-catchup", "--every", "1h", "--catch-up", "sometimes"], r"catch[_-]up"),
    ("zero max runs", ["zero-max", "--every", "1h", "--max-runs", "0"], r"max[_-]runs"),
    ("bad session", ["bad-session", "--every", "1h", "--session", "bad name"], r"\bsession\b"),
    ("empty prompt", ["", "--every", "1h"], r"\bprompt\b"),
    ("missing script", ["no-script", "--every", "1h", "--script", "/no/such/file"], r"/no/such/file"),
]


def test_bad_input_exits_2_with_one_line_and_writes_nothing(cli: Cli) -> None:
    assert cli.json("tasks", "--status", "all", "--json") == []  # the store exists before the parallel runs
    commands = [["schedule", *args, "--json"] for _, args, _ in BAD_SCHEDULES]
    unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    commands += [["pause", unknown], ["show", unknown, "--json"]]
    expected = [(name, pattern) for name, _, pattern in BAD_SCHEDULES]
    expected += [(f"{verb} of an unknown id", unknown) for verb in ("pause", "show")]

    started = now()
    results = cli.run_many(commands)
    finished = now()
    problems = []
    for (name, pattern), result in zip(expected, results, strict=True):
        lines = result.stderr.splitlines()
        if result.returncode != 2:
            problems.append(f"{name}: exit {result.returncode}, stderr {result.stderr!r}")
        elif len(lines) != 1:
            problems.append(f"{name}: {len(lines)} lines on stderr: {result.stderr!r}")
        elif not re.search(pattern, lines[0], re.IGNORECASE):
            problems.append(f"{name}: stderr does not name {pattern!r}: {lines[0]!r}")
        elif result.stdout:
            problems.append(f"{name}: printed {result.stdout!r}")
    assert not problems, "\n".join(problems)

    past = results[[name for name, _, _ in BAD_SCHEDULES].index("past --at")].stderr
    stamps = [datetime.fromisoformat(s) for s in re.findall(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?[^\s)]*", past)]
    assert any(started - SLACK <= s <= finished + SLACK for s in stamps if s.tzinfo), f"no current time in: {past}"

    assert cli.json("tasks", "--status", "all", "--json") == [], "a rejected command wrote a task"


@pytest.mark.parametrize("where", ["environment", ".env"])
@pytest.mark.parametrize("command", [["serve"], ["sweep", "--once"], ["doctor"], ["tasks", "--json"]])
def test_an_invalid_setting_stops_any_command_naming_the_variable(
    bare_cli: Cli, where: str, command: list[str]
) -> None:
    env = {"INBOX_SWEEP_INTERVAL": "abc"}
    if where == ".env":
        (bare_cli.home / ".env").write_text("INBOX_SWEEP_INTERVAL=abc\n")
        env = {}
    result = bare_cli.run(*command, env=env)
    assert result.returncode == 2, result.stderr
    assert one_line(result) == "inbox: error: INBOX_SWEEP_INTERVAL: must be a number of seconds, got 'abc'"
    assert result.stdout == ""
    assert not bare_cli.sqlite_file.exists(), f"inbox {' '.join(command)} opened a store before refusing"


# -- timezone resolution ------------------------------------------------------------------------------------------


def _system_zone(cli: Cli) -> str:
    code = "import tzlocal; print(tzlocal.get_localzone_name() or '')"
    name = subprocess.run([sys.executable, "-c", code], env=cli.env, capture_output=True, text=True).stdout.strip()
    try:
        return ZoneInfo(name).key if name else "UTC"
    except (ValueError, KeyError, OSError):
        return "UTC"


def _scheduled_zone(cli: Cli, result: Result, expected: str) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    made: dict[str, Any] = json.loads(result.stdout)
    assert made["timezone"] == expected
    runs = [in_zone(t, expected) for t in made["next_runs"]]
    assert [t.hour for t in runs] == [9, 9, 9], f"9:00 in {expected}: {made['next_runs']}"
    return made


def test_timezone_resolution_order(cli: Cli) -> None:
    (cli.home / ".env").write_text("# local settings\nTZ=Europe/Paris\n", encoding="utf-8")
    cron = ["--cron", "0 9 * * *", "--json"]
    both = {"INBOX_TZ": "Asia/Tokyo", "TZ": "America/Chicago"}
    made = [_scheduled_zone(cli, cli.run("schedule", "inbox-tz", *cron, env=both), "Asia/Tokyo")]

    cases = [
        (["schedule", "tz", *cron], {"TZ": "America/Chicago"}, "America/Chicago"),
        (["schedule", "dotenv", *cron], {}, "Europe/Paris"),
        (["schedule", "flag", *cron, "--tz", "Australia/Sydney"], both, "Australia/Sydney"),
    ]
    results = cli.run_many([args for args, _, _ in cases], [env for _, env, _ in cases])
    made += [_scheduled_zone(cli, result, expected) for (_, _, expected), result in zip(cases, results, strict=True)]

    # INBOX_TZ is read from .env like every INBOX_ variable, and beats TZ.
    (cli.home / ".env").write_text("INBOX_TZ=Asia/Kolkata\nTZ=Europe/Paris\n", encoding="utf-8")
    chicago = {"TZ": "America/Chicago"}
    made.append(_scheduled_zone(cli, cli.run("schedule", "dotenv-inbox-tz", *cron, env=chicago), "Asia/Kolkata"))

    (cli.home / ".env").unlink()
    system = _system_zone(cli)
    made.append(_scheduled_zone(cli, cli.run("schedule", "system", *cron), system))

    # The zone is stored on the task: a different zone in the environment later moves nothing.
    listed = by_id(cli.json("tasks", "--json", env={"INBOX_TZ": "Pacific/Auckland"}))
    for task in made:
        row = listed[task["series_id"]]
        assert row["timezone"] == task["timezone"]
        assert utc_instant(row["next_run"]) == instant(task["next_runs"][0])
