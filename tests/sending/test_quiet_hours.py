"""Quiet hours as a table: (zone, country, now UTC) -> first moment a bulk message may arrive."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.sending.quiet_hours import Window, next_allowed

W = Window()


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


CASES = [
    # zone, country, now (UTC), first allowed (UTC)
    ("America/New_York", "US", "2026-06-03T16:00", "2026-06-03T16:00"),  # 12:00 EDT: now
    ("America/New_York", "US", "2026-06-03T11:00", "2026-06-03T12:00"),  # 07:00 -> 08:00 EDT
    ("America/Los_Angeles", "US", "2026-06-04T04:30", "2026-06-04T15:00"),  # 21:30 PDT -> 08:00
    ("America/Los_Angeles", "US", "2026-06-04T03:59", "2026-06-04T03:59"),  # 20:59 PDT
    ("America/Mexico_City", "MX", "2026-06-03T14:30", "2026-06-03T15:00"),  # 08:30 -> 09:00 CST
    ("America/Mexico_City", "MX", "2026-06-04T03:00", "2026-06-04T15:00"),  # 21:00 -> next 09:00
    ("America/Tijuana", "MX", "2026-06-03T15:00", "2026-06-03T16:00"),  # 08:00 PDT -> 09:00
    ("America/Cancun", "MX", "2026-06-03T13:30", "2026-06-03T14:00"),  # 08:30 EST -> 09:00
    # Several zones: every zone of the country must be inside its window.
    (None, "US", "2026-06-03T12:30", "2026-06-03T15:00"),  # 08:00 in Los Angeles
    (None, "US", "2026-06-04T01:30", "2026-06-04T15:00"),  # 21:30 EDT: wait for 08:00 in LA
    (None, "MX", "2026-06-03T15:30", "2026-06-03T16:00"),  # Tijuana 09:00 PDT
    # DST: US clocks go back on 2026-11-01; 08:00 EST is 13:00 UTC.
    ("America/New_York", "US", "2026-11-02T12:30", "2026-11-02T13:00"),
]


@pytest.mark.parametrize(("zone", "country", "now", "expected"), CASES)
def test_first_allowed_moment(zone, country, now, expected):
    assert next_allowed(utc(now), zone, country, W) == utc(expected)


def test_the_window_is_configurable():
    late = Window(start=10, end=20, start_mx=10)
    assert next_allowed(utc("2026-06-03T13:00"), "America/New_York", "US", late) == utc(
        "2026-06-03T14:00"
    )
