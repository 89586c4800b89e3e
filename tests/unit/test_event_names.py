"""Event names and patterns: what is a name, what matches what."""

from __future__ import annotations

import pytest

from inbox.errors import InvalidInput
from inbox.event_names import check_data, check_key, check_name, check_pattern, check_patterns, head_of, matches


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("mail.received", "mail.received", True),
        ("mail.received", "mail.Received", False),  # case matters
        ("mail.*", "mail.received", True),
        ("mail.*", "mail", False),
        ("mail.*", "mail.in.spam", False),
        ("*.push", "github.push", True),
        ("*.push", "github.pr.push", False),
        ("github.**", "github.push", True),
        ("github.**", "github.pr.opened", True),
        ("github.**", "github", False),
        ("github.**", "githubx.push", False),
        ("**", "anything", True),
        ("**", "any.thing.at.all", True),
        ("a.*.c.**", "a.b.c.d.e", True),
        ("a.*.c.**", "a.b.c", False),
        ("a-b_c.1", "a-b_c.1", True),
    ],
)
def test_what_a_pattern_matches(pattern: str, name: str, expected: bool) -> None:
    assert matches(check_pattern(pattern), check_name(name)) is expected


@pytest.mark.parametrize("name", ["", ".", "a.", ".a", "a..b", "a b", "a/b", "mail.*", "é", "x" * 201])
def test_bad_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_name(name)
    assert refused.value.field == "name"


@pytest.mark.parametrize("pattern", ["", "a..b", "**.a", "a.**.b", "a*", "***", "a.*b"])
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_pattern(pattern)
    assert refused.value.field == "on"


def test_patterns_lose_repeats_and_are_limited() -> None:
    assert check_patterns(["a", "b", "a"]) == ["a", "b"]
    with pytest.raises(InvalidInput):
        check_patterns([])
    with pytest.raises(InvalidInput):
        check_patterns([f"p{i}" for i in range(21)])


def test_a_pattern_is_found_under_its_first_literal_word() -> None:
    assert head_of("mail.*") == "mail" and head_of("*.push") == "" and head_of("**") == ""


@pytest.mark.parametrize(
    "data", [float("nan"), {"a": {1, 2}}, "\x00", {"k\x00": 1}, "\udc80", "x" * (1 << 20)], ids=str
)
def test_data_the_store_cannot_keep_is_refused(data: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_data(data)
    assert refused.value.field == "data"


def test_data_with_an_escaped_backslash_u_is_kept() -> None:
    assert check_data({"text": "\\u0000 is how JSON writes NUL"})


@pytest.mark.parametrize("key", ["", " ", "a\nb", "x" * 201])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_key(key)
    assert refused.value.field == "key"
