"""Sortable identifiers.

Ids are ULIDs (26 Crockford base32 characters: 48 bits of milliseconds, 80 random bits), monotonic within one
process so that ids made in the same millisecond still sort in creation order. Sorting by id sorts by creation.
"""

from __future__ import annotations

import base64
import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# base64's base32 alphabet, digit for digit, to Crockford's: lets C code do the encoding (ids are made per row
# on the hot paths, and a Python digit loop cost about 20 µs an id).
_FROM_RFC4648 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())
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
    """``count`` new ids in increasing order, as ``new_id`` would make them one by one, encoded in one go."""
    if count <= 0:
        return []
    ms, rand = _reserve(count)
    # Each id padded to 160 bits (32 digits, a whole number of base32 groups), so all encode as one bytes string.
    stamp = ms << 80
    packed = b"".join(((stamp | rand + i) << 30).to_bytes(20, "big") for i in range(count))
    digits = base64.b32encode(packed).translate(_FROM_RFC4648).decode()
    return [digits[i : i + 26] for i in range(0, 32 * count, 32)]


def encode(ms: int, rand: int) -> str:
    """48 bits of milliseconds then 80 random bits as 26 base32 digits (130 bits, the top two zero)."""
    packed = ((ms << 80 | rand) << 6).to_bytes(17, "big")  # so that base32's first 26 digits are exactly those
    return base64.b32encode(packed)[:26].translate(_FROM_RFC4648).decode()


def looks_like_id(text: str) -> bool:
    return len(text) == 26 and all(c in _ALPHABET for c in text.upper())
