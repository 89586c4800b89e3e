"""Checks on user input that are not schedules: each failure names the field and writes nothing.

A task's fields run theirs through the one model of a task (:mod:`inbox.task_fields`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from inbox.errors import InvalidInput

_SESSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}")
_TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")
MAX_TEXT = 100_000
MAX_SCRIPT = 64 * 1024
MAX_RETRIES = 10
MAX_RUNS = 1_000_000_000  # the store keeps counts as 32-bit integers
MAX_UPSTREAMS = 20  # tasks one task runs after
_TAG = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
MAX_TAGS = 20  # tags of one task
PRIORITIES = range(-10, 11)

E = TypeVar("E", bound=StrEnum)


def storable(value: str, *, field: str) -> str:
    """Text both stores can hold and every terminal can print: no NUL (PostgreSQL refuses it) and no lone
    surrogate (bytes that were not UTF-8, as they reach ``sys.argv``, or a ``"\\udc80"`` escape in JSON)."""
    if "\x00" in value:
        raise InvalidInput(field, f"contains a NUL character (at character {value.index(chr(0)) + 1})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(field, f"is not valid UTF-8 text (at character {exc.start + 1})") from None
    return value


def filter_text(value: str | None, *, field: str) -> str | None:
    """A value a listing is filtered by: anything storable (one that matches nothing lists nothing)."""
    return None if value is None else storable(value, field=field)


def session_name(value: str) -> str:
    if not _SESSION.fullmatch(value):
        raise InvalidInput(
            "session", f"{value!r} must be 1-200 letters, digits or _ . : @ - and start with a letter or digit"
        )
    return value


def token_name(value: str) -> str:
    if not _TOKEN_NAME.fullmatch(value):
        raise InvalidInput(
            "name", f"{value!r} must be 1-64 letters, digits or _ . : @ - and start with a letter or digit"
        )
    return value


def text(value: str, *, field: str) -> str:
    storable(value, field=field)
    if not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > MAX_TEXT:
        raise InvalidInput(field, f"is {len(value)} characters; the limit is {MAX_TEXT}")
    return value


def upstreams(values: list[str], *, allow_none: bool = False) -> list[str]:
    """The tasks a task runs after (``after``), as given: ids or names, each named once; ``[]`` only where
    ``allow_none`` (a change that removes them). Whether each exists is the store's to say."""
    if not values and not allow_none:
        raise InvalidInput("after", "give at least one task to run after")
    if len(values) > MAX_UPSTREAMS:
        raise InvalidInput("after", f"{len(values)} tasks; a task runs after at most {MAX_UPSTREAMS}")
    for value in values:
        if not storable(value, field="after").strip():
            raise InvalidInput("after", "a task id or name must not be empty")
        if len(value) > 200:
            raise InvalidInput("after", f"{value[:40]!r}… is longer than any task id or name")
    return list(dict.fromkeys(value.strip() for value in values))


def name(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > 200:
        raise InvalidInput("name", "must be at most 200 characters")
    return storable(value, field="name").strip() or None


def script(value: str | None) -> str | None:
    if value is None:
        return None
    if len(storable(value, field="script").encode()) > MAX_SCRIPT:
        raise InvalidInput("script", f"is larger than {MAX_SCRIPT // 1024} KiB")
    return value


def choice(enum: type[E], value: str | E | None, *, field: str) -> E | None:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidInput(field, f"{value!r} is not one of {allowed}") from None


def positive_int(value: int | None, *, field: str, maximum: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(field, f"{value!r} must be a whole number of at least 1")
    if maximum is not None and value > maximum:
        raise InvalidInput(field, f"{value} is more than the limit of {maximum}")
    return value


def retries(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRIES:
        raise InvalidInput("retries", f"{value!r} must be a whole number from 0 to {MAX_RETRIES}")
    return value


def timeout(value: str | None) -> timedelta | None:
    # The schedules (cronsim, the zones) load with the first command that reads a duration: ``inbox tasks`` reads
    # none, and checks its options here (inbox.cli.quick_tasks).
    from inbox.schedules import parse_duration

    return None if value is None else parse_duration(value, field="timeout")


def model_name(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip() or len(value) > 200 or any(c.isspace() for c in value):
        raise InvalidInput("model", f"{value!r} is not a model name (1-200 characters, no spaces)")
    return storable(value, field="model")


def tag(value: str, *, field: str = "tag") -> str:
    """A tag's name: lowercase, so ``Backup`` and ``backup`` are never two limits (docs/limits.md)."""
    if not isinstance(value, str) or not _TAG.fullmatch(value):
        raise InvalidInput(
            field, f"{value!r} must be 1-64 lowercase letters, digits or _ . : - and start with a letter or digit"
        )
    return value


def tag_filter(value: str | None) -> str | None:
    """A tag a listing is filtered by (``--tag``), or None."""
    return None if value is None else tag(value)


def tags(values: list[str], *, field: str = "tags") -> list[str]:
    """A task's tags, each named once, in the order given; ``[]``: none."""
    if len(values) > MAX_TAGS:
        raise InvalidInput(field, f"{len(values)} tags; a task has at most {MAX_TAGS}")
    return list(dict.fromkeys(tag(value, field=field) for value in values))


def priority(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in PRIORITIES:
        raise InvalidInput("priority", f"{value!r} must be a whole number from -10 to 10")
    return value


def is_file(path: Path) -> bool:
    """Whether ``path`` names a regular file. A name longer than the file system allows names none: ``Path.is_file``
    raises ``OSError`` (ENAMETOOLONG) for it, which a command showed as a traceback instead of "no such file"."""
    try:
        return path.is_file()
    except OSError:
        return False
