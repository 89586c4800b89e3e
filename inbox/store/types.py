"""Column types shared by the tables.

Instants: aware UTC ``datetime`` in Python, naive UTC in the database (``TIMESTAMP WITHOUT TIME ZONE`` on
PostgreSQL, ISO text on SQLite, which sorts and compares correctly). One representation everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from inbox.task_rows import FOREVER as FOREVER
from inbox.task_rows import is_forever as is_forever


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"instants must be timezone-aware datetimes, got {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """The usual conversion, remembering its last result: a batch binds one instant (its "now") to every row
        of a multi-row insert, and converting and formatting it anew for each row was a tenth of the time it
        takes the host to end a batch of reminders."""
        convert = super().bind_processor(dialect)
        if convert is None:
            return None
        last: tuple[object, Any] = (None, None)

        def process(value: Any) -> Any:
            nonlocal last
            seen, converted = last  # one tuple read: safe when several threads share the processor
            if value is seen and value is not None:
                return converted
            result = convert(value)
            last = (value, result)  # holding ``value`` keeps its id from being reused by another object
            return result

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


Clock = Callable[[], datetime]  # what reads the time: utcnow, or a test's fixed clock


def utcnow() -> datetime:
    return datetime.now(UTC)
