"""The audit trail through the Python API, on every backend: one record per change, with the acting name, the
fields changed and nothing else; none for a refused change or one that rolled back; pages by keyset; retention.

The actors of the other ways in (HTTP tokens, the dashboard, MCP, the agent's tools, the command line) are tested
where those are served: test_audit_http.py, test_dashboard.py, test_agent_tools.py, tests/acceptance/test_audit_cli.py.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, func, select

from inbox import Inbox
from inbox.enums import Outcome
from inbox.errors import Conflict, InvalidInput, NotFound
from inbox.store import budget
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.engine import one_transaction, read_transaction, transaction
from inbox.store.models import AuditRecord
from inbox.transfer.document import export_document, import_checked, parse
from sweeper.retention import RetentionPolicy, apply_retention
from tests.conftest import Clock
from tests.integration.helpers import claim, run_due, stored_text


def trail(inbox: Inbox, ident: str | None = None) -> list[tuple[str, str, str]]:
    """(actor, action, subject) of every record (of ``ident``), oldest first."""
    return [(e.actor, e.action, e.subject) for e in reversed(inbox.audit(ident, limit=1000))]


def count(inbox: Inbox) -> int:
    with read_transaction(inbox.engine) as db:
        return int(db.exec(select(func.count()).select_from(AuditRecord)).one())


def changes(inbox: Inbox, action: str) -> dict[str, Any]:
    [entry] = [e for e in inbox.audit(limit=1000) if e.action == action]
    return entry.changes


def test_each_kind_of_change_leaves_exactly_one_record_naming_who_made_it(inbox: Inbox) -> None:
    cli = inbox.acting_as("cli")
    task = cli.schedule("check mail", every="1h", name="mail")
    sid = task.series_id
    cli.update("mail", prompt="check all mail")
    cli.pause(sid)
    cli.pause(sid)  # already paused: nothing changes, nothing recorded
    cli.resume(sid)
    extra = cli.run_now(sid)
    cli.cancel(sid)
    cli.cancel(sid)  # cancelling twice is not an error, and not a change
    token = cli.create_token("laptop", scope="read")
    cli.revoke_token(token.id)
    cli.revoke_token(token.id)
    hook = cli.create_hook("github", session="ops")
    cli.delete_hook("github")
    channel = cli.add_channel("phone", webhook="https://example.org/hook")
    cli.set_session("main", deliver="phone")
    cli.set_session("main", deliver="phone")
    cli.set_session("main", deliver="none")
    cli.remove_channel("phone")

    assert trail(inbox) == [
        ("cli", "task.create", sid),
        ("cli", "task.update", sid),
        ("cli", "task.pause", sid),
        ("cli", "task.resume", sid),
        ("cli", "task.run", sid),
        ("cli", "task.cancel", sid),
        ("cli", "token.create", "laptop"),
        ("cli", "token.revoke", "laptop"),
        ("cli", "hook.create", "github"),
        ("cli", "hook.delete", "github"),
        ("cli", "channel.add", "phone"),
        ("cli", "session.set", "main"),
        ("cli", "session.set", "main"),
        ("cli", "channel.remove", "phone"),
    ]
    assert changes(inbox, "task.pause") == {"status": {"before": "active", "after": "paused"}}
    assert changes(inbox, "task.cancel") == {"status": {"before": "active", "after": "cancelled"}}
    assert changes(inbox, "task.run") == {"occurrence": {"before": None, "after": extra.id}}
    assert changes(inbox, "token.create") == {
        "id": {"before": None, "after": token.id},
        "scope": {"before": None, "after": "read"},
    }
    assert changes(inbox, "hook.delete") == {
        "session": {"before": "ops", "after": None},
        "message": {"before": False, "after": None},
    }
    made = inbox.audit("main", limit=10)
    assert [e.changes for e in made] == [
        {"deliver": {"before": "phone", "after": "none"}},
        {"deliver": {"before": None, "after": "phone"}},
    ]
    created = changes(inbox, "task.create")
    assert created["prompt"] == {"before": None, "after": "check mail"}
    assert created["schedule"] == {"before": None, "after": "every 1h"}
    assert created["status"] == {"before": None, "after": "active"}
    stored = stored_text(inbox.engine)
    assert token.token not in stored and hook.secret not in stored  # the hook is gone; no record holds its secret
    assert channel.secret is not None and channel.secret not in stored


def test_an_update_records_only_the_fields_it_changed_before_and_after(inbox: Inbox) -> None:
    task = inbox.schedule("report", cron="0 9 * * *", tz="Europe/Paris", name="daily")
    inbox.update(task.series_id, prompt="report", name="daily")  # the same values: no change, no record
    inbox.update(task.series_id, prompt="short report", cron="0 8 * * *")

    [update] = [e for e in inbox.audit(task.series_id) if e.action == "task.update"]
    assert set(update.changes) == {"prompt", "schedule", "next_run"}
    assert update.changes["prompt"] == {"before": "report", "after": "short report"}
    assert update.changes["schedule"] == {"before": "cron 0 9 * * *", "after": "cron 0 8 * * *"}
    assert update.changes["next_run"]["before"] != update.changes["next_run"]["after"]
    assert update.session == "main" and update.actor == "user"


def test_an_update_of_a_running_task_is_recorded_when_made(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("tick", every="1h")
    clock.advance(hours=1)
    [running] = claim(inbox)
    assert running.series_id == task.series_id

    inbox.update(task.series_id, prompt="tock")  # waits on the running occurrence; recorded now

    [update] = [e for e in inbox.audit(task.series_id) if e.action == "task.update"]
    assert update.changes == {"prompt": {"before": "tick", "after": "tock"}}


def test_a_refused_change_writes_no_record(inbox: Inbox) -> None:
    task = inbox.schedule("x", every="1h", name="x")
    inbox.add_channel("phone", command="true")
    inbox.set_session("main", deliver="phone")
    inbox.create_token("laptop")
    before = count(inbox)

    refusals: list[tuple[type[Exception], Any]] = [
        (InvalidInput, lambda: inbox.schedule("", every="1h")),
        (InvalidInput, lambda: inbox.schedule("y", every="1h", deliver="nowhere")),
        (InvalidInput, lambda: inbox.update(task.series_id, cron="not a cron")),
        (InvalidInput, lambda: inbox.update(task.series_id, every="1h", cron="0 9 * * *")),
        (NotFound, lambda: inbox.pause("01NOSUCHTASK0000000000000")),
        (InvalidInput, lambda: inbox.create_token("laptop")),
        (InvalidInput, lambda: inbox.create_token("bad name!")),
        (InvalidInput, lambda: inbox.revoke_token("nobody")),
        (InvalidInput, lambda: inbox.create_hook("bad name!")),
        (InvalidInput, lambda: inbox.delete_hook("nohook")),
        (Conflict, lambda: inbox.remove_channel("phone")),  # session main still uses it
        (InvalidInput, lambda: inbox.set_session("main", deliver="nowhere")),
    ]
    for kind, change in refusals:
        with pytest.raises(kind):
            change()
    inbox.cancel(task.series_id)
    with pytest.raises(Conflict):
        inbox.resume(task.series_id)

    assert count(inbox) == before + 1  # the cancel alone


def test_a_change_that_rolls_back_leaves_no_record(inbox: Inbox) -> None:
    task = inbox.schedule("x", every="1h")
    before = count(inbox)

    with pytest.raises(RuntimeError), one_transaction(inbox.engine):
        inbox.pause(task.series_id)
        inbox.create_token("laptop")
        raise RuntimeError("the request failed after the change")

    assert count(inbox) == before
    assert inbox.get(task.series_id).status == "active" and inbox.tokens() == []


def test_pages_walk_by_keyset_and_a_subject_is_found_by_any_name_of_it(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("x", every="1h", name="nightly")
    for _ in range(4):
        inbox.pause(task.series_id)
        inbox.resume(task.series_id)
    other = inbox.schedule("y", every="1h")
    token = inbox.create_token("laptop")
    clock.advance(hours=1)
    occurrence = claim(inbox)[0]

    first = inbox.audit_page(limit=4, count=True)
    second = inbox.audit_page(limit=4, cursor=first.next_cursor, count=True)
    rest = inbox.audit_page(limit=4, cursor=second.next_cursor, count=True)
    walked = [e.id for page in (first, second, rest) for e in page.rows]
    assert [str(page.more) for page in (first, second, rest)] == ["7", "3", "0"]
    assert rest.next_cursor is None and inbox.audit(limit=None) == [*first.rows, *second.rows, *rest.rows]
    assert walked == sorted(walked, reverse=True) and len(walked) == len(set(walked)) == 11

    by_id = trail(inbox, task.series_id)
    assert len(by_id) == 9 and {subject for _, _, subject in by_id} == {task.series_id}
    assert trail(inbox, "nightly") == by_id  # its name
    assert trail(inbox, occurrence.id) == trail(inbox, occurrence.series_id or "")  # any occurrence of it
    assert trail(inbox, other.series_id[:10]) == [("user", "task.create", other.series_id)]  # a unique prefix
    assert trail(inbox, token.id) == trail(inbox, "laptop") == [("user", "token.create", "laptop")]
    assert inbox.audit("nothing by that name") == []
    with pytest.raises(InvalidInput, match="cursor"):
        inbox.audit(cursor=first.rows[-1].id)  # a record's id is not a cursor: the page's own is


def test_what_the_host_pauses_by_itself_is_recorded_as_host_with_the_reason(inbox: Inbox, clock: Clock) -> None:
    flaky = inbox.schedule("flaky", every="1m", retries=0, name="flaky")
    for _ in range(10):
        clock.advance(minutes=1)
        run_due(inbox, Outcome.FAILED)
    up = inbox.schedule("feeds", every="1h", name="feeds")
    down = inbox.schedule("digest", after=["feeds"], name="digest")
    clock.advance(hours=1)
    [row] = claim(inbox, limit=1000)
    with transaction(inbox.engine) as db:  # the token budget, as the host applies it after a run (sweeper.results)
        report = RunReport(Outcome.COMPLETED, started_at=clock(), input_tokens=900, output_tokens=200)
        ending = end_occurrence(db, row.id, report, now=clock())
        assert budget.enforce(db, ending.follow_up, limit=1000, now=clock())
    inbox.cancel("feeds")

    assert trail(inbox, "flaky")[-1] == ("host", "task.pause", flaky.series_id)
    pauses = {e.subject: e for e in inbox.audit(limit=None) if e.action == "task.pause"}
    assert set(pauses) == {flaky.series_id, up.series_id, down.series_id}
    assert {e.actor for e in pauses.values()} == {"host"}
    for subject, why in [(flaky.series_id, "10 consecutive failed runs"), (up.series_id, "over the daily budget")]:
        assert pauses[subject].changes["status"] == {"before": "active", "after": "paused"}
        assert why in pauses[subject].changes["reason"]["after"]
    assert pauses[down.series_id].changes["reason"]["after"] == inbox.get("digest").reason
    assert trail(inbox, "feeds")[-1] == ("user", "task.cancel", up.series_id)  # the person's cancel, then the host's


def test_an_import_is_one_record_of_what_it_added_by_the_importer(inbox: Inbox, clock: Clock) -> None:
    inbox.schedule("already here", every="1h", name="here")
    document = export_document(inbox.engine, now=clock())
    document["tasks"].append({**document["tasks"][0], "series_id": "01M96AYHEXCHBQFK8VFF8X36JE", "name": "new"})
    import_checked(inbox.engine, parse(json.dumps(document)), now=clock(), actor="cli")
    [entry] = [e for e in inbox.audit() if e.action == "store.import"]
    assert (entry.actor, entry.subject) == ("cli", "store")
    assert entry.changes["tasks"] == {"before": None, "after": {"added": 1, "present": 1}}


def test_retention_deletes_records_older_than_its_horizon_and_only_those(inbox: Inbox, clock: Clock) -> None:
    inbox.create_token("old")
    clock.advance(days=200)
    inbox.create_token("newer")
    clock.advance(days=200)  # "old" is 400 days old, "newer" 200

    report = apply_retention(inbox.engine, now=clock(), policy=RetentionPolicy())
    assert report.audit == 1 and trail(inbox) == [("user", "token.create", "newer")]

    shorter = RetentionPolicy(keep_audit=timedelta(days=100))
    assert apply_retention(inbox.engine, now=clock(), policy=shorter).audit == 1
    with read_transaction(inbox.engine) as db:
        assert db.exec(select(col(AuditRecord.id))).all() == []
