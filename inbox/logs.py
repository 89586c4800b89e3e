"""How the host logs: a text line for a person at a terminal, or, with ``INBOX_LOG_FORMAT=json``, one JSON object
per line for a log collector (journald, Loki, Vector), carrying the ids of what the line is about.

A line names what it is about through ``extra=context(row)``: ``task`` (the series id), ``session``,
``message_id`` and, for a recorded attempt, ``run_id`` and ``outcome``. The text form keeps saying them in words.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

CONTEXT_FIELDS = ("task", "session", "message_id", "run_id", "outcome", "attempt")


class _Row(Protocol):
    id: str
    series_id: str | None
    session: str


def context(row: _Row, **more: Any) -> dict[str, Any]:
    """The ids a log line about ``row`` carries in the JSON form (pass as ``extra=``)."""
    return {"task": row.series_id, "session": row.session, "message_id": row.id, **more}


class JsonLines(logging.Formatter):
    """One JSON object per record: ``at`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and the ids."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: int, text_format: str, *, form: str) -> None:
    """Log to stderr at ``level``, as text lines of ``text_format`` or as JSON lines (``form``: text | json)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if form == "json" else logging.Formatter(text_format))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
