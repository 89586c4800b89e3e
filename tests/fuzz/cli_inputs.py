"""Strategies for what people type after a flag: near misses of each grammar, and anything at all.

Each strategy mixes values that are valid (so the command really runs and writes), values one edit away from
valid (the interesting rejections), and arbitrary text, including the undecodable bytes that reach Python's
``sys.argv`` as lone surrogates (``os.fsdecode``) when a shell passes bytes that are not UTF-8.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from zoneinfo import available_timezones

from hypothesis import strategies as st

# argv cannot hold NUL; everything else can reach the command.
_ARGV_CHARS = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])
_MARKUP = st.sampled_from(["[/]", "[bold]", "[red]x[/red]", "[link=x]", "\\[", "[", "]", ":smile:", "%s", "{0}"])


def _argv_bytes(raw: bytes) -> str:
    return os.fsdecode(raw.replace(b"\x00", b""))


anything = st.one_of(
    st.text(_ARGV_CHARS, max_size=30),
    st.binary(max_size=12).map(_argv_bytes),
    _MARKUP,
    st.sampled_from(["", " ", "\t", "\n", "-", "--", "-1", "0", "None", "null", "true", "💥", "\u202e", "\r\n"]),
)


def _mangled(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid value with a piece of junk spliced in at some position, or cut short."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        value = draw(valid)
        cut = draw(st.integers(0, len(value)))
        if draw(st.booleans()):
            return value[:cut]
        return value[:cut] + draw(st.one_of(anything, _MARKUP)) + value[cut:]

    return build()


def _one_of_valid_near_junk(valid: st.SearchStrategy[str], *edges: str) -> st.SearchStrategy[str]:
    """Valid values, the edges of the grammar (drawn often, as bugs live there), near misses, junk."""
    return st.one_of(valid, st.sampled_from(edges or ("",)), _mangled(valid), anything)


# -- durations: 30s 5m 2h 1d 1w 1h30m --------------------------------------------------------------------------
_NUMBER = st.one_of(
    st.integers(0, 120).map(str),
    st.integers(0, 10**30).map(str),
    st.sampled_from(["-1", "+1", "1.5", "1e3", "0x10", "007", "١٢", "²", "1_0"]),
)
_UNIT = st.sampled_from(["s", "m", "h", "d", "w", "S", "M", "H", "D", "W", "ms", "y", "min", "sec", ""])
_PART = st.tuples(_NUMBER, st.sampled_from(["", " "]), _UNIT).map("".join)
valid_duration = st.builds(lambda n, u: f"{n}{u}", st.integers(1, 10_000), st.sampled_from("smhdw"))
duration = _one_of_valid_near_junk(
    st.one_of(
        valid_duration, st.lists(_PART, min_size=1, max_size=4).map(" ".join), st.lists(_PART, max_size=4).map("".join)
    ),
    *("36500d", "36501d", "5214w", "5215w", "99999999999d", "142857143w", "1" + "0" * 30 + "s", "0s", "0m0s"),
)

# -- instants: ISO 8601, naive or with an offset ------------------------------------------------------------------
_OFFSET = st.one_of(
    st.just(""),
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "+14:00", "-12:00", "+23:59", "+24:00", "+0530", "UTC"]),
    st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
        lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02}:{abs(m) % 60:02}"
    ),
)
_SPEC = st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds", "hours", "auto"])
_SOON = datetime.now(UTC).replace(tzinfo=None)
_WHEN = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.datetimes(min_value=_SOON + timedelta(days=1), max_value=_SOON + timedelta(days=3650)),
    st.sampled_from([datetime(9999, 12, 31, 23, 59, 59), datetime(1, 1, 1), datetime(2038, 1, 19, 3, 14, 8)]),
)
valid_instant = st.builds(lambda when, spec, off: when.isoformat(timespec=spec) + off, _WHEN, _SPEC, _OFFSET)
instant = _one_of_valid_near_junk(
    st.one_of(
        valid_instant,
        st.builds(lambda when, sep: when.isoformat(sep=sep), _WHEN, st.sampled_from([" ", "t", "_"])),
        st.builds(lambda when: when.date().isoformat(), _WHEN),
        st.sampled_from(["now", "tomorrow", "2026-02-30T09:00", "2026-13-01", "2026-W05-2", "20261201T0900", "T09:00"]),
    ),
    *("9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00+01:00"),
    *("0001-01-01", "2125-01-01T00:00Z", "2999-01-01T00:00", "2031-03-30T02:30", "1970-01-01T00:00Z"),
)

# -- cron: 5 fields, names, steps, ranges, lists, aliases ---------------------------------------------------------
_ATOM = st.one_of(
    st.sampled_from(["*", "?", "L", "W", "5W", "L-3", "1#2", "MON", "mon-fri", "JAN", "dec", "SUN-SAT", "H"]),
    st.integers(-1, 70).map(str),
    st.integers(0, 10**20).map(str),
)
_FIELD = st.one_of(
    _ATOM,
    st.builds(lambda a, b: f"{a}-{b}", _ATOM, _ATOM),
    st.builds(lambda a, n: f"{a}/{n}", _ATOM, st.integers(-1, 100)),
    st.lists(_ATOM, min_size=2, max_size=4).map(",".join),
)
valid_cron = st.sampled_from(
    ["* * * * *", "0 9 * * 1-5", "*/15 * * * *", "30 2 * * *", "0 0 1 1 *", "0 9 29 2 *", "@daily", "@hourly"]
)
cron = _one_of_valid_near_junk(
    st.one_of(
        valid_cron,
        st.lists(_FIELD, min_size=4, max_size=7).map(" ".join),
        st.lists(_FIELD, min_size=5, max_size=5).map(" ".join),
        st.sampled_from(["@reboot", "@DAILY", "@every 5m", "0 9 31 2 *", "0 9 30 2 *", "0 0 31 4,6,9,11 *", "@"]),
    ),
    ",".join(str(minute % 60) for minute in range(100)) + " * * * *",  # longer than the store's column
    ",".join(str(minute) for minute in range(0, 60, 2)) + " 1,2,3,4,5,6,7,8,9,10,11,12 * * *",
    *("0 0 29 2 1", "59 23 31 12 *", "*/0 * * * *", "0-59/61 * * * *", "0 0 * * 7", "0 0 * * 8", "1-0 * * * *"),
)

# -- timezones --------------------------------------------------------------------------------------------------
_ZONES = sorted(available_timezones())
valid_zone = st.integers(0, len(_ZONES) - 1).map(_ZONES.__getitem__)  # a short repr, unlike sampled_from
zone = _one_of_valid_near_junk(
    st.one_of(
        valid_zone,
        valid_zone.map(str.lower),
        valid_zone.map(lambda z: ":" + z),
        valid_zone.map(lambda z: "/usr/share/zoneinfo/" + z),
        st.sampled_from(
            [
                "UTC+1",
                "GMT-3",
                "Europe",
                "Europe/",
                "America/",
                "/",
                "../etc/passwd",
                "Europe/../UTC",
                "posixrules",
                "localtime",
                "Factory",
                "right/UTC",
                "posix/UTC",
                "zone.tab",
                "tzdata.zi",
                "leapseconds",
                "EST5EDT",
                "CET-1CEST",
                "/etc/localtime",
                "//",
                ".",
                "..",
                "UTC\n",
                " UTC ",
            ]
        ),
    )
)

# -- whole numbers, names, sessions -----------------------------------------------------------------------------
whole_number = _one_of_valid_near_junk(
    st.one_of(
        st.integers(-5, 20).map(str),
        st.integers(-(10**25), 10**25).map(str),
        st.sampled_from(["1_000", " 5", "5 ", "+5", "-0", "1e3", "1.0", "٣", "0x1f"]),
    ),
    *(str(2**31 - 1), str(2**31), str(2**63 - 1), str(2**63), str(10**25), "1000000000", "1000000001", "-1", "0"),
)
_SESSION_LIKE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,210}", fullmatch=True)
session = _one_of_valid_near_junk(st.one_of(st.sampled_from(["main", "work", "a", "x:y@z"]), _SESSION_LIKE))
name = st.one_of(anything, _MARKUP, st.text(_ARGV_CHARS, min_size=190, max_size=230), st.just("daily report"))
prompt = st.one_of(anything, _MARKUP, st.text(_ARGV_CHARS, min_size=1, max_size=200), st.just("water the plants"))
choice = _one_of_valid_near_junk(st.sampled_from(["once", "skip", "all", "session", "series", "fresh", "ONCE"]))

# -- events: names, patterns, data, keys --------------------------------------------------------------------------
_WORD = st.one_of(
    st.sampled_from(["mail", "received", "github", "push", "a", "x-y_z", "1"]),
    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
)
valid_event_name = st.lists(_WORD, min_size=1, max_size=4).map(".".join)
event_name = _one_of_valid_near_junk(
    valid_event_name,
    *("a.", ".a", "a..b", "mail.*", "**", "a b", "x" * 200, "x" * 201, "mail.received\n", "é.a"),
)
_PATTERN_WORD = st.one_of(_WORD, st.sampled_from(["*", "**"]))
event_pattern = _one_of_valid_near_junk(
    st.builds(
        lambda words, tail: ".".join(words + tail),
        st.lists(_PATTERN_WORD, max_size=3),
        st.sampled_from([[], ["*"], ["**"]]),
    ).filter(bool),
    *("**", "*", "**.a", "a.**.b", "a*", "***", "mail.*", "github.**", "", "x" * 201),
)
event_data = _one_of_valid_near_junk(
    st.sampled_from(['{"from": "ann"}', "[1, 2]", "null", "3", '"text"', "{}", "true"]),
    *("NaN", "Infinity", '{"a": NaN}', "{", '"\\u0000"', '"\\udc80"', "[" * 5000 + "]" * 5000, "1e999", '{"a":1}x'),
)
key = _one_of_valid_near_junk(
    st.sampled_from(["msg-1", "delivery/42", "a b", "é"]), *("", " ", "x" * 200, "x" * 201, "a\tb")
)

# -- dependencies: the tasks a task runs after, and when ------------------------------------------------------------
upstream = _one_of_valid_near_junk(
    st.sampled_from(["existing", "EXISTING", "existin", "01", "0" * 26, "Z" * 26]),
    *("", " ", "x" * 200, "x" * 201, "existing\n", " existing"),
)
when_rule = _one_of_valid_near_junk(
    st.sampled_from(["all_success", "all_done", "any_success"]),
    *("ALL_SUCCESS", "all-success", "allsuccess", "none_failed", "all_failed", "one_success", ""),
)
