"""What a batch of ended occurrences writes beside their own rows, set-based: their runs, their results in the
outbox, and the word to the tasks that run after them.

The host's own work ends this way, hundreds of rows per statement: reminders (inbox.store.reminders) and the plain
ends of the http tasks it runs itself (inbox.store.request_ends). The rows written are those ``end_occurrence``
writes for the same ends (endings.record_run, outbox.post_outbox, endings.tell_downstreams), which
tests/integration/test_reminder_batches.py and tests/integration/test_host_requests.py compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlmodel import Session

from inbox.enums import OutboxKind, Outcome
from inbox.ids import new_ids
from inbox.store.bulk import driver_instants, insert_driver_rows
from inbox.store.channels import decide, session_channels
from inbox.store.endings import tell_downstreams
from inbox.store.engine import DELIVERABLE
from inbox.store.graph import with_downstreams
from inbox.store.models import MAX_MODEL_OUTPUT_CHARS, MessageOut, Run, clip
from inbox.store.outbox import delivery_columns
from inbox.store.rounds import UpstreamEnding


class BatchEnd(NamedTuple):
    """One ended occurrence, as its run and outbox row are made from it."""

    id: str
    session: str
    text: str | None  # for the outbox (None: nothing goes there)
    series_id: str | None
    tries: int
    deliver: str | None
    outcome: Outcome = Outcome.COMPLETED
    started_at: datetime | None = None  # None: when it ended
    output: str | None = None  # kept as the run's output (runs.model_output)


_RUN_KEYS = (
    "id",
    "message_id",
    "series_id",
    "session",
    "attempt",
    "started_at",
    "ended_at",
    "outcome",
    "input_tokens",
    "output_tokens",
    "runner",
    "model_output",
)
_DELIVERY_KEYS = ("channel", "delivery", "attempts", "next_attempt_at")  # in the table's order: bound as they are
_OUTBOX_KEYS = ("id", "session", "kind", "text", "in_reply_to", "series_id", "created_at", *_DELIVERY_KEYS)


def _delivery(channel: str | None, *, now: datetime, at: object) -> tuple[object, ...]:
    """The delivery columns of a new outbox row (``delivery_columns``), its instant ``at`` as the driver takes it."""
    columns = delivery_columns(channel, now=now)
    if columns["next_attempt_at"] is not None:
        columns["next_attempt_at"] = at
    return tuple(columns[key] for key in _DELIVERY_KEYS)


def record_batch_ends(db: Session, ended: Sequence[BatchEnd], *, now: datetime, runner: str, kind: OutboxKind) -> None:
    """Each ended occurrence's run, and its text (when it has one) in its session's outbox as ``kind``, to be sent
    through its channel when it has one (inbox.store.channels)."""
    if not ended:
        return
    ids, instant = new_ids(2 * len(ended)), driver_instants(db)
    at = instant(now)
    runs = [
        (
            run_id,
            end.id,
            end.series_id,
            end.session,
            end.tries + 1,
            at if end.started_at is None else instant(end.started_at),
            at,
            end.outcome.value,
            0,
            0,
            runner,
            clip(end.output, MAX_MODEL_OUTPUT_CHARS),
        )
        for end, run_id in zip(ended, ids[::2], strict=True)
    ]
    posted = [(end, text_id) for end, text_id in zip(ended, ids[1::2], strict=True) if end.text is not None]
    defaults = session_channels(db, [end.session for end, _ in posted if end.deliver is None])
    channels = [decide(end.deliver, defaults.get(end.session)) for end, _ in posted]
    columns = {channel: _delivery(channel, now=now, at=at) for channel in set(channels)}
    keys: tuple[str, ...] = _OUTBOX_KEYS
    if columns.keys() == {None}:  # nothing to send: the table's defaults say so, at the cost of the plain path
        columns[None], keys = (), _OUTBOX_KEYS[: -len(_DELIVERY_KEYS)]
    texts = [
        (text_id, end.session, kind.value, end.text, end.id, end.series_id, at, *columns[channel])
        for (end, text_id), channel in zip(posted, channels, strict=True)
    ]
    if any(channel is not None for channel in columns):
        db.info[DELIVERABLE] = True
    insert_driver_rows(db, Run.__table__, _RUN_KEYS, runs)  # type: ignore[attr-defined]
    if texts:
        insert_driver_rows(db, MessageOut.__table__, keys, texts)  # type: ignore[attr-defined]
    # The tasks that run after these learn of each ending as end_occurrence tells them: one query finds them.
    waiting = with_downstreams(db, {end.series_id for end in ended if end.series_id})
    for end, run_id in zip(ended, ids[::2], strict=True):
        if end.series_id is not None and end.series_id in waiting:
            tell_downstreams(db, UpstreamEnding(end.series_id, end.id, run_id, end.outcome, now), now=now)
