"""Ids are ULIDs: 26 Crockford base32 digits of (milliseconds, randomness), sorting in creation order."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st
from pytest import MonkeyPatch

from inbox import ids

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _digits(value: int, length: int) -> str:
    out = ""
    for _ in range(length):
        value, digit = divmod(value, 32)
        out = CROCKFORD[digit] + out
    return out


def _decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + CROCKFORD.index(char)
    return value


def test_ids_made_in_a_burst_are_distinct_and_sort_in_creation_order() -> None:
    made = [ids.new_id() for _ in range(20_000)]  # many per millisecond
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(ids.looks_like_id(i) for i in made[::500])


def test_an_id_starts_with_its_creation_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    made = ids.new_id()
    after = time.time_ns() // 1_000_000
    assert before <= _decode(made[:10]) <= after


def test_the_ulid_specification_example_timestamp() -> None:
    assert ids.encode(1469918176385, 0)[:10] == "01ARYZ6S41"


@given(ms=st.integers(0, 2**48 - 1), rand=st.integers(0, 2**80 - 1))
def test_the_encoding_is_time_then_randomness_digit_by_digit(ms: int, rand: int) -> None:
    assert ids.encode(ms, rand) == _digits(ms, 10) + _digits(rand, 16)


def test_ids_made_in_one_go_are_those_made_one_by_one_would_be() -> None:
    before = ids.new_id()
    batch = ids.new_ids(1000)
    after = ids.new_id()
    assert before < batch[0] and batch[-1] < after
    assert batch == sorted(batch) and len(set(batch)) == 1000
    stamp = _decode(batch[0][:10])
    first = _decode(batch[0][10:])
    for offset, made in enumerate(batch):  # one millisecond, consecutive randomness, as one by one in a burst
        assert made == ids.encode(stamp, first + offset)
    assert ids.new_ids(0) == []


def test_a_batch_that_carries_into_the_high_random_bits_encodes_each_id_whole(monkeypatch: MonkeyPatch) -> None:
    ms, first = 1_764_000_000_000, (1 << 40) - 3  # the fourth id carries into bit 40
    monkeypatch.setattr(ids, "_reserve", lambda count: (ms, first))
    assert ids.new_ids(6) == [ids.encode(ms, first + offset) for offset in range(6)]
