"""A report as the report flow files it: its answers, and what the desk reads from them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from bot.reports import places
from bot.reports.models import Report

YES = ("yes", True)


def new_report(
    *,
    contact_id: int | None,
    flow_id: str,
    data: Mapping[str, Any],
    organization_id: int | None,
    now: dt.datetime,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Report:
    """The report row: category, urgency, anonymity and place read from the answers.

    A reporter who chose anonymity is not linked to it (``contact_id`` stays NULL).
    A pin (given, or shared as the answer to "where") wins over a text place; a pin
    abroad is kept and flagged.
    """
    answers = data.get("answers")
    answers = answers if isinstance(answers, Mapping) else {}
    anonymous = answers.get("anonymous") in YES
    place_text = answers.get("where")
    pin = pin_of(place_text)
    if pin is not None and latitude is None:
        (latitude, longitude), place_text = pin, None  # a pin is not words about a place
    if latitude is not None and longitude is not None:
        place = places.from_pin(latitude, longitude)
    else:
        place = places.from_text(place_text if isinstance(place_text, str) else None)
    category = answers.get("incident_type")
    return Report(
        contact_id=None if anonymous else contact_id,
        flow_id=flow_id,
        data=dict(data),
        organization_id=organization_id,
        category=str(category) if category else None,
        urgent=answers.get("urgent") in YES,
        anonymous=anonymous,
        place_text=place_text if isinstance(place_text, str) else None,
        latitude=latitude,
        longitude=longitude,
        adm1=place.adm1,
        adm2=place.adm2,
        outside_area=place.outside_area,
        created_at=now,
        updated_at=now,
    )


_GEO = re.compile(r"geo:(-?\d{1,2}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)")


def pin_of(answer: object) -> tuple[float, float] | None:
    """The coordinates of a shared location as the flows keep it (``geo:lat,lon``)."""
    match = _GEO.fullmatch(answer.strip()) if isinstance(answer, str) else None
    if match is None:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None
