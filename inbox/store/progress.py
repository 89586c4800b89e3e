"""How far a run has come: the latest ``progress`` (0..1 and a note) a worker or the model reported, kept on the
occurrence's row (``content["progress"]``) for ``inbox show``, the API and the dashboard. A follow-up occurrence
starts without one (inbox.store.series.OWN_TO_THE_ROW)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from inbox.store.models import MessageIn
from inbox.task_rows import progress_of


def record(row: MessageIn, *, fraction: float, note: str, now: datetime) -> None:
    """Keep ``fraction`` and ``note`` as ``row``'s latest progress (in the caller's transaction)."""
    row.content = {**row.content, "progress": {"fraction": fraction, "note": note, "at": now.isoformat()}}
    row.updated_at = now


def latest(row: MessageIn) -> dict[str, Any] | None:
    """``row``'s latest progress report ({fraction, note, at}), or None."""
    return progress_of(row.content)
