"""How the dashboard says schedules, durations and zones in words."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox.web.words import duration_in_words, schedule_in_words, short_duration, zone_named


@pytest.mark.parametrize(
    ("recurrence", "words"),
    [
        ("cron 0 9 * * 1-5", "At 09:00, Monday through Friday"),
        ("cron */15 * * * *", "Every 15 minutes"),
        ("every 1h30m", "Every 1 hour 30 minutes"),
        ("every 1d", "Every 1 day"),
        ("every 2w3d", "Every 2 weeks 3 days"),
        (None, "Once"),
        ("cron not a cron", "cron not a cron"),  # what cannot be put in words is shown as stored
        ("every soon", "every soon"),
    ],
)
def test_schedules_in_words(recurrence: str | None, words: str) -> None:
    assert schedule_in_words(recurrence) == words


def test_durations_in_words() -> None:
    assert duration_in_words(timedelta(seconds=90)) == "1 minute 30 seconds"
    assert [short_duration(s) for s in (0.12, 4.25, 185, 7800, None)] == [
        "120 ms",
        "4.2 s",
        "3 min 5 s",
        "2 h 10 min",
        "\u2013",
    ]


def test_a_zone_the_browser_names_is_used_only_when_it_exists() -> None:
    fallback = ZoneInfo("UTC")
    assert zone_named("Europe/Paris", fallback) == ZoneInfo("Europe/Paris")
    for bad in (None, "", "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "x" * 100):
        assert zone_named(bad, fallback) is fallback, bad
