"""The deliverer over real channels, on every backend: a loopback webhook receiver, a command that is a real script,
and an SMTP server on loopback (aiosmtpd). Retries are driven by moving the test clock the deliverer reads."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from inbox import Inbox
from inbox.enums import ChannelKind
from inbox.store.engine import open_engine
from inbox.views import OutboxItem
from scripts.webhook_receiver.server import Receiver, always, in_turn
from sweeper.delivery.command import CommandSender
from sweeper.delivery.deliverer import Deliverer, DeliveryConfig, default_senders
from sweeper.delivery.webhook import WebhookSender, signature
from sweeper.sweep import sweep_once
from tests.conftest import Clock

CONFIG = DeliveryConfig(timeout_s=1.0, backoff=(timedelta(seconds=10), timedelta(minutes=1)), poll_s=0.05)
DRAIN_S = 20.0


class Names:
    """A resolver the deliverer is given instead of the system's: names map to the addresses a test picks."""

    def __init__(self, table: Mapping[str, list[str]]) -> None:
        self.table = dict(table)
        self.asked: list[str] = []

    def __call__(self, host: str, _port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


@contextmanager
def delivering(
    inbox: Inbox, *, resolver: Names | None = None, owner: str = "host-1", **senders: Any
) -> Iterator[Deliverer]:
    chosen = dict(default_senders(CONFIG, resolver or Names({})))
    chosen.update({ChannelKind(kind): sender for kind, sender in senders.items()})
    deliverer = Deliverer(inbox.engine, owner=owner, config=CONFIG, senders=chosen, clock=inbox.clock)
    deliverer.start()
    try:
        yield deliverer
    finally:
        deliverer.stop()


def remind(inbox: Inbox, clock: Clock, text: str = "take the bins out", **fields: Any) -> None:
    inbox.schedule(text, in_="1s", remind=True, **fields)
    clock.advance(seconds=2)
    sweep_once(inbox.engine, now=clock())


def settled(inbox: Inbox, deliverer: Deliverer) -> OutboxItem:
    assert deliverer.drain(DRAIN_S)
    [item] = inbox.outbox()
    return item


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


# -- webhooks ---------------------------------------------------------------------------------------------------
def test_a_webhook_gets_the_row_as_signed_json_with_its_id_as_idempotency_key(
    inbox: Inbox, clock: Clock, receiver: Receiver
) -> None:
    made = inbox.add_channel("phone", webhook=receiver.url("/in?user=me"))
    inbox.set_session("main", deliver="phone")
    with delivering(inbox) as deliverer:
        remind(inbox, clock, name="bins")
        item = settled(inbox, deliverer)
    [got] = receiver.received
    assert (item.delivery, item.attempts, item.delivered_at) == ("delivered", 1, clock())
    assert got.path == "/in?user=me" and got.key == item.id and got.headers["x-inbox-attempt"] == "1"
    assert made.secret is not None and got.signed_by(made.secret) and not got.signed_by(made.secret + "x")
    assert got.headers["x-inbox-signature"] == signature(made.secret, got.body)
    assert got.headers["content-type"].startswith("application/json")
    assert got.json == {
        "id": item.id,
        "session": "main",
        "kind": "reminder",
        "text": "take the bins out",
        "created_at": item.created_at.isoformat(),
        "in_reply_to": item.in_reply_to,
        "series_id": item.series_id,
        "task_name": "bins",
        "channel": "phone",
    }


def test_a_5xx_is_retried_after_the_backoff_with_the_same_key_and_body(
    inbox: Inbox, clock: Clock, receiver: Receiver
) -> None:
    receiver.policy = in_turn(503, 200)
    inbox.add_channel("phone", webhook=receiver.url(), secret="s3cret")
    with delivering(inbox) as deliverer:
        remind(inbox, clock, deliver="phone")
        item = settled(inbox, deliverer)
        assert (item.delivery, item.attempts, item.delivery_error) == ("pending", 1, "HTTP 503")
        assert item.next_attempt_at == clock() + timedelta(seconds=10)
        clock.advance(seconds=10)
        item = settled(inbox, deliverer)
    first, second = receiver.received
    assert (item.delivery, item.attempts, item.delivery_error) == ("delivered", 2, None)
    assert first.key == second.key == item.id and first.body == second.body
    assert [r.headers["x-inbox-attempt"] for r in (first, second)] == ["1", "2"]
    assert second.signed_by("s3cret")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (404, ("failed", "HTTP 404")),
        (400, ("failed", "HTTP 400")),
        (302, ("failed", "HTTP 302 (redirects are not followed)")),
        (408, ("pending", "HTTP 408")),
        (500, ("pending", "HTTP 500")),
    ],
)
def test_what_each_answer_means(
    inbox: Inbox, clock: Clock, receiver: Receiver, answer: int, expected: tuple[str, str]
) -> None:
    receiver.policy = always(answer)
    inbox.add_channel("phone", webhook=receiver.url())
    with delivering(inbox) as deliverer:
        remind(inbox, clock, deliver="phone")
        item = settled(inbox, deliverer)
    assert (item.delivery, item.delivery_error) == expected
    assert len(receiver.received) == 1


def test_a_429_waits_as_long_as_the_receiver_asks(inbox: Inbox, clock: Clock, receiver: Receiver) -> None:
    receiver.policy = always((429, {"Retry-After": "120"}))
    inbox.add_channel("phone", webhook=receiver.url())
    with delivering(inbox) as deliverer:
        remind(inbox, clock, deliver="phone")
        item = settled(inbox, deliverer)
    assert (item.delivery, item.next_attempt_at) == ("pending", clock() + timedelta(seconds=120))


def test_every_attempt_used_fails_the_row_with_the_last_error(inbox: Inbox, clock: Clock, receiver: Receiver) -> None:
    receiver.policy = always(502)
    inbox.add_channel("phone", webhook=receiver.url())
    with delivering(inbox) as deliverer:
        remind(inbox, clock, deliver="phone")
        for wait in CONFIG.backoff:
            assert settled(inbox, deliverer).delivery == "pending"
            clock.advance(seconds=wait.total_seconds())
        item = settled(inbox, deliverer)
    assert (item.delivery, item.attempts) == ("failed", 3)
    assert item.delivery_error == "gave up after 3 attempts; the last: HTTP 502"
    assert len({r.key for r in receiver.received}) == 1 and len(receiver.received) == 3


def test_a_refused_connection_and_a_silent_receiver_are_retried(inbox: Inbox, clock: Clock) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free_port = closed.getsockname()[1]
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never answers
    try:
        inbox.add_channel("nobody", webhook=f"http://127.0.0.1:{free_port}/")
        inbox.add_channel("silent", webhook=f"http://127.0.0.1:{silent.getsockname()[1]}/")
        with delivering(inbox) as deliverer:
            remind(inbox, clock, "one", deliver="nobody")
            remind(inbox, clock, "two", deliver="silent")
            assert deliverer.drain(DRAIN_S)
        errors = {item.channel: (item.delivery, item.delivery_error) for item in inbox.outbox()}
    finally:
        silent.close()
    assert errors["nobody"][0] == "pending" and "could not connect to 127.0.0.1" in str(errors["nobody"][1])
    assert errors["silent"] == ("pending", "POST to 127.0.0.1 timed out")


# -- where a webhook may go ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "addresses",
    [["169.254.169.254"], ["127.0.0.1", "169.254.169.254"], ["::ffff:169.254.169.254"], ["fe80::1"], ["fd00:ec2::254"]],
)
def test_a_name_resolving_to_a_link_local_or_metadata_address_is_refused(
    inbox: Inbox, clock: Clock, receiver: Receiver, addresses: list[str]
) -> None:
    names = Names({"hooks.example.test": addresses})
    inbox.add_channel("phone", webhook=f"http://hooks.example.test:{receiver.port}/in")  # a name: checked when sent
    with delivering(inbox, resolver=names) as deliverer:
        remind(inbox, clock, deliver="phone")
        item = settled(inbox, deliverer)
    assert item.delivery == "failed" and item.attempts == 1
    assert item.delivery_error is not None and "link-local or cloud-metadata" in item.delivery_error
    assert names.asked == ["hooks.example.test"] and receiver.received == []


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    inbox: Inbox, clock: Clock, receiver: Receiver
) -> None:
    names = Names({"hooks.example.test": ["10.255.255.1", "127.0.0.1"]})  # the first refuses or times out: next
    inbox.add_channel("phone", webhook=f"http://hooks.example.test:{receiver.port}/in")
    with delivering(inbox, resolver=names) as deliverer:
        remind(inbox, clock, deliver="phone")
        item = settled(inbox, deliverer)
    assert item.delivery == "delivered", item.delivery_error
    [got] = receiver.received
    assert got.headers["host"] == f"hooks.example.test:{receiver.port}"


def test_loopback_names_are_the_users_own(inbox: Inbox, clock: Clock, receiver: Receiver) -> None:
    inbox.add_channel("phone", webhook=f"http://localhost:{receiver.port}/in")
    with delivering(inbox, resolver=Names({"localhost": ["127.0.0.1"]})) as deliverer:
        remind(inbox, clock, deliver="phone")
        assert settled(inbox, deliverer).delivery == "delivered"


# -- commands ---------------------------------------------------------------------------------------------------
def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "deliver.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_a_command_gets_the_row_as_json_on_stdin_without_the_hosts_secrets(
    inbox: Inbox, clock: Clock, tmp_path: Path
) -> None:
    out = tmp_path / "got"
    script = _script(tmp_path, f"cat > {out}.json\nenv > {out}.env\n")
    inbox.add_channel("notify", command=f"{script} --urgent")
    sender = CommandSender(
        timeout_s=5, environ={**os.environ, "OPENAI_API_KEY": "sk-host-only", "PATH": "/usr/bin:/bin"}
    )
    with delivering(inbox, command=sender) as deliverer:
        remind(inbox, clock, "call mum", deliver="notify")
        item = settled(inbox, deliverer)
    assert item.delivery == "delivered"
    document = json.loads((tmp_path / "got.json").read_text())
    assert (document["id"], document["text"], document["channel"]) == (item.id, "call mum", "notify")
    env = (tmp_path / "got.env").read_text()
    assert f"INBOX_OUTBOX_ID={item.id}" in env and "INBOX_CHANNEL=notify" in env and "INBOX_ATTEMPT=1" in env
    assert "sk-host-only" not in env


def test_a_command_that_exits_non_zero_is_retried_with_its_stderr(inbox: Inbox, clock: Clock, tmp_path: Path) -> None:
    script = _script(tmp_path, 'cat > /dev/null\necho "phone bridge unreachable" >&2\nexit 3\n')
    inbox.add_channel("notify", command=str(script))
    with delivering(inbox) as deliverer:
        remind(inbox, clock, deliver="notify")
        item = settled(inbox, deliverer)
    assert (item.delivery, item.attempts) == ("pending", 1)
    assert item.delivery_error == f"{script} exited 3: phone bridge unreachable"


def test_a_command_past_its_timeout_is_killed_with_what_it_started(inbox: Inbox, clock: Clock, tmp_path: Path) -> None:
    marker = tmp_path / "late"
    script = _script(tmp_path, f"(sleep 3; touch {marker}) &\nsleep 30\n")
    inbox.add_channel("notify", command=str(script))
    with delivering(inbox) as deliverer:
        remind(inbox, clock, deliver="notify")
        item = settled(inbox, deliverer)
    assert item.delivery == "pending" and "ran past 1 s and was killed" in (item.delivery_error or "")
    threading.Event().wait(3.5)
    assert not marker.exists()


# -- mail -------------------------------------------------------------------------------------------------------
class Mailbox:
    """What an aiosmtpd server on loopback was given; ``rcpt`` sets its answer to RCPT TO."""

    def __init__(self) -> None:
        self.mails: list[Any] = []
        self.rcpt = "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def test_an_smtp_channel_mails_the_row(inbox: Inbox, clock: Clock, mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    inbox.add_channel("mail", smtp=f"smtp://127.0.0.1:{port}", to="me@example.org", sender="inbox@example.org")
    inbox.set_session("main", deliver="mail")
    with delivering(inbox) as deliverer:
        remind(inbox, clock, "Pay the rent\nbefore Friday", name="rent")
        item = settled(inbox, deliverer)
    assert item.delivery == "delivered"
    [mail] = box.mails
    text = mail.content.decode()
    assert mail.mail_from == "inbox@example.org" and mail.rcpt_tos == ["me@example.org"]
    assert f"Message-ID: <{item.id}@inbox>" in text and "Subject: [inbox main] reminder (rent): Pay the rent" in text
    assert "before Friday" in text


@pytest.mark.parametrize(("answer", "status"), [("550 no such mailbox", "failed"), ("451 try later", "pending")])
def test_an_smtp_refusal_fails_and_a_temporary_one_is_retried(
    inbox: Inbox, clock: Clock, mailbox: tuple[Mailbox, int], answer: str, status: str
) -> None:
    box, port = mailbox
    box.rcpt = answer
    inbox.add_channel("mail", smtp=f"smtp://127.0.0.1:{port}", to="nobody@example.org")
    with delivering(inbox) as deliverer:
        remind(inbox, clock, deliver="mail")
        item = settled(inbox, deliverer)
    assert item.delivery == status and answer.split()[0] in (item.delivery_error or "")
    assert box.mails == []


# -- several deliverers -----------------------------------------------------------------------------------------
def test_two_deliverers_on_one_store_never_send_a_row_twice(inbox: Inbox, clock: Clock, store_url: str) -> None:
    rows = 300
    # Each deliverer holds few rows at a time, and each answer takes 20 ms: one alone needs at least 0.37 s for
    # them all, several of the other's looks (every 50 ms). With instant answers on a fast machine, the first to
    # look could send all 300 before the second ever looked, and the test would show nothing about two.
    slow = Receiver(delay_s=0.02)
    small = replace(CONFIG, window=16)
    other = open_engine(store_url)
    first = Deliverer(inbox.engine, owner="host-1", config=small, senders=default_senders(small), clock=inbox.clock)
    second = Deliverer(other, owner="host-2", config=small, senders=default_senders(small), clock=inbox.clock)
    with slow as receiver:
        inbox.add_channel("phone", webhook=receiver.url())
        inbox.set_session("main", deliver="phone")
        for index in range(rows):
            inbox.schedule(f"reminder {index}", in_="1s", remind=True)
        clock.advance(seconds=2)
        try:
            first.start()
            second.start()
            sweep_once(inbox.engine, now=clock())
            receiver.wait_for(rows)
            assert first.drain(DRAIN_S) and second.drain(DRAIN_S)
        finally:
            first.stop()
            second.stop()
            other.dispose()
    keys = [got.key for got in receiver.received]
    assert len(keys) == len(set(keys)) == rows
    items = inbox.outbox(limit=1000)
    assert {(item.delivery, item.attempts) for item in items} == {("delivered", 1)}
    assert first.tally.delivered > 0 and second.tally.delivered > 0  # both took a share
    assert first.tally.delivered + second.tally.delivered == rows


# -- TLS to a checked address -----------------------------------------------------------------------------------
@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for hooks.example.test (openssl), and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subject = ("-subj", "/CN=hooks.example.test", "-addext", "subjectAltName=DNS:hooks.example.test")
    made = ("-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key), "-out", str(cert))
    subprocess.run(["openssl", "req", *made, *subject], check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize(("name", "delivery"), [("hooks.example.test", "delivered"), ("other.example.test", "failed")])
def test_https_goes_to_the_checked_address_and_checks_the_certificate_against_the_name(
    inbox: Inbox, clock: Clock, certificate: tuple[Path, Path], name: str, delivery: str
) -> None:
    cert, key = certificate
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    with Receiver(tls=served) as receiver:
        names = Names({name: ["127.0.0.1"]})
        inbox.add_channel("phone", webhook=f"https://{name}:{receiver.port}/in")
        sender = WebhookSender(timeout_s=CONFIG.timeout_s, resolver=names, tls=trusting)
        with delivering(inbox, webhook=sender) as deliverer:
            remind(inbox, clock, deliver="phone")
            item = settled(inbox, deliverer)
        got = receiver.received
    assert item.delivery == delivery, item.delivery_error
    if delivery == "delivered":
        assert [r.headers["host"] for r in got] == [f"{name}:{receiver.port}"]
    else:
        assert got == [] and "certificate" in (item.delivery_error or "")
