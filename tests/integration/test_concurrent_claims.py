"""Claims made at the same moment by two runners (two hosts on one store), on every backend.

Found by the chaos suite on PostgreSQL: a run-now occurrence and the scheduled one of the same series, both due,
were claimed by two runners at once, each transaction checking "no row of this series is running" before the
other had committed, so the two ran side by side.
"""

from __future__ import annotations

import threading

from sqlmodel import select

from inbox import Inbox
from inbox.enums import Status
from inbox.store.claims import claim_due
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from tests.conftest import Clock

WAIT_S = 10.0


def test_two_claims_at_once_never_start_two_occurrences_of_one_series(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("slow job", every="1m")
    clock.advance(minutes=1)
    extra = inbox.run_now(task.id)  # now two rows of the series are due: the scheduled one and the run-now
    second_claim: list[str] = []

    def other_runner() -> None:
        with transaction(inbox.engine) as db:
            second_claim.extend(row.id for row in claim_due(db, owner="runner-2", now=clock.now, limit=10))

    with transaction(inbox.engine) as db:
        first_claim = [row.id for row in claim_due(db, owner="runner-1", now=clock.now, limit=1)]
        other = threading.Thread(target=other_runner)
        other.start()
        other.join(timeout=2.0)  # PostgreSQL answers at once; SQLite waits for this transaction's write lock
    other.join(timeout=WAIT_S)
    assert not other.is_alive()

    with transaction(inbox.engine) as db:
        rows = db.exec(select(MessageIn).where(MessageIn.series_id == task.series_id)).all()
    running = sorted(row.id for row in rows if row.status == Status.RUNNING)
    assert len(first_claim) == 1 and first_claim[0] in {task.id, extra.id}
    assert second_claim == []
    assert running == first_claim
