"""The names ``inbox`` offers (``from inbox import Inbox, preview``) are what they say, whatever was imported first."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# Loaded first, as the host and the command line load them: a submodule must not shadow a name of the package.
import inbox.api
import inbox.fire_times


def test_preview_from_the_package_is_the_function_that_previews() -> None:
    from inbox import preview

    start = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    times = preview(cron="30 2 * * *", zone=ZoneInfo("America/New_York"), start=start, count=2)
    assert [t.isoformat() for t in times] == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]


def test_inbox_from_the_package_is_the_api() -> None:
    from inbox import Inbox

    assert Inbox is inbox.api.Inbox
