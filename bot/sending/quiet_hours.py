"""Quiet hours: when a bulk message may reach a contact, in their own time zone.

Pure functions of (the contact's zone or country, now). Bulk messages go out
between ``start`` and ``end`` o'clock local time (8:00-21:00; 9:00-21:00 in
Mexico). When a number's zone is unknown (the number spans several), every
zone of its country must be inside its window at once: in the US that is from
8:00 Eastern to 21:00 Pacific. Replies to a contact who just wrote are not
bulk and are not held.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from bot.defaults import (
    DEFAULT_QUIET_HOURS_END,
    DEFAULT_QUIET_HOURS_START,
    DEFAULT_QUIET_HOURS_START_MX,
)

# The zones of each country's numbers when a number does not tell its own (contiguous
# US: Alaska's and Hawaii's area codes each have a single zone, so they are known).
COUNTRY_ZONES = {
    "US": ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
           "America/Los_Angeles"),
    "MX": ("America/Cancun", "America/Mexico_City", "America/Chihuahua", "America/Hermosillo",
           "America/Mazatlan", "America/Tijuana"),
}  # fmt: skip
# Neither zone nor country known: be inside the window everywhere we organize.
UNKNOWN_ZONES = COUNTRY_ZONES["US"] + COUNTRY_ZONES["MX"]
MEXICO_ZONES = frozenset(
    COUNTRY_ZONES["MX"]
    + ("America/Merida", "America/Monterrey", "America/Matamoros", "America/Ojinaga",
       "America/Ciudad_Juarez", "America/Bahia_Banderas")
)  # fmt: skip
SEARCH_DAYS = 3


@dataclass(frozen=True)
class Window:
    """Hours of the day when bulk messages may arrive: [start, end)."""

    start: int = DEFAULT_QUIET_HOURS_START
    end: int = DEFAULT_QUIET_HOURS_END
    start_mx: int = DEFAULT_QUIET_HOURS_START_MX  # Twilio's advice for Mexico

    def hours(self, zone: str) -> tuple[int, int]:
        """(start, end) hours for a zone."""
        return (self.start_mx if zone in MEXICO_ZONES else self.start), self.end


def window_from_config(config: Mapping[str, Any]) -> Window:
    """The window set by QUIET_HOURS_START / _END / _START_MX."""
    return Window(
        config["QUIET_HOURS_START"], config["QUIET_HOURS_END"], config["QUIET_HOURS_START_MX"]
    )


def zones_for(timezone: str | None, country: str | None) -> tuple[str, ...]:
    """The zones a contact may be in: their own, or all of their country's."""
    if timezone:
        return (timezone,)
    return COUNTRY_ZONES.get(country or "", UNKNOWN_ZONES)


def is_allowed(now: dt.datetime, zones: Iterable[str], window: Window) -> bool:
    """Whether ``now`` is inside the window in every one of ``zones``."""
    for zone in zones:
        start, end = window.hours(zone)
        local = now.astimezone(_zone(zone))
        if not start <= local.hour < end:
            return False
    return True


def next_allowed(
    now: dt.datetime, timezone: str | None, country: str | None, window: Window
) -> dt.datetime:
    """The first moment at or after ``now`` when a bulk message may reach the contact."""
    zones = zones_for(timezone, country)
    if is_allowed(now, zones, window):
        return now
    for candidate in sorted(_window_starts(now, zones, window)):
        if candidate > now and is_allowed(candidate, zones, window):
            return candidate
    raise ValueError(f"no time inside {window} in all of {zones}")


def _window_starts(now: dt.datetime, zones: Iterable[str], window: Window) -> set[dt.datetime]:
    """Each zone's window start on the next few local days, in UTC."""
    starts = set()
    for zone in zones:
        tz = _zone(zone)
        start_hour, _ = window.hours(zone)
        today = now.astimezone(tz).date()
        for days in range(SEARCH_DAYS + 1):
            day = today + dt.timedelta(days=days)
            local = dt.datetime.combine(day, dt.time(start_hour), tzinfo=tz)
            starts.add(local.astimezone(dt.UTC))
    return starts


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
