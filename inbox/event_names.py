"""Event names and the patterns tasks listen with: pure functions, no store.

An event name is dotted words (``mail.received``, ``github.push``): each word is letters, digits, ``_`` or ``-``;
case matters. A pattern is the same with wildcards as whole words: ``*`` stands for exactly one word, ``**`` (last
word only) for one or more words: ``mail.*`` matches ``mail.received`` but not ``mail`` nor ``mail.in.spam``;
``github.**`` matches ``github.push`` and ``github.pr.opened`` but not ``github``; ``**`` alone matches every event.

A pattern's *head* is its first word when that word is literal, else ``""``: an event can only match patterns
whose head is its own first word or ``""``, which is how the store finds the few candidates among many listening
tasks without looking at the others (inbox.store.triggers).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from inbox.errors import InvalidInput
from inbox.validation import storable

MAX_NAME = 200
MAX_PATTERNS = 20  # per task
_WORD = r"[A-Za-z0-9_-]+"
_NAME = re.compile(rf"{_WORD}(?:\.{_WORD})*")
_PATTERN_WORD = re.compile(rf"{_WORD}|\*|\*\*")
ANY_HEAD = ""  # the head of a pattern whose first word is a wildcard


def _shape(kind: str) -> str:
    what = "dotted words such as mail.received"
    if kind == "pattern":
        what += "; * stands for one word, ** (last) for the rest: mail.*, github.**"
    return what


def check_name(value: str, *, field: str = "name") -> str:
    """An event name as given, or :class:`InvalidInput` naming ``field``."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, "must not be empty")
    if len(value) > MAX_NAME:
        raise InvalidInput(field, f"is {len(value)} characters; the limit is {MAX_NAME}")
    if not _NAME.fullmatch(value):
        raise InvalidInput(field, f"{value[:80]!r} is not an event name: {_shape('name')}")
    return value


def check_pattern(value: str, *, field: str = "on") -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, "a pattern must not be empty")
    if len(value) > MAX_NAME:
        raise InvalidInput(field, f"pattern is {len(value)} characters; the limit is {MAX_NAME}")
    words = value.split(".")
    if not all(_PATTERN_WORD.fullmatch(word) for word in words):
        raise InvalidInput(field, f"{value[:80]!r} is not an event pattern: {_shape('pattern')}")
    if "**" in words[:-1]:
        raise InvalidInput(field, f"{value[:80]!r}: ** may only be the last word (it stands for the rest)")
    return value


def check_patterns(values: list[str], *, field: str = "on") -> list[str]:
    """Patterns as given, without repeats, in their first order."""
    if not values:
        raise InvalidInput(field, "give at least one event pattern")
    if len(values) > MAX_PATTERNS:
        raise InvalidInput(field, f"{len(values)} patterns; a task listens to at most {MAX_PATTERNS}")
    return list(dict.fromkeys(check_pattern(value, field=field) for value in values))


def head_of(pattern: str) -> str:
    first = pattern.split(".", 1)[0]
    return ANY_HEAD if first in ("*", "**") else first


def tail_of(pattern: str) -> str:
    """A pattern's last word when it is literal, else ``""``: an event can only match a pattern whose tail is its
    own last word or ``""``."""
    last = pattern.rsplit(".", 1)[-1]
    return ANY_HEAD if last in ("*", "**") else last


def name_head(name: str) -> str:
    return name.split(".", 1)[0]


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    words = pattern.split(".")
    parts = [r"[^.]+" if word == "*" else re.escape(word) for word in words if word != "**"]
    regex = r"\.".join(parts)
    if words[-1] == "**":
        regex = rf"{regex}(?:\.[^.]+)+" if parts else r"[^.]+(?:\.[^.]+)*"
    return re.compile(regex)


def matches(pattern: str, name: str) -> bool:
    """Whether the event ``name`` matches ``pattern`` (both already checked)."""
    return _compiled(pattern).fullmatch(name) is not None


MAX_DATA_BYTES = 1 << 20  # an event's data, as JSON (a webhook's body may be as large)
MAX_KEY = 200


def check_data(value: Any, *, field: str = "data", limit: int = MAX_DATA_BYTES) -> Any:
    """Data both stores can keep as JSON, at most ``limit`` bytes serialized."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError) as exc:  # not JSON (NaN, a set, a cycle)
        raise InvalidInput(field, f"is not JSON: {str(exc)[:200]}") from None
    except UnicodeEncodeError as exc:
        raise InvalidInput(field, f"is not valid UTF-8 text (at character {exc.start + 1})") from None
    except RecursionError:
        raise InvalidInput(field, "is nested too deeply") from None
    if "\\u0000" in text and _has_nul(value):
        raise InvalidInput(field, "contains a NUL character, which the store cannot keep")
    if size > limit:
        raise InvalidInput(field, f"is {size} bytes as JSON; the limit is {limit // 1024} KiB")
    return value


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def parse_data(text: str, *, field: str = "data") -> Any:
    """``--data JSON`` as a value."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(field, f"is not JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput(field, "is nested too deeply") from None
    return check_data(value, field=field)


def check_key(value: str | None, *, field: str = "key") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > MAX_KEY:
        raise InvalidInput(field, f"is {len(value)} characters; the limit is {MAX_KEY}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(field, "must not contain control characters")
    return storable(value, field=field)
