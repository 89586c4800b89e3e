"""Active hours as a window of wall-clock time: where it starts and ends, across midnight and daylight-saving days."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from inbox.errors import InvalidInput
from inbox.schedules.active_hours import normalized, parse_active_hours

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def test_the_start_is_inside_and_the_end_is_not() -> None:
    day = parse_active_hours("08:00-22:00")
    assert day.contains(time(8, 0))
    assert day.contains(time(21, 59, 59))
    assert not day.contains(time(22, 0))
    assert not day.contains(time(7, 59, 59))


def test_a_window_that_crosses_midnight_holds_both_sides_of_it() -> None:
    night = parse_active_hours("22:00-06:00")
    assert [night.contains(time(h, m)) for h, m in ((22, 0), (23, 30), (0, 0), (5, 59), (6, 0), (12, 0))] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_a_window_ending_at_midnight_runs_to_the_end_of_the_day() -> None:
    evening = parse_active_hours("18:00-00:00")
    assert evening.contains(time(23, 59)) and not evening.contains(time(0, 0)) and not evening.contains(time(17, 0))


def test_the_window_follows_the_zones_clock_across_daylight_saving_days() -> None:
    day = parse_active_hours("08:00-22:00")
    # 06:30 UTC is 08:30 in Paris in summer (inside) and 07:30 in winter (outside).
    assert day.holds(datetime(2026, 7, 1, 6, 30, tzinfo=UTC), PARIS)
    assert not day.holds(datetime(2026, 1, 15, 6, 30, tzinfo=UTC), PARIS)
    # The spring-forward day in New York: 02:00-03:00 does not exist, and 03:00 EDT is 07:00 UTC.
    early = parse_active_hours("03:00-04:00")
    assert early.holds(datetime(2026, 3, 8, 7, 0, tzinfo=UTC), NEW_YORK)  # 03:00 EDT, the first minute after the gap
    assert not early.holds(datetime(2026, 3, 8, 6, 59, tzinfo=UTC), NEW_YORK)  # 01:59 EST
    # The fall-back day: 01:30 happens twice, and both are inside 01:00-02:00.
    fold = parse_active_hours("01:00-02:00")
    assert fold.holds(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), NEW_YORK)  # 01:30 EDT
    assert fold.holds(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NEW_YORK)  # 01:30 EST


@pytest.mark.parametrize("bad", ["8-22", "08:00", "24:00-06:00", "08:00-22:60", "08:00-08:00", "", "noon-night"])
def test_what_is_not_a_window_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_active_hours(bad)
    assert refused.value.field == "active_hours"


def test_a_window_is_kept_in_one_spelling() -> None:
    assert normalized(" 8:00 - 22:00 ") == "08:00-22:00"
