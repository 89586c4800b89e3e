"""Sortable identifiers.

Ids are ULIDs (26 Crockford base32 characters: 48 bits of milliseconds, 80 random bits), monotonic within one
process so that ids made in the same millisecond still sort in creation order. Sorting by id sorts by creation.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Every pair of digits, indexed by the 10 bits it stands for: an id is 13 lookups (ids are made per row on
# the hot paths; a digit-by-digit loop cost about 20 µs an id, this well under 1 µs).
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]
_LOW_40 = (1 << 40) - 1
_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


def _reserve(count: int) -> tuple[int, int]:
    """(milliseconds, first random part) of ``count`` ids in a row, each greater than any made before."""
    global _last_ms, _last_rand
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            rand = _last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom so increments never overflow
        _last_ms, _last_rand = ms, rand + count - 1
    return ms, rand


def new_id() -> str:
    """A new ULID string, strictly greater than any previous one from this process."""
    return encode(*_reserve(1))


def new_ids(count: int) -> list[str]:
    """``count`` new ids in increasing order, as ``new_id`` would make them one by one."""
    if count <= 0:
        return []
    ms, rand = _reserve(count)
    # A batch shares its milliseconds (the first 10 digits) and, but for a carry, the high 40 random bits (the
    # next 8): each id is then only its low 8 digits, half the work of encoding every id whole.
    head, made, high_part, high = encode(ms, 0)[:10], [], -1, ""
    for value in range(rand, rand + count):
        if value >> 40 != high_part:
            high_part = value >> 40
            high = head + _four_pairs(high_part)
        made.append(high + _four_pairs(value & _LOW_40))
    return made


def _four_pairs(value: int) -> str:
    pairs = _PAIRS
    return pairs[value >> 30 & 1023] + pairs[value >> 20 & 1023] + pairs[value >> 10 & 1023] + pairs[value & 1023]


def encode(ms: int, rand: int) -> str:
    """48 bits of milliseconds then 80 random bits as 26 base32 digits (130 bits, the top two zero)."""
    value, pairs = ms << 80 | rand, _PAIRS
    return "".join(
        [
            pairs[value >> 120 & 1023],
            pairs[value >> 110 & 1023],
            pairs[value >> 100 & 1023],
            pairs[value >> 90 & 1023],
            pairs[value >> 80 & 1023],
            pairs[value >> 70 & 1023],
            pairs[value >> 60 & 1023],
            pairs[value >> 50 & 1023],
            pairs[value >> 40 & 1023],
            pairs[value >> 30 & 1023],
            pairs[value >> 20 & 1023],
            pairs[value >> 10 & 1023],
            pairs[value & 1023],
        ]
    )


def looks_like_id(text: str) -> bool:
    return len(text) == 26 and all(c in _ALPHABET for c in text.upper())
