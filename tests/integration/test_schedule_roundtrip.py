"""A task scheduled through the Python API reads back, on every backend, exactly as it was echoed.

The echo of ``Inbox.schedule`` names the task's zone and its next fire times in that zone; ``Inbox.get`` and
``Inbox.tasks`` must show the same zone, the same recurrence, and a ``next_run`` (UTC) that is the same instant,
to the microsecond, as the first echoed fire time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbox import Inbox
from inbox.schedules.cron import fire_times
from inbox.views import Scheduled, Task
from tests.conftest import Clock

NEW_YORK = "America/New_York"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"
SANTIAGO = "America/Santiago"


def check_read_back(inbox: Inbox, echo: Scheduled) -> Task:
    """The task as get() and tasks() show it agrees with the echo; returns it for further checks."""
    zone = ZoneInfo(echo.timezone)
    task = inbox.get(echo.id)
    listed = {t.series_id: t for t in inbox.tasks(status="all")}[echo.series_id]
    assert listed == task
    assert task.series_id == echo.series_id
    assert task.timezone == echo.timezone
    assert task.status == "active"
    assert task.next_run is not None and task.next_run_local is not None
    assert task.next_run.tzinfo is not None and task.next_run.utcoffset() == timedelta(0)
    # (compared in UTC: by PEP 495, == between zones is False for a time in a fold, whatever the instants)
    assert task.next_run == echo.next_runs[0].astimezone(UTC)
    assert task.next_run.isoformat() == echo.next_runs[0].astimezone(UTC).isoformat()  # to the microsecond
    assert task.next_run_local.isoformat() == echo.next_runs[0].isoformat()
    for run in echo.next_runs:
        assert run.utcoffset() == run.astimezone(zone).utcoffset(), f"{run} is not in {echo.timezone}"
    assert all(a.timestamp() < b.timestamp() for a, b in pairwise(echo.next_runs))
    return task


CASES = [
    # (now, schedule options, tz, expected recurrence, expected next runs in the task's zone)
    pytest.param(
        "2026-03-07T12:00:00+00:00",
        {"cron": "30 2 * * *"},
        NEW_YORK,
        "cron 30 2 * * *",
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"],
        id="cron 30 2 * * * in New York first fires at 03:00 EDT on 2026-03-08, the end of the gap",
    ),
    pytest.param(
        "2026-10-31T12:00:00+00:00",
        {"cron": "30 1 * * *"},
        NEW_YORK,
        "cron 30 1 * * *",
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", "2026-11-03T01:30:00-05:00"],
        id="cron 30 1 * * * in New York fires once on 2026-11-01, at 01:30 EDT",
    ),
    pytest.param(
        "2026-11-01T05:00:00+00:00",
        {"cron": "30 * * * *"},
        NEW_YORK,
        "cron 30 * * * *",
        ["2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:30:00-05:00"],
        id="cron 30 * * * * in New York fires at both 01:30s on 2026-11-01",
    ),
    pytest.param(
        "2026-03-29T00:10:00+00:00",
        {"cron": "30 * * * *"},
        LONDON,
        "cron 30 * * * *",
        ["2026-03-29T00:30:00+00:00", "2026-03-29T02:30:00+01:00", "2026-03-29T03:30:00+01:00"],
        id="cron 30 * * * * in London skips the 01:30 the gap swallowed on 2026-03-29",
    ),
    pytest.param(
        "2026-10-20T12:00:00+00:00",
        {"cron": "30 1 * * 0"},
        LONDON,
        "cron 30 1 * * 0",
        ["2026-10-25T01:30:00+01:00", "2026-11-01T01:30:00+00:00", "2026-11-08T01:30:00+00:00"],
        id="cron 30 1 * * 0 in London fires at 01:30 BST on 2026-10-25, then at 01:30 GMT",
    ),
    pytest.param(
        "2026-03-25T12:00:00+00:00",
        {"cron": "@weekly"},
        LONDON,
        "cron 0 0 * * 0",
        ["2026-03-29T00:00:00+00:00", "2026-04-05T00:00:00+01:00", "2026-04-12T00:00:00+01:00"],
        id="@weekly in London is stored as cron 0 0 * * 0 and fires at Sunday midnight GMT, then BST",
    ),
    pytest.param(
        "2026-09-05T12:00:00+00:00",
        {"cron": "0 0 * * *"},
        SANTIAGO,
        "cron 0 0 * * *",
        ["2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00", "2026-09-08T00:00:00-03:00"],
        id="cron 0 0 * * * in Santiago fires at 01:00 on 2026-09-06, when midnight does not exist",
    ),
    pytest.param(
        "2026-10-03T12:00:00+00:00",
        {"cron": "15 2 * * *"},
        LORD_HOWE,
        "cron 15 2 * * *",
        ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00", "2026-10-06T02:15:00+11:00"],
        id="cron 15 2 * * * in Lord Howe fires at 02:30 on 2026-10-04, the end of the 30-minute gap",
    ),
    pytest.param(
        "2026-01-01T12:00:00+00:00",
        {"cron": "0 9 29 2 *"},
        NEW_YORK,
        "cron 0 9 29 2 *",
        ["2028-02-29T09:00:00-05:00", "2032-02-29T09:00:00-05:00", "2036-02-29T09:00:00-05:00"],
        id="cron 0 9 29 2 * in New York next fires on 2028-02-29",
    ),
    pytest.param(
        "2026-03-06T14:00:00+00:00",
        {"every": "1d"},
        NEW_YORK,
        "every 1d",
        ["2026-03-07T09:00:00-05:00", "2026-03-08T10:00:00-04:00", "2026-03-09T10:00:00-04:00"],
        id="every 1d in New York is 24 elapsed hours: 09:00 EST becomes 10:00 EDT after the spring change",
    ),
    pytest.param(
        "2026-04-04T13:00:00+00:00",
        {"every": "90m"},
        LORD_HOWE,
        "every 1h30m",
        ["2026-04-05T01:30:00+11:00", "2026-04-05T02:30:00+10:30", "2026-04-05T04:00:00+10:30"],
        id="every 90m in Lord Howe is stored as every 1h30m and is elapsed time: 01:30 +11:00, then 02:30 +10:30",
    ),
    pytest.param(
        "2026-06-01T12:00:00+00:00",
        {"every": "5m"},
        None,
        "every 5m",
        ["2026-06-01T12:05:00+00:00", "2026-06-01T12:10:00+00:00", "2026-06-01T12:15:00+00:00"],
        id="every 5m without --tz lives in the configured zone (UTC here)",
    ),
    pytest.param(
        "2026-03-01T12:00:00+00:00",
        {"at": "2026-03-08T02:30"},
        NEW_YORK,
        None,
        ["2026-03-08T03:00:00-04:00"],
        id="at 2026-03-08T02:30 in New York is 03:00 EDT, the end of the gap",
    ),
    pytest.param(
        "2026-03-01T12:00:00+00:00",
        {"at": "2026-11-01T01:30"},
        NEW_YORK,
        None,
        ["2026-11-01T01:30:00-04:00"],
        id="at 2026-11-01T01:30 in New York is the first 01:30 (EDT)",
    ),
    pytest.param(
        "2026-03-01T12:00:00+00:00",
        {"at": "2026-11-01T01:30:00.123456-05:00"},
        NEW_YORK,
        None,
        ["2026-11-01T01:30:00.123456-05:00"],
        id="at 01:30:00.123456-05:00 on 2026-11-01 is that instant, the second 01:30, to the microsecond",
    ),
    pytest.param(
        "2026-03-01T12:00:00+00:00",
        {"at": "2026-10-25T01:30:45.000001Z"},
        LONDON,
        None,
        ["2026-10-25T01:30:45.000001+00:00"],
        id="at 01:30:45.000001Z on 2026-10-25 is that instant, the second 01:30 in London (GMT)",
    ),
]


@pytest.mark.parametrize(("now", "options", "tz", "recurrence", "expected"), CASES)
def test_a_scheduled_task_reads_back_as_echoed(
    inbox: Inbox,
    clock: Clock,
    now: str,
    options: dict[str, str],
    tz: str | None,
    recurrence: str | None,
    expected: list[str],
) -> None:
    clock.set(datetime.fromisoformat(now))
    echo = inbox.schedule(
        "check the house", tz=tz, cron=options.get("cron"), every=options.get("every"), at=options.get("at")
    )
    assert [t.isoformat() for t in echo.next_runs] == expected
    assert echo.timezone == (tz or "UTC")
    task = check_read_back(inbox, echo)
    assert task.recurrence == recurrence
    if recurrence is not None:
        assert echo.schedule == recurrence
        assert task.schedule == recurrence
    else:
        assert task.schedule == f"at {expected[0]}"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            {"cron": "0 9 * * *"},
            "2026-06-01T09:00:00+00:00",
            id="cron 0 9 * * * created at 08:59:59.5 first fires at 09:00 that day",
        ),
        pytest.param(
            {"at": "2026-06-01T08:59:59.800000Z"},
            "2026-06-01T08:59:59.800000+00:00",
            id="at 08:59:59.8 created at 08:59:59.5 is in the future and accepted",
        ),
    ],
)
def test_a_fire_time_less_than_a_second_ahead_is_kept(
    inbox: Inbox, clock: Clock, options: dict[str, str], expected: str
) -> None:
    clock.set(datetime(2026, 6, 1, 8, 59, 59, 500000, tzinfo=UTC))
    echo = inbox.schedule("stand up", cron=options.get("cron"), at=options.get("at"))
    assert echo.next_runs[0].isoformat() == expected
    check_read_back(inbox, echo)


def test_a_task_keeps_its_zone_when_the_configured_zone_changes(store_url: str, clock: Clock, home: Path) -> None:
    clock.set(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))
    with Inbox(store_url, clock=clock, env={"INBOX_HOME": str(home), "INBOX_TZ": NEW_YORK}) as first:
        echo = first.schedule("water the plants", cron="30 2 * * *")
    with Inbox(store_url, clock=clock, env={"INBOX_HOME": str(home), "INBOX_TZ": LONDON}) as later:
        task = later.get(echo.id)
    assert echo.timezone == task.timezone == NEW_YORK
    assert task.next_run_local is not None
    assert task.next_run_local.isoformat() == "2026-03-08T03:00:00-04:00"


ZONES = [NEW_YORK, LONDON, LORD_HOWE, SANTIAGO, "Pacific/Chatham", "Asia/Kolkata", "UTC", "Europe/Dublin"]
CRONS = [
    "30 2 * * *",
    "30 1 * * *",
    "0 0 * * *",
    "30 * * * *",
    "*/20 1-3 * * *",
    "0 */2 * * *",
    "45 2 * * 0",
    "@daily",
    "15 1,2,3 * * 1-5",
    "0 23 * * 6",
]
# Start instants: a day or two before a clock change of the zones above, in 2026 and 2031.
NEAR_CHANGES = [
    datetime(2026, 3, 7, 6, 0, tzinfo=UTC),
    datetime(2026, 3, 28, 6, 0, tzinfo=UTC),
    datetime(2026, 4, 3, 18, 0, tzinfo=UTC),
    datetime(2026, 9, 4, 6, 0, tzinfo=UTC),
    datetime(2026, 9, 25, 6, 0, tzinfo=UTC),
    datetime(2026, 10, 2, 6, 0, tzinfo=UTC),
    datetime(2026, 10, 24, 6, 0, tzinfo=UTC),
    datetime(2026, 10, 31, 6, 0, tzinfo=UTC),
    datetime(2031, 3, 8, 6, 0, tzinfo=UTC),
    datetime(2031, 11, 1, 6, 0, tzinfo=UTC),
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    expr=st.sampled_from(CRONS),
    zone=st.sampled_from(ZONES),
    start=st.sampled_from(NEAR_CHANGES),
    shift=st.integers(0, 48 * 3600),
    name=st.uuids(),
)
def test_random_cron_tasks_read_back_as_echoed(
    inbox: Inbox, clock: Clock, expr: str, zone: str, start: datetime, shift: int, name: UUID
) -> None:
    """Every example adds a task of its own (a unique name) to the same store and reads that task back."""
    clock.set(start + timedelta(seconds=shift))
    echo = inbox.schedule("tick", cron=expr, tz=zone, name=f"task-{name}")
    assert echo.name == f"task-{name}"
    expected = fire_times(expr, ZoneInfo(zone), clock.now, 3)
    assert [t.astimezone(UTC) for t in echo.next_runs] == expected
    assert [t.isoformat() for t in echo.next_runs] == [t.astimezone(ZoneInfo(zone)).isoformat() for t in expected]
    task = check_read_back(inbox, echo)
    assert task.name == f"task-{name}"
    assert task.recurrence == echo.schedule
