"""``inbox tasks`` read with ``sqlite3`` (inbox.cli.quick_tasks) prints exactly what the full path prints, and leaves
the command to the full path whenever it could not be exact (docs/cli.md, "inbox tasks")."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inbox import Inbox
from inbox.cli import quick_tasks
from inbox.store.migrate import declared_head
from tests.acceptance.conftest import Cli
from tests.integration.test_paging import add_runs

STORE_LIBRARIES = {"sqlalchemy", "sqlmodel", "alembic", "pydantic", "typer"}
FULL = {"INBOX_CLI_FULL": "1"}
# The listings compared: the options the quick path takes, alone and together, pages that stop inside the live
# series, at their end and inside the ended ones (each with its "N shown, M more" line).
VARIANTS = [
    (),
    ("--json",),
    ("--status", "all"),
    ("--status=all", "--json", "--limit", "16"),
    ("--status", "ended", "--json"),
    ("--status", "paused"),
    ("-s", "work", "--json"),
    ("--session=work", "--status", "all"),
    ("--tag", "home", "--json"),
    ("--tag=home", "--status", "all"),
    ("--limit", "3"),
    ("--limit=3", "--json"),
    ("--status", "all", "--limit", "14"),
    ("--all", "--status", "all", "--json"),
    ("--tag", "nothing-tagged"),
]


def _varied_store(cli: Cli) -> None:
    """Series of every shape: cron, every, at, events only, after others, paused, cancelled, ended, tagged, with a
    script, a name, a kind's input and a progress report, in three sessions and two zones, with runs recorded."""
    with Inbox(f"sqlite:///{cli.sqlite_file}", env={"INBOX_HOME": str(cli.home)}) as inbox:
        first = inbox.schedule("water the plants", cron="0 9 * * *", tz="Europe/Paris", tags=["home"]).series_id
        every = inbox.schedule("stretch\nthen breathe", every="45m", session="work", name="stretch").series_id
        inbox.schedule("call mum", at="2099-03-01T18:30", tz="America/New_York", tags=["home", "family"])
        inbox.schedule("sort mail", on=["mail.*", "github.**"], session="work")
        inbox.schedule("after watering", after=[first], when="all_done", tags=["home"])
        inbox.schedule("either", every="2h", on=["ping"], remind=True, priority=3, active_hours="08:00-20:00")
        inbox.schedule("fetch", do="http", with_={"url": "http://127.0.0.1:9/x", "method": "GET"}, every="1d")
        inbox.schedule("scripted " + "x" * 60, every="3h", script="echo hi", context="session", max_runs=5)
        inbox.pause(inbox.schedule("paused one", every="1h", session="other", tags=["home"]).series_id)
        inbox.cancel(inbox.schedule("cancelled one", every="1h", session="work").series_id)
        done = [
            inbox.schedule(f"one-shot {i}", at=f"2099-0{i + 1}-01T08:00", tags=["home"]).series_id for i in range(4)
        ]
        made = [inbox.schedule(f"filler {i}", every=f"{70 + i}m").series_id for i in range(8)]
        add_runs(inbox, every, 7)
        add_runs(inbox, made[0], 11)
    with sqlite3.connect(cli.sqlite_file) as db:  # some one-shots ran and ended; one reported progress
        db.executemany("UPDATE messages_in SET status = 'completed' WHERE series_id = ?", [(d,) for d in done])
        db.execute(
            "UPDATE messages_in SET content = json_set(content, '$.progress', json(?)) WHERE series_id = ?",
            ('{"fraction": 0.4, "note": "copying", "at": "2026-01-01T00:00:00+00:00"}', made[1]),
        )


def _sqlite_only(cli: Cli) -> None:
    if cli.backend != "sqlite":
        pytest.skip("the quick path reads SQLite stores only")


def test_the_quick_path_prints_what_the_full_path_prints_byte_for_byte(cli: Cli) -> None:
    _sqlite_only(cli)
    cli.ok("tasks")  # the store, made by the full path
    _varied_store(cli)
    for args in VARIANTS:
        quick, full = cli.run("tasks", *args), cli.run("tasks", *args, env=FULL)
        assert (quick.returncode, quick.stdout, quick.stderr) == (full.returncode, full.stdout, full.stderr), args
        assert quick.returncode == 0 and quick.stdout
    assert "more" in cli.run("tasks", "--limit", "3").stderr  # the pages compared do stop early
    for args in (VARIANTS[1], VARIANTS[3], VARIANTS[-1]):  # and the quick path is the one that printed them
        assert _libraries(cli, "tasks", *args) & STORE_LIBRARIES == set(), args


def _libraries(cli: Cli, *args: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages ``inbox ARGS`` imported (Python's import log), whatever it exited with."""
    result = cli.run(*args, env={"PYTHONPROFILEIMPORTTIME": "1", **(env or {})})
    return {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}


def test_what_the_quick_path_cannot_vouch_for_goes_the_full_way(cli: Cli) -> None:
    _sqlite_only(cli)
    cli.ok("tasks")
    _varied_store(cli)
    # Options it does not take, given twice, or refused: the full path answers, and its words are the same.
    for args in (("--status", "ALL"), ("--limit", "0"), ("--limit", "2", "--all"), ("--json", "--json"), ("-h",)):
        assert "typer" in _libraries(cli, "tasks", *args), args
        quick, full = cli.run("tasks", *args), cli.run("tasks", *args, env=FULL)
        assert (quick.returncode, quick.stdout, quick.stderr) == (full.returncode, full.stdout, full.stderr), args
    # A setting the settings would refuse is refused, even though the listing needs none of them.
    refused = cli.run("tasks", "--json", env={"INBOX_LEASE_SECONDS": "soon"})
    assert refused.returncode == 2 and "INBOX_LEASE_SECONDS" in refused.stderr
    cli.home.joinpath(".env").write_text("INBOX_SWEEP_INTERVAL=never\n")
    assert cli.run("tasks").returncode == 2
    cli.home.joinpath(".env").write_text("INBOX_TZ=Europe/Paris\nANTHROPIC_API_KEY=k\n")  # plain text: taken
    assert _libraries(cli, "tasks", "--json") & STORE_LIBRARIES == set()
    # A store named by INBOX_DATABASE_URL is read by the full path, even the same file.
    elsewhere = {"INBOX_DATABASE_URL": f"sqlite:///{cli.sqlite_file}"}
    assert "sqlalchemy" in _libraries(cli, "tasks", "--json", env=elsewhere)


def test_a_task_held_by_its_tags_limit_is_told_as_the_full_path_tells_it(cli: Cli) -> None:
    _sqlite_only(cli)
    cli.ok("tasks")
    with Inbox(f"sqlite:///{cli.sqlite_file}", env={"INBOX_HOME": str(cli.home)}) as inbox:
        inbox.set_limit("gpu", max_running=1)
        busy = inbox.schedule("render", every="1h", tags=["gpu"]).series_id
        inbox.schedule("train", every="1h", tags=["gpu"])
    past = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(cli.sqlite_file) as db:  # both due now, and one of them already running
        db.execute("UPDATE messages_in SET process_after = ?", (past,))
        db.execute("UPDATE messages_in SET status = 'running' WHERE series_id = ?", (busy,))
    quick, full = cli.run("tasks", "--json"), cli.run("tasks", "--json", env=FULL)
    assert (quick.returncode, quick.stdout) == (full.returncode, full.stdout)
    assert "waiting on the limit of tag gpu: 1 of 1 running" in quick.stdout


def test_a_store_not_at_the_newest_schema_is_left_to_the_full_path(tmp_path: Path) -> None:
    assert declared_head() == quick_tasks.HEAD_REVISION  # the constant follows the migrations
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version VALUES ('0020')")
    assert quick_tasks._connect(old) is None
    assert quick_tasks._connect(tmp_path / "missing.db") is None
    assert not (tmp_path / "missing.db").exists()
