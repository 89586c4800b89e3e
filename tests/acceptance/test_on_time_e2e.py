"""End to end through a real ``inbox serve`` and its process runner: a task is claimed a little before its due time
(inbox.defaults.CLAIM_AHEAD), yet no run starts before it is due, and each runs once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from tests.acceptance.served import Served

pytestmark = pytest.mark.slow


def test_no_task_starts_before_its_due_time(served: Served) -> None:
    served.start_host()
    warm = served.inbox.send("warm up")  # the runner is up and waiting on its claim, as a busy host's would be
    served.wait_for("the warm-up reply", lambda: [o for o in served.inbox.outbox() if o.in_reply_to == warm.id])
    first = datetime.now(UTC) + timedelta(seconds=1)
    dues = [first + timedelta(milliseconds=150 * i + 7 * i) for i in range(8)]
    ids = [
        served.inbox.schedule(f"task {i}", at=due.isoformat(timespec="microseconds")).id for i, due in enumerate(dues)
    ]
    runs = {message_id: served.wait_for_runs(message_id, 1) for message_id in ids}
    time.sleep(0.5)  # a second start, if there were one, would show here
    with transaction(served.inbox.engine) as db:
        due_at = {message_id: db.get(MessageIn, message_id).process_after for message_id in ids}  # type: ignore[union-attr]
    for message_id in ids:
        [run] = served.runs(message_id)
        assert run.outcome == "completed"
        assert run.started_at >= due_at[message_id], f"{message_id} started before its due time"
    assert len(runs) == len(ids)
