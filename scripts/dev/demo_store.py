"""A store with a week of made-up history, for the dashboard's screenshots and for looking at it by hand.

``python -m scripts.dev.demo_store DIR`` fills ``DIR/inbox.db`` (SQLite); ``INBOX_HOME=DIR inbox serve --listen
127.0.0.1:8080`` then serves it. Everything goes through the store's own functions (creating tasks, claiming what
is due, ending it), on a clock moved through the week hour by hour, so the rows are the ones a host writes.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from inbox import Inbox
from inbox.enums import OutboxKind, Outcome
from inbox.store import history
from inbox.store.claims import claim_due
from inbox.store.endings import RunReport, end_occurrence, post_outbox
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.types import utcnow

DAYS = 7
ERRORS = {
    Outcome.FAILED: "HTTP 429 from the model provider: rate limited (retry after 20 s)",
    Outcome.TIMEOUT: "took longer than 10m",
    Outcome.SCRIPT_ERROR: "pre-script exited 2: curl: (6) Could not resolve host: backup.lan",
}


class MovingClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _outcome(row: MessageIn, dice: random.Random) -> Outcome:
    if row.name == "check backups":
        return Outcome.SCRIPT_ERROR if dice.random() < 0.25 else Outcome.COMPLETED
    roll = dice.random()
    if roll < 0.05:
        return Outcome.FAILED
    if roll < 0.07:
        return Outcome.TIMEOUT
    return Outcome.SILENT if roll < 0.15 else Outcome.COMPLETED


def _run_due(inbox: Inbox, clock: MovingClock, dice: random.Random) -> None:
    with transaction(inbox.engine) as db:
        claimed = claim_due(db, owner="demo-runner", now=clock(), limit=100)
    for row in claimed:
        outcome = _outcome(row, dice)
        seconds = 0.05 if row.remind else dice.uniform(1.5, 40.0)
        spent_in, spent_out = (0, 0) if row.remind else (dice.randint(800, 4000), dice.randint(50, 600))
        reply = None if row.remind else f"{row.name or 'Task'}: all done for {clock().strftime('%a %H:%M')}."
        report = RunReport(
            outcome=outcome,
            started_at=clock() - timedelta(seconds=seconds),
            error=ERRORS.get(outcome),
            script_output="backup.lan: 3 snapshots, newest 02:00" if row.script else None,
            model_output=reply if outcome == Outcome.COMPLETED else None,
            input_tokens=spent_in,
            output_tokens=spent_out,
            runner="demo-runner",
        )
        with transaction(inbox.engine) as db:
            end_occurrence(db, row.id, report, now=clock())
            if outcome == Outcome.COMPLETED:
                kind = OutboxKind.REMINDER if row.remind else OutboxKind.REPLY
                text = row.text if row.remind else reply or ""
                post_outbox(
                    db,
                    session=row.session,
                    kind=kind,
                    text=text,
                    now=clock(),
                    in_reply_to=row.id,
                    series_id=row.series_id,
                )


def _chat(inbox: Inbox, clock: MovingClock, text: str, answer: str | None, error: str | None = None) -> None:
    message = inbox.send(text)
    with transaction(inbox.engine) as db:
        [row] = claim_due(db, owner="demo-runner", now=clock(), session="main", limit=1)
    outcome = Outcome.COMPLETED if answer else Outcome.FAILED
    report = RunReport(
        outcome=outcome, started_at=clock(), error=error, model_output=answer, input_tokens=1200, output_tokens=90
    )
    clock.now += timedelta(seconds=3)
    with transaction(inbox.engine) as db:
        if answer:
            turns = [{"role": "user", "text": text}, {"role": "assistant", "text": answer}]
            history.append(db, "session:main", session="main", message_id=row.id, turns=turns, now=clock())
            post_outbox(db, session="main", kind=OutboxKind.REPLY, text=answer, now=clock(), in_reply_to=message.id)
        end_occurrence(db, row.id, report, now=clock())


def fill(home: Path, *, seed: int = 7, now: Callable[[], datetime] = utcnow) -> Inbox:
    """Make the store in ``home`` and fill it with a week ending at ``now()``; returns it open."""
    dice = random.Random(seed)
    end = now().replace(microsecond=0)
    clock = MovingClock(end - timedelta(days=DAYS))
    inbox = Inbox(env={"INBOX_HOME": str(home), "INBOX_TZ": "Europe/Paris"}, actor="cli", clock=clock)
    inbox.create_token("laptop")
    inbox.create_token("phone", scope="read")
    inbox.schedule("Summarise my unread mail and today's calendar", cron="0 7 * * *", name="morning digest")
    inbox.schedule("Water the plants", every="6h", name="plants", remind=True)
    inbox.schedule(
        "Check the backups",
        every="12h",
        name="check backups",
        script="#!/bin/sh\nssh backup.lan ls /snapshots",
    )
    inbox.schedule("Draft my stand-up notes", cron="30 8 * * 1-5", tz="Europe/London", name="standup notes")
    review = inbox.schedule("Weekly review: what moved, what is stuck", cron="0 17 * * 5", name="weekly review")
    inbox.schedule("Sort what GitHub sent: tell me what needs me", on=["hook.github"], name="github triage")
    inbox.schedule("Write the newsletter from this week's notes", cron="0 16 * * 5", name="newsletter")
    inbox.schedule("Proof-read the newsletter", after=["newsletter"], name="proof-read")
    inbox.schedule("Send the newsletter", after=["proof-read", "weekly review"], when="all_done", name="send it")
    inbox.create_hook("github", message=False)
    while clock.now < end - timedelta(minutes=30):
        clock.now += timedelta(minutes=30)
        _run_due(inbox, clock, dice)
        if clock.now.hour == 12 and clock.now.minute == 0 and clock.now.weekday() in (1, 3):
            _chat(
                inbox,
                clock,
                "What's left on my list for this week?",
                "Three things: the tax form, the dentist, and the plants.",
            )
    inbox.acting_as("web:laptop").pause(review.series_id)
    inbox.acting_as("token:laptop").update("plants", prompt="Water the plants; mist the fern")
    for event, data in (("hook.github", {"action": "opened", "pull_request": 412}), ("mail.received", None)):
        clock.now = end - timedelta(minutes=40)
        inbox.emit(event, data)
    clock.now = end - timedelta(minutes=20)
    _chat(inbox, clock, "Book a table for Friday?", None, error="invalid API key (401 from the provider)")
    clock.now = end - timedelta(minutes=5)
    _chat(inbox, clock, "Remind me what the plants need", "Water every six hours; the fern likes a mist too.")
    inbox.acting_as("agent:main").schedule("Call mum about the weekend", in_="3h", name="call mum")
    inbox.send("And the weather tomorrow?")
    inbox.clock = now
    return inbox


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-inbox")
    target.mkdir(parents=True, exist_ok=True)
    fill(target).close()
    print(f"filled {target / 'inbox.db'}; serve it with: INBOX_HOME={target} inbox serve --listen 127.0.0.1:8080")
