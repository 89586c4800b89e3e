"""What becomes of a message, seen from the command line: ``show``/``runs`` of a message, failure notices in the
outbox, outbox rows naming their task, ``send --wait``, ``serve --listen`` refusals, ``--version`` and ``-h``."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from inbox import Inbox
from inbox.enums import Outcome
from inbox.store.claims import claim_due, fail_attempt
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.engine import transaction
from tests.acceptance.conftest import Cli
from tests.acceptance.served import Served
from tests.acceptance.test_cli import one_line, utc_instant

UNKNOWN_MODEL = "model 'gpt-nope' does not exist (HTTP 404)"


def store_of(cli: Cli) -> Inbox:
    """The store the command uses, opened in this process to play the runner's part."""
    return Inbox(cli.env.get("INBOX_DATABASE_URL") or f"sqlite:///{cli.sqlite_file}", env={"INBOX_TZ": "UTC"})


def attempt(store: Inbox, message_id: str, error: str, *, transient: bool) -> None:
    """Claim ``message_id`` and report a failed attempt: retried later if ``transient``, else failed at once."""
    now = datetime.now(UTC)
    report = RunReport(outcome=Outcome.FAILED, started_at=now, error=error)
    with transaction(store.engine) as db:
        assert [r.id for r in claim_due(db, owner="test-runner", now=now)] == [message_id]
        if transient:
            fail_attempt(db, message_id, report, now=now, backoff=[timedelta(0)])
        else:
            end_occurrence(db, message_id, report, now=now)


def test_a_failed_chat_message_shows_its_status_runs_error_and_a_notice(cli: Cli) -> None:
    sent = cli.json("send", "summarise my mail", "--json")
    with store_of(cli) as store:
        attempt(store, sent["id"], "HTTP 503 from the provider", transient=True)
        shown = cli.json("show", sent["id"], "--json")
        assert (shown["message"]["kind"], shown["message"]["status"]) == ("chat", "pending")
        assert [r["outcome"] for r in shown["runs"]] == ["failed"]
        assert cli.json("outbox", "--json") == [], "a retried attempt is not a failure yet"
        attempt(store, sent["id"], UNKNOWN_MODEL, transient=False)

    shown = cli.json("show", sent["id"], "--json")
    message = shown["message"]
    assert (message["id"], message["kind"], message["status"]) == (sent["id"], "chat", "failed")
    assert message["text"] == "summarise my mail" and message["error"] == UNKNOWN_MODEL
    assert utc_instant(message["created_at"]) == datetime.fromisoformat(sent["created_at"])
    assert [(r["outcome"], r["attempt"], r["error"]) for r in shown["runs"]] == [
        ("failed", 2, UNKNOWN_MODEL),
        ("failed", 1, "HTTP 503 from the provider"),
    ]
    text = cli.ok("show", sent["id"][:10])  # a prefix will do, as for tasks
    assert "chat message" in text and "failed" in text and UNKNOWN_MODEL in text and "summarise my mail" in text

    runs = cli.json("runs", sent["id"], "--json")
    assert (runs[0]["message_id"], runs[0]["outcome"], runs[0]["error"]) == (sent["id"], "failed", UNKNOWN_MODEL)
    assert "gpt-nope" in cli.ok("runs", sent["id"])
    assert cli.json("runs", sent["id"], "--status", "completed", "--json") == []

    notices = cli.json("outbox", "--json")
    assert [(n["kind"], n["in_reply_to"], n["session"]) for n in notices] == [("system", sent["id"], "main")]
    assert sent["id"] in notices[0]["text"] and UNKNOWN_MODEL in notices[0]["text"]


def test_a_task_failing_for_good_posts_one_notice_naming_it(cli: Cli) -> None:
    made = cli.json("schedule", "Check the backups", "--every", "1h", "--name", "backups", "--json")
    extra = cli.json("run", "backups", "--json")
    with store_of(cli) as store:
        attempt(store, extra["id"], "script exited 3", transient=False)
    notices = cli.json("outbox", "--json")
    assert [(n["kind"], n["series_id"], n["task_name"]) for n in notices] == [("system", made["series_id"], "backups")]
    assert "backups" in notices[0]["text"] and "script exited 3" in notices[0]["text"]
    printed = cli.ok("outbox")
    assert 'task "backups"' in printed and "script exited 3" in printed


def test_outbox_rows_name_the_task_they_came_from(cli: Cli) -> None:
    named = cli.json("schedule", "Stretch", "--every", "1h", "--remind", "--name", "stretch", "--json")
    unnamed = cli.json("schedule", "Drink water", "--every", "1h", "--remind", "--json")
    cli.ok("run", "stretch")
    cli.ok("run", unnamed["series_id"])
    cli.ok("sweep", "--once")
    items = {i["text"]: i for i in cli.json("outbox", "--json")}
    assert (items["Stretch"]["series_id"], items["Stretch"]["task_name"]) == (named["series_id"], "stretch")
    assert (items["Drink water"]["series_id"], items["Drink water"]["task_name"]) == (unnamed["series_id"], None)
    printed = cli.ok("outbox").splitlines()
    assert any('task "stretch"' in line and "Stretch" in line for line in printed), printed
    assert any(unnamed["series_id"] in line and "Drink water" in line for line in printed), printed


def test_show_gives_the_series_creation_time_not_the_last_occurrence(cli: Cli) -> None:
    made = cli.json("schedule", "Tick", "--every", "1s", "--remind", "--json")
    created = utc_instant(cli.json("show", made["series_id"], "--json")["task"]["created_at"])
    time.sleep(2.2)
    cli.ok("sweep", "--once")  # delivers the slot: the live row is now a newer occurrence
    shown = cli.json("show", made["series_id"], "--json")
    assert shown["runs"], "the slot was not delivered"
    assert utc_instant(shown["task"]["created_at"]) == created
    assert utc_instant(cli.json("tasks", "--json")[0]["created_at"]) == created


def test_send_wait_times_out_with_exit_1(cli: Cli) -> None:
    result = cli.run("send", "anyone there?", "--wait", "--timeout", "1s")
    assert result.returncode == 1
    assert "no answer" in one_line(result)
    assert cli.run("send", "hi", "--timeout", "1s").returncode == 2, "--timeout without --wait"


@pytest.mark.slow
def test_send_wait_prints_the_answer(served_sqlite: Served) -> None:
    served_sqlite.fake.reply("Your mail is all read.")
    served_sqlite.start_host("--runtime", "process")
    done = subprocess.run(
        ["inbox", "send", "summarise my mail", "--wait", "--timeout", "30s"],
        env=served_sqlite.env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr + served_sqlite.log_text()
    assert done.stdout.splitlines()[-1] == "Your mail is all read."


def test_serve_refuses_a_bad_or_busy_listen_address_in_one_line(cli: Cli) -> None:
    for bad in ("127.0.0.1:99999", "abc", "127.0.0.1:http"):
        result = cli.run("serve", "--runtime", "process", "--listen", bad)
        assert result.returncode == 2, (bad, result.stderr)
        assert "--listen" in one_line(result) and "Traceback" not in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli.run("serve", "--runtime", "process", "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 1, result.stderr
    assert "already in use" in one_line(result) and str(port) in result.stderr


def test_version_and_short_help(bare_cli: Cli) -> None:
    version = bare_cli.run("--version")
    assert version.returncode == 0 and version.stdout.startswith("inbox ") and version.stdout.split()[1][0].isdigit()
    for args in (["-h"], ["--help"], ["show", "-h"]):
        shown = bare_cli.run(*args)
        assert shown.returncode == 0 and "Usage: inbox" in shown.stdout, (args, shown.stderr)


@pytest.mark.slow
def test_a_failing_task_is_named_with_its_reason_in_the_host_log_and_the_outbox(served_sqlite: Served) -> None:
    served = served_sqlite
    served.fake.error(401, message="the key was rejected")  # permanent: ends the occurrence at once
    made = served.inbox.schedule("Summarise the news", every="1d", name="news")
    served.inbox.run_now("news")
    served.start_host("--runtime", "process")
    notice = served.wait_for("a failure notice", lambda: [i for i in served.inbox.outbox() if i.kind == "system"])
    assert notice[0].series_id == made.series_id and notice[0].task_name == "news"
    assert "the key was rejected" in notice[0].text
    log = served.wait_for("the run in the host log", lambda: "news" in served.log_text() and served.log_text())
    assert "HTTP API: off" in log and "--listen" in log, "plain serve says how to turn the HTTP API on"
    named = [line for line in log.splitlines() if f'task "news" ({made.series_id})' in line]
    assert named and all("failed" in line and "the key was rejected" in line for line in named), log
