"""Properties of schedules over random cron expressions, zones (many with daylight saving) and start instants.

The expressions are built from sets of field values, so the tests know exactly which wall-clock times match
without asking a cron library, and can check the fire times against a minute-by-minute reading of the contract
(Debian cron's: a job whose minute or hour field starts with '*' is a wildcard job, every other one fixed-time):

* an instant fires when its wall-clock time matches, except that for a fixed-time job only the first of two
  occurrences of a wall time fires;
* for a fixed-time job, the first instant after a spring-forward gap fires if a wall time inside the gap matches;
* a wildcard job fires at every real instant that matches, and at nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from inbox.schedules import format_duration, parse_cron, parse_every, upcoming
from inbox.schedules.cron import fire_times, next_fire

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Dublin",  # winter time is the "daylight saving" one in tzdata (negative DST)
    "Australia/Lord_Howe",  # 30-minute shift
    "Australia/Adelaide",  # half-hour offset with DST
    "America/Santiago",  # changes at midnight
    "America/Havana",  # changes at midnight
    "America/St_Johns",  # -03:30 with DST
    "Pacific/Chatham",  # +12:45 / +13:45, changes at 02:45
    "Africa/Casablanca",  # changes twice a year around Ramadan
    "Asia/Kolkata",  # +05:30, no DST
    "Asia/Kathmandu",  # +05:45, no DST
]
FIRST = datetime(2020, 1, 1, tzinfo=UTC)
LAST = datetime(2035, 12, 31, tzinfo=UTC)


# -- expressions built from value sets -------------------------------------------------------------------------
@dataclass(frozen=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: '*'
    months: frozenset[int]
    weekdays: frozenset[int] | None  # None: '*'; 0 is Sunday
    wildcard: bool  # the minute or the hour field starts with '*': it follows real instants through DST
    day_and: bool  # the day or the weekday field starts with '*': both must match, else either is enough

    def matches(self, wall: datetime) -> bool:
        if wall.minute not in self.minutes or wall.hour not in self.hours or wall.month not in self.months:
            return False
        weekday = (wall.weekday() + 1) % 7
        day = self.days is None or wall.day in self.days
        on_weekday = self.weekdays is None or weekday in self.weekdays
        if self.day_and:
            return day and on_weekday
        return (self.days is not None and wall.day in self.days) or (
            self.weekdays is not None and weekday in self.weekdays
        )


@st.composite
def cron_field(
    draw: st.DrawFn, lo: int, hi: int, *, star: bool = True, near: frozenset[int] = frozenset(), top: int = 0
) -> tuple[str, frozenset[int]]:
    """One field as text and as the set of values it matches; ``near`` values are drawn more often. Values are
    drawn up to ``hi``, but ``*`` and ``*/n`` run to ``top`` when it is given (day 28 is in every month, but
    ``*/2`` matches the 29th and the 31st too)."""
    value = st.one_of(st.sampled_from(sorted(near)), st.integers(lo, hi)) if near else st.integers(lo, hi)
    forms = ["single", "list", "step", "range", "range_step"] + (["star"] if star else [])
    form = draw(st.sampled_from(forms))
    if form == "star":
        return "*", frozenset(range(lo, max(hi, top) + 1))
    if form == "single":
        single = draw(value)
        return str(single), frozenset([single])
    if form == "list":
        values = sorted(draw(st.sets(value, min_size=2, max_size=4)))
        return ",".join(map(str, values)), frozenset(values)
    if form == "step":
        step = draw(st.integers(2, max(2, (hi - lo + 1) // 2)))
        return f"*/{step}", frozenset(range(lo, max(hi, top) + 1, step))
    start = draw(st.integers(lo, hi - 1))
    end = draw(st.integers(start + 1, hi))
    if form == "range":
        return f"{start}-{end}", frozenset(range(start, end + 1))
    step = draw(st.integers(2, max(2, end - start)))
    return f"{start}-{end}/{step}", frozenset(range(start, end + 1, step))


@st.composite
def minute_field(draw: st.DrawFn, *, dense: bool, near: frozenset[int]) -> tuple[str, frozenset[int]]:
    """Dense minute fields (a match every minute or two) are slow to search, so they are drawn less often."""
    if not dense:  # one to six minutes an hour
        if draw(st.integers(0, 3)) == 0:  # a '*' minute: a wildcard job whatever the hour field says
            step = draw(st.integers(10, 30))
            return f"*/{step}", frozenset(range(0, 60, step))
        value = st.one_of(st.sampled_from(sorted(near)), st.integers(0, 59)) if near else st.integers(0, 59)
        values = sorted(draw(st.sets(value, min_size=1, max_size=4)))
        return ",".join(map(str, values)), frozenset(values)
    if draw(st.integers(0, 9)) == 0:
        return "*", frozenset(range(60))
    return draw(cron_field(0, 59, star=False, near=near))


@st.composite
def crons(
    draw: st.DrawFn,
    *,
    every_day: bool = False,
    near_hours: frozenset[int] = frozenset(),
    near_minutes: frozenset[int] = frozenset(),
) -> Cron:
    minute, minutes = draw(minute_field(dense=not every_day, near=near_minutes))
    if near_hours and draw(st.integers(0, 3)) == 0:
        hour, hours = "*", frozenset(range(24))  # near a clock change, '*' often: it must not make up gap times
    else:
        hour, hours = draw(cron_field(0, 23, near=near_hours))
    if every_day or draw(st.integers(0, 2)) > 0:
        dom, days, month, months, dow, weekdays = "*", None, "*", frozenset(range(1, 13)), "*", None
    else:
        dom, day_set = draw(st.one_of(st.just(("*", frozenset[int]())), cron_field(1, 28, star=False, top=31)))
        month, months = draw(cron_field(1, 12))
        dow, weekday_set = draw(st.one_of(st.just(("*", frozenset[int]())), cron_field(0, 6, star=False)))
        days = None if dom == "*" else day_set
        weekdays = None if dow == "*" else weekday_set
    text = f"{minute} {hour} {dom} {month} {dow}"
    wildcard = minute.startswith("*") or hour.startswith("*")
    day_and = dom.startswith("*") or dow.startswith("*")
    return Cron(text, minutes, hours, days, months, weekdays, wildcard=wildcard, day_and=day_and)


# -- the zones' clock changes -------------------------------------------------------------------------------------
@cache
def clock_changes(zone_name: str) -> tuple[datetime, ...]:
    """Every instant in 2020-2035 at which ``zone_name`` changes its UTC offset (to the second)."""
    zone = ZoneInfo(zone_name)

    def offset(ts: int) -> timedelta | None:
        return datetime.fromtimestamp(ts, UTC).astimezone(zone).utcoffset()

    found = []
    step = 12 * 3600
    ts, last = int(FIRST.timestamp()), int(LAST.timestamp())
    while ts < last:
        if offset(ts) != offset(ts + step):
            lo, hi = ts, ts + step  # offset(lo) is the old one, offset(hi) the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
            found.append(datetime.fromtimestamp(hi, UTC))
        ts += step
    return tuple(found)


def gap_before(instant: datetime, zone: ZoneInfo) -> list[datetime]:
    """The wall times (by the minute) a spring-forward gap ending exactly at ``instant`` swallowed, else []."""
    before = (instant - timedelta(seconds=1)).astimezone(zone).utcoffset()
    after = instant.astimezone(zone).utcoffset()
    assert before is not None and after is not None
    if after <= before:
        return []
    end = instant.astimezone(zone).replace(tzinfo=None)
    wall, walls = end - (after - before), []
    while wall < end:
        walls.append(wall)
        wall += timedelta(minutes=1)
    return walls


def wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def should_fire(cron: Cron, instant: datetime, zone: ZoneInfo) -> bool:
    """The contract, read at one instant (on a whole minute)."""
    local = instant.astimezone(zone)
    if cron.matches(local.replace(tzinfo=None, fold=0)) and (cron.wildcard or local.fold == 0):
        return True
    if cron.wildcard or instant not in clock_changes(zone.key):
        return False
    return any(cron.matches(w) for w in gap_before(instant, zone))


# -- start instants: anywhere in 2020-2035, and often close to a clock change ---------------------------------------
@st.composite
def cases(draw: st.DrawFn, *, every_day: bool = False) -> tuple[Cron, str, datetime]:
    """A zone, an expression and a start instant; near a clock change, the expression often names wall times
    around it (the hours and minutes where the clock jumps)."""
    zone_name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(zone_name)
    changes = clock_changes(zone_name)
    if changes and draw(st.booleans()):
        change = draw(st.sampled_from(changes))
        start = change + timedelta(seconds=draw(st.integers(-26 * 3600, 2 * 3600)))
        # the wall clock jumps from jump_from (what it would have shown next) to jump_to
        jump_from = wall(change - timedelta(seconds=1), zone) + timedelta(seconds=1)
        jump_to = wall(change, zone)
        first, last = min(jump_from, jump_to), max(jump_from, jump_to)
        hours = frozenset({first.hour, last.hour, (first + (last - first) / 2).hour})
        minutes = frozenset({first.minute, last.minute, (first + (last - first) / 2).minute})
        cron = draw(crons(every_day=every_day, near_hours=hours, near_minutes=minutes))
        return cron, zone_name, start
    naive = draw(st.datetimes(min_value=FIRST.replace(tzinfo=None), max_value=LAST.replace(tzinfo=None)))
    return draw(crons(every_day=every_day)), zone_name, naive.replace(tzinfo=UTC)


# -- properties --------------------------------------------------------------------------------------------------
def test_the_zones_used_here_have_clock_changes_to_test() -> None:
    assert len(clock_changes("America/New_York")) == 2 * 16
    assert datetime(2026, 3, 8, 7, tzinfo=UTC) in clock_changes("America/New_York")
    assert datetime(2026, 10, 3, 15, 30, tzinfo=UTC) in clock_changes("Australia/Lord_Howe")
    assert clock_changes("UTC") == () and clock_changes("Asia/Kolkata") == ()


@settings(max_examples=200, deadline=None)
@given(cases())
def test_fire_times_increase_and_each_falls_on_a_matching_wall_time(case: tuple[Cron, str, datetime]) -> None:
    cron, zone_name, start = case
    zone = ZoneInfo(zone_name)
    times = fire_times(cron.text, zone, start, 20)
    assert len(times) == 20
    assert times[0] > start
    assert all(a < b for a, b in pairwise(times))
    for instant in times:
        assert instant.utcoffset() == timedelta(0)
        local = wall(instant, zone)
        if cron.matches(local):
            continue
        # the only other reason to fire: the end of a gap that swallowed a matching wall time (fixed-time only)
        assert not cron.wildcard, f"{instant} ({local}) does not match {cron.text!r}"
        assert any(cron.matches(w) for w in gap_before(instant, zone)), (
            f"{instant} ({local}) neither matches {cron.text!r} nor ends a gap that swallowed a match"
        )


@settings(max_examples=300, deadline=None)
@given(cases(every_day=True))
def test_fire_times_are_exactly_the_instants_the_contract_names(case: tuple[Cron, str, datetime]) -> None:
    """Minute by minute over 30 hours (often across a clock change): nothing missing, nothing extra."""
    cron, zone_name, start = case
    zone = ZoneInfo(zone_name)
    end = start + timedelta(hours=30)
    minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    expected = []
    while minute <= end:
        if should_fire(cron, minute, zone):
            expected.append(minute)
        minute += timedelta(minutes=1)
    actual, after = [], start
    while (following := next_fire(cron.text, zone, after)) <= end:
        assert following > after and len(actual) <= len(expected), f"{cron.text!r} fires {following} again"
        actual.append(following)
        after = following
    assert [t.astimezone(zone).isoformat() for t in actual] == [t.astimezone(zone).isoformat() for t in expected]


@settings(max_examples=150, deadline=None)
@given(cases())
def test_each_slot_follows_from_the_previous_slot_alone(case: tuple[Cron, str, datetime]) -> None:
    cron, zone_name, start = case
    zone = ZoneInfo(zone_name)
    schedule = parse_cron(cron.text)
    times = fire_times(cron.text, zone, start, 8)
    assert schedule.first_after(start, zone) == times[0]
    for previous, following in pairwise(times):
        assert schedule.next_after(previous, zone) == following
        assert next_fire(cron.text, zone, following - timedelta(microseconds=1)) == following
        assert next_fire(cron.text, zone, previous + (following - previous) / 2) == following
    assert fire_times(cron.text, zone, times[3], 4) == times[4:]


# -- every ---------------------------------------------------------------------------------------------------------
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@st.composite
def durations(draw: st.DrawFn) -> tuple[str, timedelta]:
    mask = draw(st.integers(1, 2 ** len(UNITS) - 1))
    units = [unit for i, unit in enumerate(UNITS) if mask >> i & 1]
    counts = [draw(st.integers(1, 90)) for _ in units]
    text = "".join(f"{n}{u}" for n, u in zip(counts, units, strict=True))
    return text, timedelta(seconds=sum(n * UNITS[u] for n, u in zip(counts, units, strict=True)))


@settings(max_examples=150, deadline=None)
@given(
    duration=durations(),
    zone_name=st.sampled_from(ZONES),
    anchor=st.datetimes(min_value=FIRST.replace(tzinfo=None), max_value=LAST.replace(tzinfo=None)),
)
def test_every_slot_k_is_the_anchor_plus_k_intervals(
    duration: tuple[str, timedelta], zone_name: str, anchor: datetime
) -> None:
    text, interval = duration
    zone = ZoneInfo(zone_name)
    first = anchor.replace(tzinfo=UTC)
    plan = parse_every(text)
    assert plan.interval == interval
    assert parse_every(format_duration(interval)).interval == interval
    assert plan.first_after(first - interval, zone) == first
    slots = upcoming(plan, zone, first, 20)
    assert slots == [first + k * interval for k in range(20)]
