"""Delivery as a user drives it: ``inbox channel``, ``inbox session set``, ``--deliver``, the outbox's delivery status,
and real hosts (``inbox serve``, ``inbox sweep --once``) sending to a loopback webhook receiver."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator

import pytest

from scripts.webhook_receiver.server import Receiver
from tests.acceptance.conftest import Cli
from tests.acceptance.served import Served
from tests.acceptance.test_chat import ChatProcess


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def test_channels_are_added_listed_and_removed_and_a_secret_is_shown_once(cli: Cli, receiver: Receiver) -> None:
    added = cli.run("channel", "add", "phone", "--webhook", receiver.url("/in"))
    assert added.returncode == 0, added.stderr
    secret = added.stdout.splitlines()[1]
    assert len(secret) >= 32 and "shown only now" in added.stderr
    made = cli.json(
        "channel", "add", "mail", "--smtp", "smtp://me:hunter2@127.0.0.1:2525", "--to", "me@example.org", "--json"
    )
    assert (made["kind"], made["target"], made["to"], made["secret"]) == (
        "smtp",
        "smtp://me:***@127.0.0.1:2525",
        "me@example.org",
        None,
    )
    cli.ok("session", "set", "main", "--deliver", "phone")
    listed = cli.json("channel", "list", "--json")
    assert [(c["name"], c["kind"], c["sessions"], c["signed"]) for c in listed] == [
        ("mail", "smtp", [], False),
        ("phone", "webhook", ["main"], True),
    ]
    shown = cli.ok("channel", "list")
    assert secret not in shown and "hunter2" not in shown and secret not in str(listed)
    assert cli.json("session", "list", "--json")[0]["deliver"] == "phone"
    in_use = cli.run("channel", "remove", "phone")
    assert in_use.returncode == 2 and "session main" in in_use.stderr
    cli.ok("session", "set", "main", "--deliver", "none")
    cli.ok("channel", "remove", "phone")
    assert [c["name"] for c in cli.json("channel", "list", "--json")] == ["mail"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("channel", "add", "x", "--webhook", "http://169.254.169.254/"), "webhook: 169.254.169.254 is a link-local"),
        (("channel", "add", "x", "--webhook", "https://e.org/", "--command", "true"), "give exactly one of --webhook"),
        (("channel", "add", "none", "--command", "true"), "name: 'none' is reserved"),
        (("channel", "add", "x", "--smtp", "smtp://mail.example.org"), "to: an smtp channel needs"),
        (("channel", "remove", "nothing"), "no channel with id 'nothing'"),
        (("session", "set", "main", "--deliver", "pager"), "deliver: no channel named 'pager'"),
        (("schedule", "hi", "--in", "1h", "--deliver", "pager"), "deliver: no channel named 'pager'"),
        (("schedule", "hi", "--in", "1h", "--deliver", "two words"), "deliver: 'two words' must be"),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_writes_nothing(cli: Cli, args: tuple[str, ...], says: str) -> None:
    refused = cli.run(*args)
    assert refused.returncode == 2 and says in refused.stderr, refused.stderr
    assert cli.json("channel", "list", "--json") == []
    assert cli.json("tasks", "--status", "all", "--json") == []
    assert cli.json("session", "list", "--json") == []


def test_a_task_names_its_channel_and_update_changes_it(cli: Cli) -> None:
    cli.ok("channel", "add", "notify", "--command", "true")
    made = cli.json("schedule", "stand up", "--every", "1h", "--remind", "--deliver", "notify", "--json")
    assert cli.json("show", made["series_id"], "--json")["task"]["deliver"] == "notify"
    assert re.search(r"^  deliver: +notify$", cli.ok("show", made["series_id"]), re.MULTILINE)
    assert cli.json("update", made["series_id"], "--deliver", "none", "--json")["deliver"] == "none"
    assert cli.json("update", made["series_id"], "--deliver", "", "--json")["deliver"] is None
    assert cli.run("update", made["series_id"], "--deliver", "pager").returncode == 2


@pytest.mark.slow
def test_sweep_once_delivers_before_it_exits_and_the_outbox_shows_it(cli: Cli, receiver: Receiver) -> None:
    cli.ok("channel", "add", "phone", "--webhook", receiver.url("/in"))
    cli.ok("session", "set", "main", "--deliver", "phone")
    cli.ok("schedule", "take the bins out", "--in", "1s", "--remind")
    cli.ok("schedule", "keep this one here", "--in", "1s", "--remind", "--deliver", "none")
    time.sleep(1.5)
    swept = cli.run("sweep", "--once", "--json", env={"INBOX_RUNTIME": "process"})
    assert swept.returncode == 0, swept.stderr
    report = json.loads(swept.stdout)
    assert (report["delivered"], report["sent"]) == (2, 1)
    [got] = receiver.received  # before the pass exited
    assert got.json["text"] == "take the bins out"
    items = {item["text"]: item for item in cli.json("outbox", "--json")}
    assert (items["take the bins out"]["delivery"], items["take the bins out"]["attempts"]) == ("delivered", 1)
    assert (items["keep this one here"]["delivery"], items["keep this one here"]["channel"]) == ("none", None)
    assert "[delivered to phone]" in cli.ok("outbox")


@pytest.mark.slow
def test_send_wait_and_chat_still_answer_with_a_channel_configured(served_sqlite: Served, receiver: Receiver) -> None:
    served = served_sqlite
    served.inbox.add_channel("phone", webhook=receiver.url("/in"))
    served.inbox.set_session("main", deliver="phone")
    served.fake.reply("Your mail is all read.")
    served.start_host("--runtime", "process")
    done = subprocess.run(
        ["inbox", "send", "summarise my mail", "--wait", "--timeout", "30s"],
        env=served.env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr + served.log_text()
    assert done.stdout.splitlines()[-1] == "Your mail is all read."
    [got] = receiver.wait_for(1)
    assert got.json["text"] == "Your mail is all read." and got.json["kind"] == "reply"

    served.fake.reply("Hello from the model")
    chat = ChatProcess(served)
    try:
        chat.expect("session main", "/quit")
        chat.type("hi there")
        chat.expect("assistant> Hello from the model")
        chat.type("/quit")
        assert chat.finish() == (0, "")
    finally:
        if chat.process.poll() is None:
            chat.process.kill()
    assert receiver.wait_for(2)[-1].json["text"] == "Hello from the model"
    [item] = [i for i in served.inbox.outbox() if i.text == "Hello from the model"]
    assert served.wait_for("the reply delivered", lambda: served.inbox.outbox()[-1].delivery == "delivered")
    assert item.channel == "phone"
