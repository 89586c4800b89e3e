"""Daylight saving time, as a table of cases: this file is the specification of how schedules cross clock changes.

Every date is fixed. Each case names the expression, the zone, the instant the search starts from and the exact
fire times that follow it, written in the task's zone with their offsets.

The clock changes the cases rely on (checked first, with zoneinfo, so a tzdata surprise shows up here and not as
a mysterious schedule failure):

* America/New_York springs forward 2026-03-08 02:00 EST -> 03:00 EDT, falls back 2026-11-01 02:00 EDT -> 01:00 EST.
* Europe/London springs forward 2026-03-29 01:00 GMT -> 02:00 BST, falls back 2026-10-25 02:00 BST -> 01:00 GMT.
* Australia/Lord_Howe moves by 30 minutes: 2026-10-04 02:00 -> 02:30, 2026-04-05 02:00 -> 01:30.
* America/Santiago changes at midnight: 2026-09-06 00:00 -> 01:00, 2026-04-05 00:00 -> 2026-04-04 23:00.
* Australia/Sydney (southern hemisphere) falls back 2026-04-05 03:00 AEDT -> 02:00 AEST, springs forward
  2026-10-04 02:00 AEST -> 03:00 AEDT.

Which rule a cron expression follows is Debian cron's: a job whose minute field or hour field starts with ``*``
is a *wildcard* job and follows real instants (nothing for a wall time a gap swallowed, both instants of a wall
time in a fold); every other job is a *fixed-time* job (a wall time in a gap fires once at the end of the gap, a
wall time in a fold fires once, at its first occurrence).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from inbox.config import load_settings
from inbox.errors import InvalidInput
from inbox.schedules import (
    EverySchedule,
    load_zone,
    parse_at,
    parse_cron,
    parse_duration,
    parse_every,
    upcoming,
)
from inbox.schedules.cron import fire_times, next_fire

NEW_YORK = "America/New_York"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"
SANTIAGO = "America/Santiago"
SYDNEY = "Australia/Sydney"


def instant(text: str) -> datetime:
    """An ISO 8601 time with its offset, as an aware datetime."""
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None, f"{text} must carry an offset"
    return parsed


def local(times: list[datetime], zone: str) -> list[str]:
    """Instants as ISO strings in ``zone``: the offset shows which side of a clock change each one is on."""
    return [t.astimezone(ZoneInfo(zone)).isoformat() for t in times]


def assert_clock_change(zone: str, at_utc: str, last_before: str, first_after: str) -> None:
    """At ``at_utc`` the wall clock of ``zone`` jumps from ``last_before`` (one second earlier) to ``first_after``."""
    change = instant(at_utc)
    tz = ZoneInfo(zone)
    assert (change - timedelta(seconds=1)).astimezone(tz).isoformat() == last_before
    assert change.astimezone(tz).isoformat() == first_after


CLOCK_CHANGES = [
    pytest.param(NEW_YORK, "2026-03-08T07:00:00+00:00", "2026-03-08T01:59:59-05:00", "2026-03-08T03:00:00-04:00",
                 id="New York springs forward on 2026-03-08 from 02:00 EST to 03:00 EDT"),
    pytest.param(NEW_YORK, "2026-11-01T06:00:00+00:00", "2026-11-01T01:59:59-04:00", "2026-11-01T01:00:00-05:00",
                 id="New York falls back on 2026-11-01 from 02:00 EDT to 01:00 EST"),
    pytest.param(LONDON, "2026-03-29T01:00:00+00:00", "2026-03-29T00:59:59+00:00", "2026-03-29T02:00:00+01:00",
                 id="London springs forward on 2026-03-29 from 01:00 GMT to 02:00 BST"),
    pytest.param(LONDON, "2026-10-25T01:00:00+00:00", "2026-10-25T01:59:59+01:00", "2026-10-25T01:00:00+00:00",
                 id="London falls back on 2026-10-25 from 02:00 BST to 01:00 GMT"),
    pytest.param(LORD_HOWE, "2026-10-03T15:30:00+00:00", "2026-10-04T01:59:59+10:30", "2026-10-04T02:30:00+11:00",
                 id="Lord Howe springs forward by 30 minutes on 2026-10-04 from 02:00 to 02:30"),
    pytest.param(LORD_HOWE, "2026-04-04T15:00:00+00:00", "2026-04-05T01:59:59+11:00", "2026-04-05T01:30:00+10:30",
                 id="Lord Howe falls back by 30 minutes on 2026-04-05 from 02:00 to 01:30"),
    pytest.param(SANTIAGO, "2026-09-06T04:00:00+00:00", "2026-09-05T23:59:59-04:00", "2026-09-06T01:00:00-03:00",
                 id="Santiago springs forward at midnight on 2026-09-06 to 01:00"),
    pytest.param(SANTIAGO, "2026-04-05T03:00:00+00:00", "2026-04-04T23:59:59-03:00", "2026-04-04T23:00:00-04:00",
                 id="Santiago falls back at midnight on 2026-04-05 to 23:00 the day before"),
    pytest.param(SYDNEY, "2026-04-04T16:00:00+00:00", "2026-04-05T02:59:59+11:00", "2026-04-05T02:00:00+10:00",
                 id="Sydney falls back on 2026-04-05 from 03:00 AEDT to 02:00 AEST"),
    pytest.param(SYDNEY, "2026-10-03T16:00:00+00:00", "2026-10-04T01:59:59+10:00", "2026-10-04T03:00:00+11:00",
                 id="Sydney springs forward on 2026-10-04 from 02:00 AEST to 03:00 AEDT"),
]

# The whole table rests on these dates: check them before anything else runs.
for _zone, _at_utc, _last_before, _first_after in (case.values for case in CLOCK_CHANGES):
    assert_clock_change(str(_zone), str(_at_utc), str(_last_before), str(_first_after))


@pytest.mark.parametrize(("zone", "at_utc", "last_before", "first_after"), CLOCK_CHANGES)
def test_the_clock_changes_the_cases_rely_on(zone: str, at_utc: str, last_before: str, first_after: str) -> None:
    assert_clock_change(zone, at_utc, last_before, first_after)


# -- cron across the clock changes ------------------------------------------------------------------------------
# (expression, zone, search starts strictly after this instant, the fire times that follow, in order)
CRON_CASES = [
    # spring-forward gap, fixed-time job (neither minute nor hour starts with '*'): the missing wall time fires
    # once, at the end of the gap
    pytest.param("30 2 * * *", NEW_YORK, "2026-03-06T12:00:00-05:00",
                 ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00",
                  "2026-03-10T02:30:00-04:00"],
                 id="New York '30 2 * * *' fires at 02:30 EST, then once at 03:00 EDT on 03-08 (end of the gap), "
                    "then at 02:30 EDT"),
    pytest.param("0 2 * * *", NEW_YORK, "2026-03-07T12:00:00-05:00",
                 ["2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"],
                 id="New York '0 2 * * *' (the first minute of the gap) fires at 03:00 EDT on 03-08"),
    pytest.param("59 2 * * *", NEW_YORK, "2026-03-07T12:00:00-05:00",
                 ["2026-03-08T03:00:00-04:00", "2026-03-09T02:59:00-04:00"],
                 id="New York '59 2 * * *' (the last minute of the gap) fires at 03:00 EDT on 03-08"),
    pytest.param("30 3 * * *", NEW_YORK, "2026-03-07T12:00:00-05:00",
                 ["2026-03-08T03:30:00-04:00", "2026-03-09T03:30:00-04:00"],
                 id="New York '30 3 * * *' is after the gap and fires at 03:30 EDT on 03-08 as usual"),
    pytest.param("30 1 * * *", LONDON, "2026-03-27T12:00:00+00:00",
                 ["2026-03-28T01:30:00+00:00", "2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"],
                 id="London '30 1 * * *' fires once at 02:00 BST on 03-29 (end of the gap)"),
    pytest.param("0 1 * * *", LONDON, "2026-03-28T12:00:00+00:00",
                 ["2026-03-29T02:00:00+01:00", "2026-03-30T01:00:00+01:00"],
                 id="London '0 1 * * *' (the first minute of the gap) fires at 02:00 BST on 03-29"),
    pytest.param("0 0-23/2 * * *", NEW_YORK, "2026-03-07T21:00:00-05:00",
                 ["2026-03-07T22:00:00-05:00", "2026-03-08T00:00:00-05:00", "2026-03-08T03:00:00-04:00",
                  "2026-03-08T04:00:00-04:00"],
                 id="New York '0 0-23/2 * * *' (a step hour, but no '*') fires for 02:00 at 03:00 EDT on 03-08, "
                    "then at 04:00"),
    pytest.param("30 2 * * *", SYDNEY, "2026-10-02T12:00:00+10:00",
                 ["2026-10-03T02:30:00+10:00", "2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"],
                 id="Sydney '30 2 * * *' fires once at 03:00 AEDT on 10-04 (end of the gap)"),
    pytest.param("0,30 2 * * *", NEW_YORK, "2026-03-07T01:00:00-05:00",
                 ["2026-03-07T02:00:00-05:00", "2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00",
                  "2026-03-09T02:00:00-04:00"],
                 id="New York '0,30 2 * * *' (two times in the gap) fires once at 03:00 EDT on 03-08"),
    pytest.param("15 2 * * *", LORD_HOWE, "2026-10-03T12:00:00+10:30",
                 ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"],
                 id="Lord Howe '15 2 * * *' falls in the 30-minute gap and fires at 02:30 on 10-04"),
    pytest.param("30 2 * * *", LORD_HOWE, "2026-10-03T12:00:00+10:30",
                 ["2026-10-04T02:30:00+11:00", "2026-10-05T02:30:00+11:00"],
                 id="Lord Howe '30 2 * * *' is the first minute after the gap and fires at 02:30 on 10-04"),
    pytest.param("0 0 * * *", SANTIAGO, "2026-09-04T12:00:00-04:00",
                 ["2026-09-05T00:00:00-04:00", "2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00"],
                 id="Santiago '0 0 * * *' (midnight does not exist on 09-06) fires at 01:00 on 09-06"),
    # fall-back fold, fixed-time job: the repeated wall time fires once, at its first occurrence
    pytest.param("30 1 * * *", NEW_YORK, "2026-10-30T12:00:00-04:00",
                 ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"],
                 id="New York '30 1 * * *' fires once on 11-01, at 01:30 EDT, not again at 01:30 EST"),
    pytest.param("30 1 * * *", NEW_YORK, "2026-11-01T01:30:00-04:00",
                 ["2026-11-02T01:30:00-05:00"],
                 id="New York '30 1 * * *' after its 01:30 EDT fire on 11-01 next fires on 11-02"),
    pytest.param("0 1 * * *", NEW_YORK, "2026-10-31T12:00:00-04:00",
                 ["2026-11-01T01:00:00-04:00", "2026-11-02T01:00:00-05:00"],
                 id="New York '0 1 * * *' (the first minute of the fold) fires once on 11-01, at 01:00 EDT"),
    pytest.param("59 1 * * *", NEW_YORK, "2026-10-31T12:00:00-04:00",
                 ["2026-11-01T01:59:00-04:00", "2026-11-02T01:59:00-05:00"],
                 id="New York '59 1 * * *' (the last minute of the fold) fires once on 11-01, at 01:59 EDT"),
    pytest.param("0 2 * * *", NEW_YORK, "2026-10-31T12:00:00-04:00",
                 ["2026-11-01T02:00:00-05:00", "2026-11-02T02:00:00-05:00"],
                 id="New York '0 2 * * *' is after the fold and fires once on 11-01, at 02:00 EST"),
    pytest.param("30 1 * * *", LONDON, "2026-10-23T12:00:00+01:00",
                 ["2026-10-24T01:30:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"],
                 id="London '30 1 * * *' fires once on 10-25, at 01:30 BST, not again at 01:30 GMT"),
    pytest.param("45 1 * * *", LORD_HOWE, "2026-04-04T12:00:00+11:00",
                 ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"],
                 id="Lord Howe '45 1 * * *' fires once on 04-05, at the first 01:45 (+11:00)"),
    pytest.param("0 23 * * *", SANTIAGO, "2026-04-03T12:00:00-03:00",
                 ["2026-04-03T23:00:00-03:00", "2026-04-04T23:00:00-03:00", "2026-04-05T23:00:00-04:00"],
                 id="Santiago '0 23 * * *' fires once on 04-04, at the first 23:00 (-03:00)"),
    pytest.param("30 2 * * *", SYDNEY, "2026-04-03T12:00:00+11:00",
                 ["2026-04-04T02:30:00+11:00", "2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"],
                 id="Sydney '30 2 * * *' fires once on 04-05, at 02:30 AEDT, not again at 02:30 AEST"),
    pytest.param("30 1-23/2 * * *", NEW_YORK, "2026-10-31T22:00:00-04:00",
                 ["2026-10-31T23:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T03:30:00-05:00"],
                 id="New York '30 1-23/2 * * *' (a step hour, but no '*') fires once at 01:30 EDT, "
                    "not again at 01:30 EST"),
    # weekly on the change day
    pytest.param("0 2 * * 0", NEW_YORK, "2026-02-28T12:00:00-05:00",
                 ["2026-03-01T02:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-15T02:00:00-04:00"],
                 id="New York Sundays at 02:00 fire at 03:00 EDT on 2026-03-08 and at 02:00 on the Sundays around"),
    pytest.param("0 2 * * 0", NEW_YORK, "2026-10-24T12:00:00-04:00",
                 ["2026-10-25T02:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-08T02:00:00-05:00"],
                 id="New York Sundays at 02:00 fire once on 2026-11-01, at 02:00 EST"),
    pytest.param("30 1 * * 0", NEW_YORK, "2026-10-24T12:00:00-04:00",
                 ["2026-10-25T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-08T01:30:00-05:00"],
                 id="New York Sundays at 01:30 fire once on 2026-11-01, at 01:30 EDT"),
    pytest.param("30 1 * * 0", LONDON, "2026-10-17T12:00:00+01:00",
                 ["2026-10-18T01:30:00+01:00", "2026-10-25T01:30:00+01:00", "2026-11-01T01:30:00+00:00"],
                 id="London Sundays at 01:30 fire once on 2026-10-25, at 01:30 BST"),
    pytest.param("30 1 * * 0", LONDON, "2026-03-21T12:00:00+00:00",
                 ["2026-03-22T01:30:00+00:00", "2026-03-29T02:00:00+01:00", "2026-04-05T01:30:00+01:00"],
                 id="London Sundays at 01:30 fire at 02:00 BST on 2026-03-29"),
    # wildcard jobs (the minute or the hour field starts with '*') follow real instants: both passes through
    # the fold ...
    pytest.param("30 * * * *", NEW_YORK, "2026-10-31T22:00:00-04:00",
                 ["2026-10-31T22:30:00-04:00", "2026-10-31T23:30:00-04:00", "2026-11-01T00:30:00-04:00",
                  "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:30:00-05:00",
                  "2026-11-01T03:30:00-05:00"],
                 id="New York '30 * * * *' fires at 01:30 EDT and again at 01:30 EST on 11-01"),
    pytest.param("30 * * * *", LONDON, "2026-10-24T23:00:00+01:00",
                 ["2026-10-24T23:30:00+01:00", "2026-10-25T00:30:00+01:00", "2026-10-25T01:30:00+01:00",
                  "2026-10-25T01:30:00+00:00", "2026-10-25T02:30:00+00:00"],
                 id="London '30 * * * *' fires at 01:30 BST and again at 01:30 GMT on 10-25"),
    pytest.param("30 * * * *", LORD_HOWE, "2026-04-05T00:00:00+11:00",
                 ["2026-04-05T00:30:00+11:00", "2026-04-05T01:30:00+11:00", "2026-04-05T01:30:00+10:30",
                  "2026-04-05T02:30:00+10:30"],
                 id="Lord Howe '30 * * * *' fires at 01:30 +11:00 and, 30 minutes later, at 01:30 +10:30 on 04-05"),
    pytest.param("*/15 * * * *", NEW_YORK, "2026-11-01T00:50:00-04:00",
                 ["2026-11-01T01:00:00-04:00", "2026-11-01T01:15:00-04:00", "2026-11-01T01:30:00-04:00",
                  "2026-11-01T01:45:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:15:00-05:00",
                  "2026-11-01T01:30:00-05:00", "2026-11-01T01:45:00-05:00", "2026-11-01T02:00:00-05:00"],
                 id="New York '*/15 * * * *' fires 8 times from 01:00 EDT to 01:45 EST, then at 02:00 EST"),
    pytest.param("*/30 1 * * *", NEW_YORK, "2026-10-31T12:00:00-04:00",
                 ["2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00",
                  "2026-11-01T01:30:00-05:00", "2026-11-02T01:00:00-05:00"],
                 id="New York '*/30 1 * * *' (a '*' minute makes it a wildcard job) fires at 01:00 and 01:30 EDT, "
                    "then at 01:00 and 01:30 EST on 11-01"),
    pytest.param("0 * * * *", NEW_YORK, "2026-11-01T00:30:00-04:00",
                 ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"],
                 id="New York '0 * * * *' fires at 01:00 EDT and again at 01:00 EST on 11-01"),
    pytest.param("*/30 1 * * *", LONDON, "2026-10-24T12:00:00+01:00",
                 ["2026-10-25T01:00:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-25T01:00:00+00:00",
                  "2026-10-25T01:30:00+00:00", "2026-10-26T01:00:00+00:00"],
                 id="London '*/30 1 * * *' fires at 01:00 and 01:30 BST, then at 01:00 and 01:30 GMT on 10-25"),
    pytest.param("*/30 2 * * *", SYDNEY, "2026-04-04T12:00:00+11:00",
                 ["2026-04-05T02:00:00+11:00", "2026-04-05T02:30:00+11:00", "2026-04-05T02:00:00+10:00",
                  "2026-04-05T02:30:00+10:00", "2026-04-06T02:00:00+10:00"],
                 id="Sydney '*/30 2 * * *' fires at 02:00 and 02:30 AEDT, then at 02:00 and 02:30 AEST on 04-05"),
    pytest.param("0 */2 * * *", NEW_YORK, "2026-10-31T21:00:00-04:00",
                 ["2026-10-31T22:00:00-04:00", "2026-11-01T00:00:00-04:00", "2026-11-01T02:00:00-05:00",
                  "2026-11-01T04:00:00-05:00"],
                 id="New York '0 */2 * * *' goes 00:00 EDT -> 02:00 EST on 11-01 (3 elapsed hours: no even hour in "
                    "the fold)"),
    # ... and no made-up fire for a time the gap swallowed (like Debian cron)
    pytest.param("*/10 2 * * *", NEW_YORK, "2026-03-07T01:00:00-05:00",
                 ["2026-03-07T02:00:00-05:00", "2026-03-07T02:10:00-05:00", "2026-03-07T02:20:00-05:00",
                  "2026-03-07T02:30:00-05:00", "2026-03-07T02:40:00-05:00", "2026-03-07T02:50:00-05:00",
                  "2026-03-09T02:00:00-04:00"],
                 id="New York '*/10 2 * * *' (a '*' minute makes it a wildcard job) fires six times on 03-07, "
                    "never on 03-08 (no 02:xx exists), then at 02:00 EDT on 03-09"),
    pytest.param("*/15 1 * * *", LONDON, "2026-03-28T12:00:00+00:00",
                 ["2026-03-30T01:00:00+01:00"],
                 id="London '*/15 1 * * *' does not fire on 03-29 (no 01:xx exists) and next fires on 03-30"),
    pytest.param("*/20 2 * * *", SYDNEY, "2026-10-03T12:00:00+10:00",
                 ["2026-10-05T02:00:00+11:00", "2026-10-05T02:20:00+11:00"],
                 id="Sydney '*/20 2 * * *' does not fire on 10-04 (no 02:xx exists) and next fires on 10-05"),
    pytest.param("*/30 0 * * *", SANTIAGO, "2026-09-05T12:00:00-04:00",
                 ["2026-09-07T00:00:00-03:00"],
                 id="Santiago '*/30 0 * * *' does not fire on 09-06 (no 00:xx exists) and next fires on 09-07"),
    pytest.param("0 * * * *", NEW_YORK, "2026-03-08T00:30:00-05:00",
                 ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"],
                 id="New York '0 * * * *' goes 01:00 EST -> 03:00 EDT on 03-08 (no 02:00 is made up)"),
    pytest.param("*/15 * * * *", NEW_YORK, "2026-03-08T01:40:00-05:00",
                 ["2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"],
                 id="New York '*/15 * * * *' goes 01:45 EST -> 03:00 EDT on 03-08 (02:00 to 02:45 are not made up)"),
    pytest.param("*/10 3 * * *", LORD_HOWE, "2026-10-04T02:40:00+11:00",
                 ["2026-10-04T03:00:00+11:00", "2026-10-04T03:10:00+11:00"],
                 id="Lord Howe '*/10 3 * * *' fires at 03:00 on 10-04: the hour after the 30-minute gap is whole"),
    pytest.param("30 * * * *", NEW_YORK, "2026-03-08T00:00:00-05:00",
                 ["2026-03-08T00:30:00-05:00", "2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00",
                  "2026-03-08T04:30:00-04:00"],
                 id="New York '30 * * * *' goes 01:30 EST -> 03:30 EDT on 03-08 (no 02:30 is made up)"),
    pytest.param("30 * * * *", LONDON, "2026-03-29T00:00:00+00:00",
                 ["2026-03-29T00:30:00+00:00", "2026-03-29T02:30:00+01:00", "2026-03-29T03:30:00+01:00"],
                 id="London '30 * * * *' goes 00:30 GMT -> 02:30 BST on 03-29 (no 01:30 is made up)"),
    pytest.param("0 */2 * * *", NEW_YORK, "2026-03-07T21:00:00-05:00",
                 ["2026-03-07T22:00:00-05:00", "2026-03-08T00:00:00-05:00", "2026-03-08T04:00:00-04:00"],
                 id="New York '0 */2 * * *' goes 00:00 EST -> 04:00 EDT on 03-08 (02:00 does not exist)"),
    pytest.param("*/20 * * * *", LORD_HOWE, "2026-10-04T01:30:00+10:30",
                 ["2026-10-04T01:40:00+10:30", "2026-10-04T02:40:00+11:00", "2026-10-04T03:00:00+11:00"],
                 id="Lord Howe '*/20 * * * *' goes 01:40 -> 02:40 on 10-04 (02:00 and 02:20 do not exist)"),
    # aliases are the same expressions, with the same rules
    pytest.param("@hourly", NEW_YORK, "2026-03-08T00:10:00-05:00",
                 ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"],
                 id="New York @hourly goes 01:00 EST -> 03:00 EDT on 03-08"),
    pytest.param("@daily", LONDON, "2026-03-28T12:00:00+00:00",
                 ["2026-03-29T00:00:00+00:00", "2026-03-30T00:00:00+01:00"],
                 id="London @daily fires at midnight GMT, then at midnight BST"),
    pytest.param("@weekly", NEW_YORK, "2026-03-04T12:00:00-05:00",
                 ["2026-03-08T00:00:00-05:00", "2026-03-15T00:00:00-04:00"],
                 id="New York @weekly fires at Sunday midnight EST, then at Sunday midnight EDT"),
    pytest.param("@monthly", NEW_YORK, "2026-03-15T12:00:00-04:00",
                 ["2026-04-01T00:00:00-04:00", "2026-05-01T00:00:00-04:00"],
                 id="New York @monthly fires at midnight on the 1st of each month"),
    pytest.param("@yearly", NEW_YORK, "2026-03-15T12:00:00-04:00",
                 ["2027-01-01T00:00:00-05:00", "2028-01-01T00:00:00-05:00"],
                 id="New York @yearly fires at midnight on January 1st"),
    pytest.param("0 9 29 2 *", NEW_YORK, "2026-01-01T00:00:00-05:00",
                 ["2028-02-29T09:00:00-05:00", "2032-02-29T09:00:00-05:00"],
                 id="New York '0 9 29 2 *' is valid and next fires on 2028-02-29 from 2026"),
    # day of month and weekday: either one matching is enough, unless one of them starts with '*' (Debian cron)
    pytest.param("0 9 1 * 1", NEW_YORK, "2026-06-28T12:00:00-04:00",
                 ["2026-06-29T09:00:00-04:00", "2026-07-01T09:00:00-04:00", "2026-07-06T09:00:00-04:00"],
                 id="New York '0 9 1 * 1' fires on every Monday and on the 1st (a Wednesday in July 2026)"),
    pytest.param("0 9 */2 * 1", NEW_YORK, "2026-06-28T12:00:00-04:00",
                 ["2026-06-29T09:00:00-04:00", "2026-07-13T09:00:00-04:00", "2026-07-27T09:00:00-04:00"],
                 id="New York '0 9 */2 * 1' fires on Mondays that fall on an odd day of the month"),
]


@pytest.mark.parametrize(("expr", "zone", "after", "expected"), CRON_CASES)
def test_cron_fire_times(expr: str, zone: str, after: str, expected: list[str]) -> None:
    times = fire_times(expr, ZoneInfo(zone), instant(after), len(expected))
    assert local(times, zone) == expected


@pytest.mark.parametrize(("expr", "zone", "after", "expected"), CRON_CASES)
def test_each_fire_time_is_the_next_fire_after_the_previous_one(
    expr: str, zone: str, after: str, expected: list[str]
) -> None:
    """A slot's successor depends on the slot alone: restarting from any slot, or from just before the next one,
    lands on the same next slot."""
    tz = ZoneInfo(zone)
    schedule = parse_cron(expr)
    previous = instant(after)
    for want in expected:
        assert local([next_fire(expr, tz, previous)], zone) == [want]
        assert local([schedule.next_after(previous, tz)], zone) == [want]
        assert local([next_fire(expr, tz, instant(want) - timedelta(seconds=1))], zone) == [want]
        previous = instant(want)


@pytest.mark.parametrize(("expr", "zone", "after", "expected"), CRON_CASES)
def test_fire_times_from_a_slot_continue_the_same_series(expr: str, zone: str, after: str, expected: list[str]) -> None:
    tz = ZoneInfo(zone)
    for k in range(1, len(expected)):
        tail = fire_times(expr, tz, instant(expected[k - 1]), len(expected) - k)
        assert local(tail, zone) == expected[k:]


@pytest.mark.parametrize(
    ("zone", "night_start", "night_end"),
    [
        pytest.param(NEW_YORK, "2026-10-31T18:00:00-04:00", "2026-11-01T08:00:00-05:00",
                     id="New York fall-back night"),
        pytest.param(LONDON, "2026-10-24T18:00:00+01:00", "2026-10-25T08:00:00+00:00", id="London fall-back night"),
    ],
)
def test_hourly_fires_exactly_one_hour_apart_through_the_fold(zone: str, night_start: str, night_end: str) -> None:
    """'30 * * * *' fires at every real instant at minute 30, so consecutive fires are 1 h apart in UTC."""
    start, end = instant(night_start), instant(night_end)
    hours = int((end - start) / timedelta(hours=1))
    times = fire_times("30 * * * *", ZoneInfo(zone), start, hours)
    assert times[0] == start + timedelta(minutes=30)
    assert [b - a for a, b in pairwise(times)] == [timedelta(hours=1)] * (hours - 1)
    assert times[-1] < end


def test_fire_times_are_utc_instants() -> None:
    [fire] = fire_times("30 2 * * *", ZoneInfo(NEW_YORK), instant("2026-03-07T12:00:00-05:00"), 1)
    assert fire.utcoffset() == timedelta(0)
    assert fire == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


# -- --at: naive is wall-clock time in the task's zone, an offset or Z is that instant --------------------------
NOW = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        pytest.param("2026-03-08T02:30", NEW_YORK, "2026-03-08T03:00:00-04:00",
                     id="naive 02:30 on 2026-03-08 in New York does not exist: it means 03:00 EDT (end of the gap)"),
        pytest.param("2026-03-08T02:00", NEW_YORK, "2026-03-08T03:00:00-04:00",
                     id="naive 02:00 on 2026-03-08 in New York (start of the gap) means 03:00 EDT"),
        pytest.param("2026-11-01T01:30", NEW_YORK, "2026-11-01T01:30:00-04:00",
                     id="naive 01:30 on 2026-11-01 in New York happens twice: it means the first, 01:30 EDT"),
        pytest.param("2026-03-29T01:30", LONDON, "2026-03-29T02:00:00+01:00",
                     id="naive 01:30 on 2026-03-29 in London does not exist: it means 02:00 BST"),
        pytest.param("2026-10-25T01:30", LONDON, "2026-10-25T01:30:00+01:00",
                     id="naive 01:30 on 2026-10-25 in London happens twice: it means the first, 01:30 BST"),
        pytest.param("2026-10-04T02:10", LORD_HOWE, "2026-10-04T02:30:00+11:00",
                     id="naive 02:10 on 2026-10-04 in Lord Howe does not exist: it means 02:30"),
        pytest.param("2026-11-01T01:30:00-05:00", NEW_YORK, "2026-11-01T01:30:00-05:00",
                     id="01:30-05:00 on 2026-11-01 in New York is the second 01:30 (EST), as the offset says"),
        pytest.param("2026-07-01T09:00", NEW_YORK, "2026-07-01T09:00:00-04:00",
                     id="naive 09:00 in July in New York is 09:00 EDT"),
    ],
)
def test_at_in_the_task_zone(text: str, zone: str, expected: str) -> None:
    shot = parse_at(text, ZoneInfo(zone), NOW)
    assert shot.when.utcoffset() == timedelta(0)
    assert local([shot.when], zone) == [expected]


@pytest.mark.parametrize("zone", [NEW_YORK, LONDON, LORD_HOWE, SANTIAGO, "UTC", "Asia/Kolkata"])
@pytest.mark.parametrize(
    ("text", "expected_utc"),
    [
        pytest.param("2026-03-08T02:30:00+01:00", "2026-03-08T01:30:00+00:00",
                     id="02:30+01:00 on 2026-03-08 is 01:30 UTC"),
        pytest.param("2026-11-01T01:30Z", "2026-11-01T01:30:00+00:00", id="01:30Z on 2026-11-01 is 01:30 UTC"),
        pytest.param("2026-03-29T01:30:00+00:00", "2026-03-29T01:30:00+00:00",
                     id="01:30+00:00 on 2026-03-29 is 01:30 UTC"),
        pytest.param("2026-10-25T01:30:00.250000-07:00", "2026-10-25T08:30:00.250000+00:00",
                     id="01:30:00.25-07:00 on 2026-10-25 is 08:30:00.25 UTC"),
    ],
)
def test_at_with_an_offset_is_that_instant_whatever_the_zone(text: str, expected_utc: str, zone: str) -> None:
    assert parse_at(text, ZoneInfo(zone), NOW).when.isoformat() == expected_utc


def test_at_in_the_past_is_rejected_naming_the_current_time() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput) as caught:
        parse_at("2026-03-08T02:30", ZoneInfo(NEW_YORK), now)
    assert caught.value.field == "at"
    assert "2026-06-01T12:00:00+00:00" in caught.value.reason


def test_at_one_second_ago_is_rejected_and_one_second_ahead_is_accepted() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput) as caught:
        parse_at("2026-06-01T07:59:59", ZoneInfo(NEW_YORK), now)
    assert caught.value.field == "at"
    assert "2026-06-01T12:00:00+00:00" in caught.value.reason
    assert parse_at("2026-06-01T08:00:01", ZoneInfo(NEW_YORK), now).when == now + timedelta(seconds=1)


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01T09:00", "09:00", ""])
def test_at_that_is_not_iso_8601_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_at(text, ZoneInfo(NEW_YORK), NOW)
    assert caught.value.field == "at"


# -- every: elapsed time, anchored to the first slot -------------------------------------------------------------
@pytest.mark.parametrize(
    ("every", "zone", "anchor", "expected"),
    [
        pytest.param("1d", NEW_YORK, "2026-03-06T09:00:00-05:00",
                     ["2026-03-06T09:00:00-05:00", "2026-03-07T09:00:00-05:00", "2026-03-08T10:00:00-04:00",
                      "2026-03-09T10:00:00-04:00"],
                     id="every 1d is 24 elapsed hours: a 09:00 EST anchor fires at 10:00 EDT wall time after the "
                        "spring change"),
        pytest.param("1d", NEW_YORK, "2026-10-31T09:00:00-04:00",
                     ["2026-10-31T09:00:00-04:00", "2026-11-01T08:00:00-05:00", "2026-11-02T08:00:00-05:00"],
                     id="every 1d is 24 elapsed hours: a 09:00 EDT anchor fires at 08:00 EST wall time after the "
                        "fall change"),
        pytest.param("1d", LONDON, "2026-03-28T09:00:00+00:00",
                     ["2026-03-28T09:00:00+00:00", "2026-03-29T10:00:00+01:00"],
                     id="every 1d is 24 elapsed hours: a 09:00 GMT anchor fires at 10:00 BST after the spring change"),
        pytest.param("1h", NEW_YORK, "2026-11-01T00:30:00-04:00",
                     ["2026-11-01T00:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00",
                      "2026-11-01T02:30:00-05:00"],
                     id="every 1h passes through both 01:30s of the New York fold"),
        pytest.param("1h30m", NEW_YORK, "2026-03-08T00:15:00-05:00",
                     ["2026-03-08T00:15:00-05:00", "2026-03-08T01:45:00-05:00", "2026-03-08T04:15:00-04:00"],
                     id="every 1h30m goes 01:45 EST -> 04:15 EDT across the New York gap"),
        pytest.param("1w", LONDON, "2026-03-22T01:30:00+00:00",
                     ["2026-03-22T01:30:00+00:00", "2026-03-29T02:30:00+01:00"],
                     id="every 1w is 168 elapsed hours: 01:30 GMT becomes 02:30 BST"),
    ],
)
def test_every_is_elapsed_time_from_the_anchor(every: str, zone: str, anchor: str, expected: list[str]) -> None:
    tz = ZoneInfo(zone)
    plan = parse_every(every)
    slots = upcoming(plan, tz, instant(anchor), len(expected))
    assert local(slots, zone) == expected
    for k, slot in enumerate(slots):
        assert slot == instant(anchor) + k * plan.interval


def test_every_first_slot_is_one_interval_after_now() -> None:
    plan = EverySchedule(timedelta(days=1))
    now = instant("2026-03-07T14:00:00+00:00")
    assert local([plan.first_after(now, ZoneInfo(NEW_YORK))], NEW_YORK) == ["2026-03-08T10:00:00-04:00"]


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [
        pytest.param("30s", 30, "every 30s", id="30s is 30 seconds"),
        pytest.param("5m", 300, "every 5m", id="5m is 5 minutes"),
        pytest.param("2h", 7200, "every 2h", id="2h is 2 hours"),
        pytest.param("1d", 86400, "every 1d", id="1d is 24 hours"),
        pytest.param("1h30m", 5400, "every 1h30m", id="1h30m is 90 minutes"),
        pytest.param("90m", 5400, "every 1h30m", id="90m is written back as 1h30m"),
    ],
)
def test_every_durations(text: str, seconds: int, canonical: str) -> None:
    plan = parse_every(text)
    assert plan.interval == timedelta(seconds=seconds)
    assert plan.recurrence == canonical


# -- what is rejected ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("alias", "expression"),
    [
        pytest.param("@hourly", "0 * * * *", id="@hourly is minute 0 of every hour"),
        pytest.param("@daily", "0 0 * * *", id="@daily is midnight every day"),
        pytest.param("@weekly", "0 0 * * 0", id="@weekly is midnight on Sunday"),
        pytest.param("@monthly", "0 0 1 * *", id="@monthly is midnight on the 1st"),
        pytest.param("@yearly", "0 0 1 1 *", id="@yearly is midnight on January 1st"),
    ],
)
def test_cron_aliases(alias: str, expression: str) -> None:
    assert parse_cron(alias).expr == expression
    assert parse_cron(alias).recurrence == f"cron {expression}"
    start = instant("2026-03-01T12:00:00-05:00")
    zone = ZoneInfo(NEW_YORK)
    assert fire_times(alias, zone, start, 5) == fire_times(expression, zone, start, 5)


@pytest.mark.parametrize(
    "expr",
    [
        pytest.param("0 9 31 2 *", id="31 February never happens"),
        pytest.param("0 9 30 2 *", id="30 February never happens"),
        pytest.param("0 9 31 4 *", id="31 April never happens"),
        pytest.param("61 * * * *", id="minute 61 does not exist"),
        pytest.param("0 24 * * *", id="hour 24 does not exist"),
        pytest.param("* * *", id="three fields are not cron"),
        pytest.param("0 0 9 * * *", id="six fields are not cron"),
        pytest.param("", id="an empty expression is not cron"),
        pytest.param("@reboot", id="@reboot is not a schedule"),
        pytest.param("every day", id="words are not cron"),
    ],
)
def test_invalid_cron_is_rejected_naming_the_cron_field(expr: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_cron(expr)
    assert caught.value.field == "cron"
    with pytest.raises(InvalidInput) as again:
        next_fire(expr, ZoneInfo(NEW_YORK), NOW)
    assert again.value.field == "cron"


def configured_zone(explicit: str | None, env: dict[str, str], dotenv: dict[str, str], home: Path) -> ZoneInfo:
    """The zone a command would use, with ``dotenv`` written to ``$INBOX_HOME/.env``."""
    (home / ".env").write_text("".join(f"{key}={value}\n" for key, value in dotenv.items()))
    return load_settings({"INBOX_HOME": str(home), **env}).zone(explicit)


@pytest.mark.parametrize(
    ("explicit", "env", "dotenv", "field"),
    [
        pytest.param("Mars/Olympus", {}, {}, "tz", id="an unknown tz is rejected as the field tz"),
        pytest.param(None, {"INBOX_TZ": "Mars/Olympus"}, {}, "INBOX_TZ", id="an unknown INBOX_TZ is rejected as such"),
        pytest.param(None, {"TZ": "Mars/Olympus"}, {}, "TZ", id="an unknown TZ is rejected as TZ"),
        pytest.param(None, {}, {"TZ": "Mars/Olympus"}, "TZ in .env", id="an unknown TZ in .env is rejected as such"),
        pytest.param("Mars/Olympus", {"INBOX_TZ": "Europe/London"}, {}, "tz",
                     id="an unknown tz is rejected even when INBOX_TZ is valid"),
    ],
)
def test_unknown_zones_are_rejected_naming_where_they_came_from(
    explicit: str | None, env: dict[str, str], dotenv: dict[str, str], field: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput) as caught:
        configured_zone(explicit, env, dotenv, tmp_path)
    assert caught.value.field == field
    assert "Mars/Olympus" in caught.value.reason


@pytest.mark.parametrize("name", ["Mars/Olympus", "America", "../etc/passwd", "", "New York"])
def test_load_zone_rejects_names_that_are_not_iana_zones(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_zone(name)
    assert caught.value.field == "timezone"


@pytest.mark.parametrize(
    ("explicit", "env", "dotenv", "zone"),
    [
        pytest.param("Asia/Kolkata", {"INBOX_TZ": "Europe/London", "TZ": SANTIAGO}, {"TZ": LORD_HOWE},
                     "Asia/Kolkata", id="--tz wins over everything"),
        pytest.param(None, {"INBOX_TZ": "Europe/London", "TZ": SANTIAGO}, {"TZ": LORD_HOWE}, LONDON,
                     id="INBOX_TZ wins over TZ"),
        pytest.param(None, {"TZ": SANTIAGO}, {"TZ": LORD_HOWE}, SANTIAGO, id="TZ wins over .env"),
        pytest.param(None, {}, {"TZ": LORD_HOWE}, LORD_HOWE, id="TZ in .env is used when nothing else is set"),
        pytest.param(None, {"TZ": ":America/New_York"}, {}, NEW_YORK, id="TZ=:America/New_York is New York"),
        pytest.param(None, {"TZ": "/usr/share/zoneinfo/Europe/London"}, {}, LONDON,
                     id="a zoneinfo file path names its zone"),
    ],
)
def test_zone_resolution_order(
    explicit: str | None, env: dict[str, str], dotenv: dict[str, str], zone: str, tmp_path: Path
) -> None:
    assert configured_zone(explicit, env, dotenv, tmp_path).key == zone


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("0s", id="zero seconds"),
        pytest.param("0m", id="zero minutes"),
        pytest.param("0h0m", id="zero hours and zero minutes"),
        pytest.param("-5m", id="negative-looking -5m"),
        pytest.param("5", id="a number without a unit"),
        pytest.param("abc", id="letters"),
        pytest.param("1x", id="an unknown unit"),
        pytest.param("", id="nothing"),
        pytest.param("1.5h", id="a fraction"),
    ],
)
def test_bad_durations_are_rejected_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_every(text)
    assert caught.value.field == "every"
    with pytest.raises(InvalidInput) as caught:
        parse_duration(text, field="in")
    assert caught.value.field == "in"
