"""Export and import move every live series, with its next run, between stores of either backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from inbox import Inbox, InvalidInput
from inbox.store.engine import transaction
from inbox.transfer.document import export_document, import_checked, parse
from sweeper.sweep import sweep_once
from tests.conftest import Clock
from tests.integration.helpers import claim, end, rows
from tests.integration.stores import PAIRS, fill, listed, opened


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_every_live_series_moves_with_its_next_run(source: str, target: str, tmp_path: Path, clock: Clock) -> None:
    with opened(source, tmp_path / "from", clock) as old:
        ids = fill(old, clock)
        later = old.send("see you tomorrow", at="2026-06-02T08:00")
        document = export_document(old.engine, now=clock())
        before = listed(old)
    assert ids["gone"] not in before and len(before) == 6
    assert [t["series_id"] for t in document["tasks"]] == sorted(before)
    text_form = json.dumps(document)

    with opened(target, tmp_path / "to", clock) as new:
        counts = import_checked(new.engine, parse(text_form), now=clock(), actor="cli")
        assert (counts["tasks"].added, counts["messages"].added) == (6, 1)
        after = listed(new)
        # a running occurrence arrives pending at its slot; a pause waiting on it still waits
        before[ids["long"]]["status"] = "active"
        # the source shows what its next occurrence does (the rewording waits on the running one); here that
        # occurrence is the imported one, which still does the old prompt: the rewording applies after it (below)
        before[ids["long"]]["prompt"] = "Long job"
        assert after == before
        assert new.get("stretch").next_run == datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
        assert new.message(later.id).process_after == datetime(2026, 6, 2, 8, 0, tzinfo=UTC)
        assert new.get(ids["plants"]).model_dump(include={"max_runs", "catch_up", "context"}) == {
            "max_runs": 3,
            "catch_up": "all",
            "context": "series",
        }


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_imported_series_go_on_as_they_would_have(source: str, target: str, tmp_path: Path, clock: Clock) -> None:
    with opened(source, tmp_path / "from", clock) as old:
        ids = fill(old, clock)
        document = json.dumps(export_document(old.engine, now=clock()))
    with opened(target, tmp_path / "to", clock) as new:
        import_checked(new.engine, parse(document), now=clock(), actor="cli")

        # the occurrence that was running ends here: the update and the pause that waited on it apply
        [long_row] = [r for r in claim(new) if r.series_id == ids["long"]]
        follow = end(new, long_row.id).follow_up
        assert follow is not None and follow.status == "paused" and follow.text == "Long job, reworded"

        clock.set(datetime(2026, 6, 1, 15, 0, 30, tzinfo=UTC))
        sweep_once(new.engine, now=clock())
        stretch = new.get("stretch")
        assert stretch.next_run == datetime(2026, 6, 1, 16, 30, tzinfo=UTC)  # the anchor moved with it
        assert [r.occurrence_no for r in rows(new, ids["stretch"])] == [2, 3]
        assert [o.text for o in new.outbox()] == ["Stretch"]


def test_importing_twice_adds_nothing_the_second_time(inbox: Inbox, clock: Clock, tmp_path: Path) -> None:
    with opened("sqlite", tmp_path / "from", clock) as old:
        fill(old, clock)
        old.send("later", in_="1h")
        document = json.dumps(export_document(old.engine, now=clock()))
    first = import_checked(inbox.engine, parse(document), now=clock(), actor="cli")
    again = import_checked(inbox.engine, parse(document), now=clock(), actor="cli")
    assert (first["tasks"].added, first["tasks"].present) == (6, 0)
    assert (again["tasks"].added, again["tasks"].present) == (0, 6)
    assert (again["messages"].added, again["messages"].present) == (0, 1)
    with inbox.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM messages_in")).scalar_one() == 7


def test_a_store_holding_one_of_the_series_gets_only_the_others(inbox: Inbox, clock: Clock) -> None:
    mine = inbox.schedule("already here", every="1h")
    document = export_document(inbox.engine, now=clock())
    document["tasks"].append({**document["tasks"][0], "series_id": "01M96AYHEXCHBQFK8VFF8X36JE", "name": "new"})
    counts = import_checked(inbox.engine, parse(json.dumps(document)), now=clock(), actor="cli")
    assert (counts["tasks"].added, counts["tasks"].present) == (1, 1)
    assert {t.name for t in inbox.tasks()} == {None, "new"}
    assert inbox.get(mine.series_id).prompt == "already here"


def _bad(document: dict[str, Any], index: int, **fields: Any) -> str:
    document["tasks"][index] = {**document["tasks"][index], **fields}
    return json.dumps(document)


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"timezone": "Mars/Base"}, "tasks[1].timezone", "unknown timezone"),
        ({"recurrence": "cron 61 * * * *"}, "tasks[1].recurrence", "cron"),
        ({"recurrence": "fortnightly"}, "tasks[1].recurrence", "unknown recurrence"),
        ({"next_run": "2026-06-01T09:00:00"}, "tasks[1].next_run", "timezone"),
        ({"next_run": None}, "tasks[1].next_run", ""),
        ({"status": "running"}, "tasks[1].status", "'running'"),
        ({"retries": "3"}, "tasks[1].retries", "integer"),
        ({"session": "no spaces please"}, "tasks[1].session", "letters"),
        ({"series_id": "not-an-id"}, "tasks[1].series_id", "not an id"),
        ({"content": {"text": ""}}, "tasks[1].content.text", "empty"),
        ({"content": {"text": "x", "script": 5}}, "tasks[1].content.script", "string"),
        ({"colour": "red"}, "tasks[1].colour", "not a known field"),
        ({"max_runs": 0}, "tasks[1].max_runs", ""),
        ({"name": "  "}, "tasks[1].name", "blank"),
        ({"deliver": "two words"}, "tasks[1].deliver", "must be"),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_written(
    inbox: Inbox, clock: Clock, fields: dict[str, Any], field: str, says: str
) -> None:
    inbox.schedule("one", every="1h")
    inbox.schedule("two", every="2h")
    document = export_document(inbox.engine, now=clock())
    with transaction(inbox.engine) as db:
        db.execute(text("DELETE FROM messages_in"))
    with pytest.raises(InvalidInput) as refused:
        parse(_bad(document, 1, **fields))
    assert refused.value.field == field
    assert says in refused.value.reason
    assert inbox.tasks(status="all") == []


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"format": "something-else", "version": 1}, "format"),
        ({"format": "inbox-export", "version": 99}, "version"),
        ({"format": "inbox-export", "version": "1"}, "version"),
        ({"format": "inbox-export", "version": 1, "widgets": []}, "widgets"),
        ({"format": "inbox-export", "version": 1, "tasks": {}}, "tasks"),
        ({"format": "inbox-export", "version": 1, "tasks": [7]}, "tasks[0]"),
        ([], "file"),
    ],
)
def test_a_document_that_is_not_an_export_this_release_reads_is_refused(document: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse(json.dumps(document))
    assert refused.value.field == field


def test_the_same_series_twice_in_one_file_is_refused(inbox: Inbox, clock: Clock) -> None:
    inbox.schedule("one", every="1h")
    document = export_document(inbox.engine, now=clock())
    document["tasks"].append(document["tasks"][0])
    with pytest.raises(InvalidInput) as refused:
        parse(json.dumps(document))
    assert refused.value.field == "tasks[1]"
    assert "twice" in refused.value.reason


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_a_task_started_by_events_listens_on_the_new_store(
    source: str, target: str, tmp_path: Path, clock: Clock
) -> None:
    with opened(source, tmp_path / "from", clock) as old:
        only_events = old.schedule("sort the mail", on=["mail.*"]).series_id
        mixed = old.schedule("digest", every="1h", on=["github.**"]).series_id
        document = json.dumps(export_document(old.engine, now=clock()))
    with opened(target, tmp_path / "to", clock) as new:
        import_checked(new.engine, parse(document), now=clock(), actor="cli")
        assert new.get(only_events).next_run is None and new.get(only_events).on == ["mail.*"]
        assert new.get(mixed).schedule == "every 1h or on github.**"
        assert new.emit("mail.received").matched == [only_events]
        assert new.emit("github.pr.opened").matched == [mixed]


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_tasks_after_others_run_after_them_on_the_new_store(
    source: str, target: str, tmp_path: Path, clock: Clock
) -> None:
    with opened(source, tmp_path / "from", clock) as old:
        up = old.schedule("fetch", every="1h", name="fetch").series_id
        down = old.schedule("digest", after=["fetch"], when="all_done").series_id
        document = json.dumps(export_document(old.engine, now=clock()))
    with opened(target, tmp_path / "to", clock) as new:
        import_checked(new.engine, parse(document), now=clock(), actor="cli")
        assert (new.get(down).after, new.get(down).when) == ([up], "all_done")
        assert [(e.upstream, e.downstream, e.when) for e in new.graph().edges] == [(up, down, "all_done")]
        end(new, new.run_now(up).id)
        [round_] = claim(new)
        assert round_.series_id == down and round_.content["data"]["upstream"][0]["series_id"] == up


def test_a_task_keeps_the_name_of_its_channel_but_channels_stay_behind(inbox: Inbox, clock: Clock) -> None:
    """A channel holds a secret: it is made again on the new store; the task still names it."""
    inbox.add_channel("phone", webhook="https://hooks.example.org/in", secret="do-not-export")
    inbox.set_session("main", deliver="phone")
    made = inbox.schedule("call mum", every="1d", deliver="phone")
    quiet = inbox.schedule("log it", every="1d", deliver="none")
    exported = json.dumps(export_document(inbox.engine, now=clock()))
    assert "do-not-export" not in exported and "hooks.example.org" not in exported
    with transaction(inbox.engine) as db:
        db.execute(text("DELETE FROM messages_in"))
    import_checked(inbox.engine, parse(exported), now=clock(), actor="cli")
    assert (inbox.get(made.series_id).deliver, inbox.get(quiet.series_id).deliver) == ("phone", "none")
