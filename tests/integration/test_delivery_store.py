"""Delivery in the store, on every backend: which channel a row goes to, claims under a lease, what each attempt
records, and the failure alerts of a series. Time moves through the store API's ``now`` (the test clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from inbox import Inbox
from inbox.enums import Outcome
from inbox.errors import Conflict, InvalidInput
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, MessageOut
from inbox.store.outbox import Attempted, Verdict, claim_deliveries, record_deliveries
from sweeper.retention import RetentionPolicy, apply_retention
from sweeper.sweep import sweep_once
from tests.conftest import Clock
from tests.integration.helpers import claim, end, run_due, stored_text

LEASE = timedelta(seconds=30)
BACKOFF = (timedelta(seconds=10), timedelta(minutes=1))  # three attempts in all


def _command_channel(inbox: Inbox, name: str) -> None:
    inbox.add_channel(name, command="true")


def _outbox_rows(inbox: Inbox) -> list[MessageOut]:
    with transaction(inbox.engine) as db:
        return list(db.exec(select(MessageOut).order_by(col(MessageOut.id))).all())


def _remind_now(inbox: Inbox, clock: Clock, text: str, **fields: object) -> None:
    """A one-shot reminder delivered by a sweep a second later (the host's batched path)."""
    inbox.schedule(text, in_="1s", remind=True, **fields)
    clock.advance(seconds=2)
    sweep_once(inbox.engine, now=clock())


def _claim(inbox: Inbox, owner: str = "host-1", limit: int = 10, **kwargs: object) -> list[str]:
    with transaction(inbox.engine) as db:
        found = claim_deliveries(db, owner=owner, now=inbox.clock(), lease=LEASE, limit=limit, **kwargs)  # type: ignore[arg-type]
        return [f"{item.id}#{item.attempt}" for item in found]


def _record(inbox: Inbox, *results: Attempted, owner: str = "host-1") -> None:
    with transaction(inbox.engine) as db:
        record_deliveries(db, list(results), owner=owner, now=inbox.clock(), backoff=BACKOFF)


def _attempt(claimed: str, verdict: Verdict, error: str | None = None) -> Attempted:
    row_id, attempt = claimed.split("#")
    return Attempted(row_id, int(attempt), verdict, error)


# -- which channel ----------------------------------------------------------------------------------------------
def test_a_row_goes_to_its_tasks_channel_else_its_sessions_else_nowhere(inbox: Inbox, clock: Clock) -> None:
    _command_channel(inbox, "phone")
    _command_channel(inbox, "mail")
    _remind_now(inbox, clock, "no channel anywhere yet")
    inbox.set_session("main", deliver="phone")
    _remind_now(inbox, clock, "the session's channel")
    _remind_now(inbox, clock, "the task's own channel", deliver="mail")
    _remind_now(inbox, clock, "the task keeps to the outbox", deliver="none")
    _remind_now(inbox, clock, "another session has none", session="other")

    shown = {item.text: (item.channel, item.delivery) for item in inbox.outbox(limit=100)}
    assert shown == {
        "no channel anywhere yet": (None, "none"),
        "the session's channel": ("phone", "pending"),
        "the task's own channel": ("mail", "pending"),
        "the task keeps to the outbox": (None, "none"),
        "another session has none": (None, "none"),
    }


def test_the_channel_is_decided_when_the_row_is_written(inbox: Inbox, clock: Clock) -> None:
    _command_channel(inbox, "phone")
    inbox.set_session("main", deliver="phone")
    _remind_now(inbox, clock, "before")
    inbox.set_session("main", deliver="none")
    _remind_now(inbox, clock, "after")
    assert [(item.text, item.channel) for item in inbox.outbox()] == [("before", "phone"), ("after", None)]


def test_update_changes_a_tasks_channel_and_an_empty_one_goes_back_to_the_sessions(inbox: Inbox, clock: Clock) -> None:
    _command_channel(inbox, "phone")
    _command_channel(inbox, "mail")
    inbox.set_session("main", deliver="phone")
    task = inbox.schedule("standup", every="1m", remind=True, deliver="none")
    assert inbox.update(task.series_id, deliver="mail").deliver == "mail"
    clock.advance(minutes=1, seconds=1)
    sweep_once(inbox.engine, now=clock())
    assert inbox.update(task.series_id, deliver="").deliver is None
    clock.advance(minutes=1)
    sweep_once(inbox.engine, now=clock())
    assert [item.channel for item in inbox.outbox()] == ["mail", "phone"]  # the follow-up kept its task's channel


def test_an_unknown_channel_is_refused_naming_the_field_and_nothing_is_written(inbox: Inbox) -> None:
    _command_channel(inbox, "phone")
    before = stored_text(inbox.engine)
    with pytest.raises(InvalidInput) as refused:
        inbox.schedule("hello", in_="1h", deliver="pager")
    assert refused.value.field == "deliver" and "pager" in str(refused.value) and "phone" in str(refused.value)
    with pytest.raises(InvalidInput, match=r"^deliver: "):
        inbox.set_session("main", deliver="pager")
    task = inbox.schedule("hello", in_="1h")
    before = stored_text(inbox.engine)
    with pytest.raises(InvalidInput, match=r"^deliver: "):
        inbox.update(task.id, deliver="pager")
    with pytest.raises(InvalidInput, match=r"^deliver: "):
        inbox.update(task.id, deliver="no spaces allowed")
    assert stored_text(inbox.engine) == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"webhook": "ftp://example.org/x"}, "webhook"),
        ({"webhook": "http://169.254.169.254/latest/meta-data"}, "webhook"),
        ({"webhook": "http://[fe80::1]/hook"}, "webhook"),
        ({"webhook": "http://[fd00:ec2::254]/"}, "webhook"),
        ({"webhook": "http://user:pw@example.org/"}, "webhook"),
        ({"webhook": "https://example.org/", "secret": " "}, "secret"),
        ({"command": "no-such-program-anywhere --now"}, "command"),
        ({"command": "echo 'unclosed"}, "command"),
        ({"smtp": "http://mail.example.org", "to": "me@example.org"}, "smtp"),
        ({"smtp": "smtp://mail.example.org"}, "to"),
        ({"smtp": "smtp://mail.example.org", "to": "not an address"}, "to"),
        ({"command": "true", "to": "me@example.org"}, "to"),
        ({"command": "true", "webhook": "https://example.org/"}, "channel"),
        ({}, "channel"),
    ],
)
def test_a_channel_is_checked_before_it_is_written(inbox: Inbox, fields: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        inbox.add_channel("phone", **fields)
    assert refused.value.field == field
    assert inbox.channels() == []


@pytest.mark.parametrize("name", ["none", "NONE", "", "-dash", "a b", "x" * 65])
def test_channel_names(inbox: Inbox, name: str) -> None:
    with pytest.raises(InvalidInput, match=r"^name: "):
        inbox.add_channel(name, command="true")


def test_a_channel_in_use_is_not_removed(inbox: Inbox) -> None:
    _command_channel(inbox, "phone")
    inbox.set_session("main", deliver="phone")
    task = inbox.schedule("hello", in_="1h", deliver="phone", session="other")
    with pytest.raises(Conflict) as refused:
        inbox.remove_channel("phone")
    assert "session main" in str(refused.value) and task.series_id in str(refused.value)
    inbox.set_session("main", deliver="none")
    inbox.cancel(task.id)
    assert inbox.remove_channel("phone").name == "phone"
    assert inbox.channels() == []


def test_listings_never_show_secrets(inbox: Inbox) -> None:
    made = inbox.add_channel("hook", webhook="https://example.org/in")
    inbox.add_channel("mail", smtp="smtp://me:hunter2@mail.example.org", to="me@example.org")
    assert made.secret and len(made.secret) >= 32  # made for it, shown once
    listed = str([channel.model_dump() for channel in inbox.channels()])
    assert made.secret not in listed and "hunter2" not in listed
    assert {c.name: c.target for c in inbox.channels()}["mail"] == "smtp://me:***@mail.example.org:25"


# -- claims and attempts ----------------------------------------------------------------------------------------
def test_a_claimed_row_is_not_claimed_again_until_its_lease_ends(inbox: Inbox, clock: Clock) -> None:
    _command_channel(inbox, "phone")
    inbox.set_session("main", deliver="phone")
    _remind_now(inbox, clock, "hello")
    [first] = _claim(inbox, "host-1")
    assert _claim(inbox, "host-2") == []
    clock.advance(seconds=29)
    assert _claim(inbox, "host-2") == []
    clock.advance(seconds=2)  # host-1 never recorded: sent again, as attempt 2, under the same id
    [again] = _claim(inbox, "host-2")
    assert again.split("#")[0] == first.split("#")[0] and again.endswith("#2")
    _record(inbox, _attempt(first, Verdict.DELIVERED), owner="host-1")  # too late: not the claim that holds it
    [row] = _outbox_rows(inbox)
    assert (row.delivery, row.delivery_owner) == ("pending", "host-2")
    _record(inbox, _attempt(again, Verdict.DELIVERED), owner="host-2")
    [row] = _outbox_rows(inbox)
    assert (row.delivery, row.attempts, row.delivered_at) == ("delivered", 2, clock())


def test_failures_worth_retrying_wait_out_the_backoff_then_fail_with_the_last_error(inbox: Inbox, clock: Clock) -> None:
    _command_channel(inbox, "phone")
    inbox.set_session("main", deliver="phone")
    _remind_now(inbox, clock, "hello")
    for wait in BACKOFF:
        [claimed] = _claim(inbox)
        _record(inbox, _attempt(claimed, Verdict.RETRY, "HTTP 503"))
        [item] = inbox.outbox()
        assert (item.delivery, item.delivery_error, item.next_attempt_at) == ("pending", "HTTP 503", clock() + wait)
        clock.advance(seconds=wait.total_seconds() - 1)
        assert _claim(inbox) == []
        clock.advance(seconds=1)
    [claimed] = _claim(inbox)
    _record(inbox, _attempt(claimed, Verdict.RETRY, "HTTP 502"))
    [item] = inbox.outbox()
    assert (item.delivery, item.attempts) == ("failed", 3)
    assert item.delivery_error == "gave up after 3 attempts; the last: HTTP 502"
    clock.advance(hours=5)
    assert _claim(inbox) == []


def test_a_refusal_fails_at_once(inbox: Inbox, clock: Clock) -> None:
    _command_channel(inbox, "phone")
    inbox.set_session("main", deliver="phone")
    _remind_now(inbox, clock, "hello")
    [claimed] = _claim(inbox)
    _record(inbox, _attempt(claimed, Verdict.FAIL, "HTTP 404"))
    [item] = inbox.outbox()
    assert (item.delivery, item.attempts, item.delivery_error) == ("failed", 1, "HTTP 404")


def test_claims_take_the_oldest_due_first_up_to_what_each_channel_may_have_in_hand(inbox: Inbox, clock: Clock) -> None:
    _command_channel(inbox, "phone")
    _command_channel(inbox, "mail")
    _remind_now(inbox, clock, "one", deliver="phone")
    _remind_now(inbox, clock, "two", deliver="mail")
    _remind_now(inbox, clock, "three", deliver="phone")
    texts = {row.id: row.text for row in _outbox_rows(inbox)}
    claimed = _claim(inbox, limit=10, per_channel=2, in_hand={"phone": 2})  # phone is full: only mail's
    assert [texts[c.split("#")[0]] for c in claimed] == ["two"]
    claimed = _claim(inbox, limit=10, per_channel=2, in_hand={"phone": 1})  # room for one of phone's
    assert [texts[c.split("#")[0]] for c in claimed] == ["one"]
    assert [texts[c.split("#")[0]] for c in _claim(inbox, limit=1)] == ["three"]


# -- alerts ------------------------------------------------------------------------------------------------------
def _fail_next(inbox: Inbox, clock: Clock, minutes: int = 1) -> None:
    clock.advance(minutes=minutes)
    run_due(inbox, Outcome.FAILED)


def _system(inbox: Inbox) -> list[str]:
    return [item.text for item in inbox.outbox(limit=1000) if item.kind == "system"]


def test_three_failures_in_a_row_alert_the_channel_then_at_most_hourly_then_recovered(
    inbox: Inbox, clock: Clock
) -> None:
    _command_channel(inbox, "phone")
    inbox.set_session("main", deliver="phone")
    task = inbox.schedule("flaky", every="20m", retries=0, name="feed")
    _fail_next(inbox, clock, 20)
    _fail_next(inbox, clock, 20)
    first_failure = inbox.outbox()
    assert [(i.kind, i.channel) for i in first_failure] == [("system", None)]  # the first notice stays in the outbox
    _fail_next(inbox, clock, 20)
    alerts = [i for i in inbox.outbox() if i.text.startswith("Alert")]
    assert [(i.channel, i.delivery) for i in alerts] == [("phone", "pending")]
    assert 'task "feed"' in alerts[0].text and "3 times in a row" in alerts[0].text
    _fail_next(inbox, clock, 20)  # 20 and 40 minutes after the alert: quiet
    _fail_next(inbox, clock, 20)
    _fail_next(inbox, clock, 20)  # an hour after it: the next
    assert [t.split(";")[0] for t in _system(inbox) if t.startswith("Alert")] == [
        'Alert: task "feed" (' + task.series_id + ") has failed 3 times in a row",
        'Alert: task "feed" (' + task.series_id + ") has failed 6 times in a row",
    ]
    clock.advance(minutes=20)
    run_due(inbox, Outcome.COMPLETED)
    recovered = [i for i in inbox.outbox() if i.text.startswith("Recovered")]
    assert [(i.channel, i.kind) for i in recovered] == [("phone", "system")]
    assert "after 6 failed runs in a row" in recovered[0].text
    clock.advance(minutes=20)
    run_due(inbox, Outcome.COMPLETED)
    for _ in range(2):
        _fail_next(inbox, clock, 20)
    assert sum(t.startswith(("Alert", "Recovered")) for t in _system(inbox)) == 3  # two failures: no alert yet


def test_a_missed_slot_neither_ends_nor_adds_to_a_run_of_failures(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("flaky", every="20m", retries=0, catch_up="skip")
    for _ in range(3):
        _fail_next(inbox, clock, 20)
    [alert] = [t for t in _system(inbox) if t.startswith("Alert")]
    clock.advance(hours=3, minutes=5)  # slots pass while the host is down: recorded missed, the row moves on
    assert run_due(inbox, Outcome.COMPLETED) == []
    assert not any(t.startswith("Recovered") for t in _system(inbox))
    clock.advance(minutes=15)  # the next slot
    assert len(run_due(inbox, Outcome.COMPLETED)) == 1
    assert any(t.startswith("Recovered") for t in _system(inbox))
    assert task.series_id in alert


def test_a_one_shot_failure_notice_goes_to_the_channel(inbox: Inbox, clock: Clock) -> None:
    _command_channel(inbox, "phone")
    task = inbox.schedule("once", in_="1m", retries=0, deliver="phone")
    clock.advance(minutes=1)
    run_due(inbox, Outcome.FAILED)
    [notice] = inbox.outbox()
    assert (notice.kind, notice.channel, notice.in_reply_to) == ("system", "phone", task.id)


def test_a_recurring_reminder_that_alerted_says_it_recovered_through_the_batched_path(
    inbox: Inbox, clock: Clock
) -> None:
    """A reminder series whose script failed it, once the script is removed, is delivered by the host's batched
    path: its recovery is still said."""
    _command_channel(inbox, "phone")
    task = inbox.schedule("water the plants", every="20m", remind=True, retries=0, script="exit 1", deliver="phone")
    for _ in range(3):
        _fail_next(inbox, clock, 20)
    inbox.update(task.series_id, script="")
    clock.advance(minutes=20)
    sweep_once(inbox.engine, now=clock())
    assert [t.split(":")[0] for t in _system(inbox)][-1] == "Recovered"
    with transaction(inbox.engine) as db:
        live = db.exec(select(MessageIn).where(MessageIn.series_id == task.series_id, MessageIn.status == "pending"))
        assert [row.alerted_at for row in live] == [None]


def test_ending_an_occurrence_twice_alerts_once(inbox: Inbox, clock: Clock) -> None:
    inbox.schedule("flaky", every="20m", retries=0)
    for _ in range(2):
        _fail_next(inbox, clock, 20)
    clock.advance(minutes=20)
    [row] = claim(inbox)
    end(inbox, row.id, Outcome.FAILED)
    end(inbox, row.id, Outcome.FAILED)
    assert sum(t.startswith("Alert") for t in _system(inbox)) == 1


def test_retention_keeps_a_row_still_waiting_to_be_sent(inbox: Inbox, clock: Clock) -> None:
    _command_channel(inbox, "phone")
    _remind_now(inbox, clock, "sent long ago", deliver="phone")
    _remind_now(inbox, clock, "still waiting", deliver="phone")
    _remind_now(inbox, clock, "never for a channel")
    [sent, _] = _claim(inbox)  # the oldest first
    _record(inbox, _attempt(sent, Verdict.DELIVERED))
    clock.advance(days=31)
    apply_retention(inbox.engine, now=clock(), policy=RetentionPolicy(keep_outbox=timedelta(days=30)))
    assert [item.text for item in inbox.outbox()] == ["still waiting"]
