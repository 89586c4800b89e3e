"""How listings page (``inbox tasks|runs|outbox``, ``GET /v1/tasks``, ``.../runs``, ``/v1/outbox``): the one place
for the rule.

A page is at most :data:`MAX_PAGE` rows (:data:`DEFAULT_PAGE` unless asked), read by walking an index from the
sort key of the previous page's last row (keyset pagination, never an offset), so the first page and the
thousandth cost the same whatever the store holds. That key travels as an opaque *cursor*: base64url of a small
JSON list naming the listing and the key, with a checksum, so an edited or truncated cursor is refused (422
naming ``cursor``) rather than read as some other position. It is not signed and holds nothing secret: only
where a walk stands in a listing the caller may read anyway.

"How many more": counting the rows after a page costs what reading them costs (an index entry and, for the
filters the index does not hold, a row each), so a count stops at :data:`COUNT_CAP` and says "1,000+ more" beyond
it: about what reading one more page costs, whatever the store holds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from inbox import validation as check
from inbox.errors import InvalidInput

DEFAULT_PAGE = 100
MAX_PAGE = 1_000
COUNT_CAP = 1_000
_CHECK_BYTES = 6

T = TypeVar("T")
U = TypeVar("U")
Key = tuple[str, ...]  # a row's sort key, each part as text (instants in ISO 8601)


@dataclass(frozen=True)
class Count:
    """How many rows follow a page: ``value`` exactly, or (``exact`` false) at least ``value``."""

    value: int
    exact: bool = True

    def __str__(self) -> str:
        return f"{self.value:,}" if self.exact else f"{self.value:,}+"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing: its rows, the cursor of the next page (None on the last), and, when asked for, how
    many rows follow it."""

    rows: list[T]
    next_cursor: str | None = None
    more: Count | None = None

    def map(self, view: Callable[[T], U]) -> Page[U]:
        return Page([view(row) for row in self.rows], self.next_cursor, self.more)


def capped(found: int) -> Count:
    """A count that stopped after ``COUNT_CAP + 1`` rows."""
    return Count(COUNT_CAP, exact=False) if found > COUNT_CAP else Count(found)


def encode_cursor(listing: str, key: Key) -> str:
    payload = json.dumps([listing, *key], separators=(",", ":")).encode()
    digest = hashlib.blake2b(payload, digest_size=_CHECK_BYTES).digest()
    return base64.urlsafe_b64encode(digest + payload).decode().rstrip("=")


def decode_cursor(cursor: str | None, listing: str, *, parts: int) -> Key | None:
    """The key a cursor of ``listing`` holds (``parts`` strings), None for no cursor; anything else is refused."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != cursor:
            raise ValueError("not as encoded")  # e.g. other bits where the last character ends the bytes
        digest, payload = raw[:_CHECK_BYTES], raw[_CHECK_BYTES:]
        if hashlib.blake2b(payload, digest_size=_CHECK_BYTES).digest() != digest:
            raise ValueError("checksum")
        found = json.loads(payload)
    except (ValueError, binascii.Error, UnicodeError):
        found = None
    if (
        not isinstance(found, list)
        or len(found) != parts + 1
        or found[0] != listing
        or not all(isinstance(part, str) for part in found[1:])
    ):
        raise refused()
    return tuple(found[1:])


def instant(text: str) -> datetime:
    """A cursor's instant (a checked cursor holds only what :func:`encode_cursor` was given)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise refused()
    return value


def refused() -> InvalidInput:
    return InvalidInput("cursor", "is not a cursor of this listing; use the one the previous page gave")


def read(
    fetch: Callable[[Key | None, int], tuple[list[T], Key | None]],
    *,
    listing: str,
    start: Key | None,
    limit: int | None,
    count: Callable[[Key], Count] | None = None,
) -> Page[T]:
    """The first ``limit`` rows of a listing after the key ``start`` (every row for None), read a page of at most
    :data:`MAX_PAGE` at a time. ``fetch(after, size)`` reads one page: its rows, and the key of its last row when
    more follow. ``count``, when given, says how many rows follow the last one returned."""
    check.positive_int(limit, field="limit")
    rows: list[T] = []
    key = start
    while True:
        found, last = fetch(key, MAX_PAGE if limit is None else min(MAX_PAGE, limit - len(rows)))
        rows += found
        if last is None:
            return Page(rows, None, Count(0) if count else None)
        key = last
        if limit is not None and len(rows) >= limit:
            return Page(rows, encode_cursor(listing, key), count(key) if count else None)
