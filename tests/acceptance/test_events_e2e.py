"""Events end to end: a real ``inbox serve`` with process runners, the fake model server, and pre-scripts that
read the event and their state on standard input."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from inbox.store.engine import transaction
from inbox.store.trigger_tables import SeriesState
from tests.acceptance.served import Served

pytestmark = pytest.mark.slow

# Reads its input document, counts its runs in its state, and shows the model what it was given.
COUNTING = """#!/usr/bin/env python3
import json, os, sys
given = json.load(sys.stdin)
runs = (given["state"] or {}).get("runs", 0) + 1
seen = {"env_name": os.environ.get("INBOX_EVENT_NAME"), "event": given["event"], "state_before": given["state"]}
print(json.dumps({"wakeAgent": True, "data": seen, "state": {"runs": runs}}))
"""


def test_an_event_reaches_the_pre_script_and_the_model_and_the_state_reaches_the_next_run(
    served_sqlite: Served,
) -> None:
    served = served_sqlite
    made = served.inbox.schedule("Sort the new mail", on=["mail.*"], script=COUNTING)
    served.start_host()

    first = served.inbox.emit("mail.received", {"from": "ann@example.com"})
    assert first.matched == [made.series_id]
    [run] = served.wait_for_runs(made.series_id, 1)
    assert run.outcome == "completed", run.error
    prompt = str(served.fake.requests[-1].json["messages"][-1]["content"])
    assert "Sort the new mail" in prompt and "mail.received" in prompt and "ann@example.com" in prompt
    shown = json.loads(prompt.split("Data from the task's pre-script:\n", 1)[1])
    assert shown["env_name"] == "mail.received" and shown["state_before"] is None
    assert shown["event"] == {
        "id": first.id,
        "name": "mail.received",
        "data": {"from": "ann@example.com"},
        "session": None,
    }
    assert "started by the event 'mail.received'" in str(served.fake.requests[-1].json["messages"][0]["content"])

    second = served.inbox.emit("mail.sent", [1, 2])
    runs = served.wait_for_runs(made.series_id, 2)
    assert [r.outcome for r in runs] == ["completed", "completed"]
    shown = json.loads(str(served.fake.requests[-1].json["messages"][-1]["content"]).split("pre-script:\n", 1)[1])
    assert (
        shown["state_before"] == {"runs": 1} and shown["event"]["id"] == second.id and shown["env_name"] == "mail.sent"
    )
    with transaction(served.inbox.engine) as db:
        [kept] = db.exec(select(SeriesState)).all()
    assert (kept.series_id, kept.state) == (made.series_id, {"runs": 2})
    assert served.inbox.tasks()[0].next_run is None  # still waiting for the next event


def test_a_state_over_16_kib_is_a_script_error_and_the_old_state_stays(served_sqlite: Served) -> None:
    served = served_sqlite
    big = 'import json; print(json.dumps({"wakeAgent": False, "state": "x" * 20000}))'
    made = served.inbox.schedule("watch", on=["tick"], script=f"#!/usr/bin/env python3\n{big}\n")
    served.start_host()
    served.inbox.emit("tick")
    [run] = served.wait_for_runs(made.series_id, 1)
    assert run.outcome == "script_error" and "16 KiB" in (run.error or "") and "state" in (run.error or "")
    with transaction(served.inbox.engine) as db:
        assert db.exec(select(SeriesState)).all() == []
