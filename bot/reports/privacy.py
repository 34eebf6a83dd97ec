"""What each role sees of a report: restricted by default.

Admins and verifiers (permission ``SEE_REPORTERS``) see who reported and the
exact pin. Everyone else sees the municipality, or the pin snapped to the
centre of a grid cell of about 1 km, and never a name or a number; the
reporter's own words about the place are left out for them too, since they
can be an address. ``view()`` is the only way a desk page or an export reads
a report, so no page can forget a rule.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from bot.reports.models import Report

GRID_DEGREES = 0.01  # about 1.1 km north-south, 0.9-1.0 km east-west at 15-35° N
# Answers that can say where (or who) without being the place fields themselves.
PLACE_ANSWERS = frozenset({"where", "place", "location", "address"})


def snap(latitude: float, longitude: float) -> tuple[float, float]:
    """The centre of the ~1 km grid cell the point falls in."""

    def centre(value: float) -> float:
        return round(math.floor(value / GRID_DEGREES) * GRID_DEGREES + GRID_DEGREES / 2, 4)

    return centre(latitude), centre(longitude)


@dataclass(frozen=True)
class ReportView:
    """One report as a role may see it."""

    id: int
    status: str
    category: str | None
    urgent: bool
    anonymous: bool
    created_at: dt.datetime
    adm1: str | None
    adm2: str | None
    latitude: float | None  # exact for reporters-seers, snapped for others
    longitude: float | None
    exact: bool  # whether the coordinates are the pin itself
    outside_area: bool
    organization_id: int | None
    assignee_id: int | None
    duplicate_of_id: int | None
    published_at: dt.datetime | None
    place_text: str | None = None  # what they wrote about the place: reporters-seers only
    contact_id: int | None = None  # the reporter: reporters-seers only
    answers: dict[str, Any] = field(default_factory=dict)  # empty without SEE_TEXTS


def view(report: Report, *, see_reporters: bool, see_texts: bool) -> ReportView:
    """``report`` cut to what a user with these permissions may see."""
    lat, lon, exact = report.latitude, report.longitude, see_reporters
    if lat is not None and lon is not None and not see_reporters:
        lat, lon = snap(lat, lon)
    answers: dict[str, Any] = {}
    if see_texts:
        answers = {
            key: value
            for key, value in report.answers.items()
            if see_reporters or key not in PLACE_ANSWERS
        }
    return ReportView(
        id=report.id,
        status=report.status,
        category=report.category,
        urgent=report.urgent,
        anonymous=report.anonymous,
        created_at=report.created_at,
        adm1=report.adm1,
        adm2=report.adm2,
        latitude=lat,
        longitude=lon,
        exact=exact and lat is not None,
        outside_area=report.outside_area,
        organization_id=report.organization_id,
        assignee_id=report.assignee_id,
        duplicate_of_id=report.duplicate_of_id,
        published_at=report.published_at,
        place_text=report.place_text if see_reporters else None,
        contact_id=report.contact_id if see_reporters and not report.anonymous else None,
        answers=answers,
    )
