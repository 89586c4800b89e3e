"""Active hours as a user drives them: ``--active-hours`` on ``inbox schedule``/``update``, ``inbox session set``,
what ``inbox show``/``tasks`` say, and a real host (``inbox serve``) skipping an occurrence outside its hours without
asking the model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.acceptance.conftest import Cli
from tests.acceptance.served import Served


def _window_away_from_now() -> str:
    """A two-hour window that starts two hours from now (UTC): the current time is outside it."""
    hour = datetime.now(UTC).hour
    return f"{(hour + 2) % 24:02d}:00-{(hour + 4) % 24:02d}:00"


def test_a_window_is_set_shown_changed_and_removed(cli: Cli) -> None:
    paris = ("--tz", "Europe/Paris")
    made = cli.json("schedule", "heartbeat", "--every", "1h", *paris, "--active-hours", "22:00-6:00", "--json")
    [listed] = cli.json("tasks", "--json")
    assert listed["active_hours"] == "22:00-06:00"
    assert "active hours: 22:00-06:00 Europe/Paris" in cli.ok("show", made["series_id"])
    cli.ok("update", made["series_id"], "--active-hours", "08:00-22:00")
    assert cli.json("show", made["series_id"], "--json")["task"]["active_hours"] == "08:00-22:00"
    cli.ok("update", made["series_id"], "--active-hours", "")
    assert cli.json("show", made["series_id"], "--json")["task"]["active_hours"] is None
    settings = cli.json("session", "set", "main", "--active-hours", "07:00-23:00", "--json")
    assert (settings["active_hours"], settings["deliver"]) == ("07:00-23:00", "none")
    assert "07:00-23:00" in cli.ok("session", "list")


@pytest.mark.parametrize("bad", ["24:00-06:00", "08:00-08:00", "8am-10pm"])
def test_a_bad_window_exits_2_naming_the_field_and_writes_nothing(cli: Cli, bad: str) -> None:
    refused = cli.run("schedule", "heartbeat", "--every", "1h", "--active-hours", bad)
    assert refused.returncode == 2 and "active_hours" in refused.stderr, refused.stderr
    assert cli.json("tasks", "--json") == []
    made = cli.json("schedule", "heartbeat", "--every", "1h", "--active-hours", "08:00-22:00", "--json")
    changed = cli.run("update", made["series_id"], "--active-hours", bad)
    assert changed.returncode == 2 and "active_hours" in changed.stderr, changed.stderr
    assert cli.json("show", made["series_id"], "--json")["task"]["active_hours"] == "08:00-22:00"
    session = cli.run("session", "set", "main", "--active-hours", bad)
    assert session.returncode == 2 and "active_hours" in session.stderr, session.stderr
    assert cli.json("session", "list", "--json") == []


def test_a_host_skips_an_occurrence_outside_its_hours_without_a_model_call_but_answers_chat(served: Served) -> None:
    window = _window_away_from_now()
    served.fake.reply("hello")
    served.inbox.set_session("main", active_hours=window)
    made = served.inbox.schedule("summarize new mail", on=["mail.*"])
    served.start_host()
    sent = served.inbox.send("a person writes now")  # chat is never held back by active hours
    served.wait_for("the reply", lambda: served.inbox.outbox(session="main"))
    served.inbox.emit("mail.received")
    [run] = served.wait_for("the skipped run", lambda: served.runs(made.series_id))
    assert (run.outcome, run.error) == ("skipped", f"outside active hours ({window} UTC, session main's)")
    assert [o.in_reply_to for o in served.inbox.outbox()] == [sent.id]
    assert len(served.fake.requests) == 1  # the chat's: the skipped occurrence asked the model nothing
