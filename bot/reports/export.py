"""Reports out of the desk: CSV with an HXL hashtag row, and JSON.

HXL (the Humanitarian Exchange Language) puts a row of hashtags under the
headers so other monitoring groups' tools read the columns without a mapping.
What goes out is each report's ``privacy.view`` for the exporting role, plus
two rules of its own: no reporter is ever exported, and exact coordinates go
only to admins (everyone else gets the ~1 km grid cell).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from bot.reports import places
from bot.reports.privacy import ReportView, snap
from bot.text import spreadsheet_safe

COLUMNS = (
    ("id", "#event+id"),
    ("reported_at", "#date+reported"),
    ("occurred", "#date+occurred+text"),
    ("category", "#meta+category"),
    ("status", "#status+verification"),
    ("urgent", "#meta+urgent"),
    ("adm1_code", "#adm1+code"),
    ("adm1_name", "#adm1+name"),
    ("adm2_name", "#adm2+name"),
    ("lat", "#geo+lat"),
    ("lon", "#geo+lon"),
    ("coordinates", "#geo+precision"),
    ("description", "#description"),
)


def row(report: ReportView, *, exact: bool) -> dict[str, Any]:
    """One report as an export row; ``exact``: the pin itself (admins only)."""
    lat, lon = report.latitude, report.longitude
    precision = ""
    if lat is not None and lon is not None:
        if report.exact and not exact:
            lat, lon = snap(lat, lon)
        precision = "exact" if report.exact and exact else "grid-1km"
    answers: Mapping[str, Any] = report.answers
    return {
        "id": report.id,
        "reported_at": report.created_at.date().isoformat(),
        "occurred": str(answers.get("when", "") or ""),
        "category": report.category or "",
        "status": report.status,
        "urgent": "yes" if report.urgent else "no",
        "adm1_code": report.adm1 or "",
        "adm1_name": places.state_name(report.adm1),
        "adm2_name": report.adm2 or "",
        "lat": lat if lat is not None else "",
        "lon": lon if lon is not None else "",
        "coordinates": precision,
        "description": str(answers.get("what", "") or ""),
    }


def to_csv(reports: Iterable[ReportView], *, exact: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([name for name, _ in COLUMNS])
    writer.writerow([tag for _, tag in COLUMNS])
    for report in reports:
        values = row(report, exact=exact)
        writer.writerow([spreadsheet_safe(values[name]) for name, _ in COLUMNS])
    return out.getvalue()


def to_json(reports: Iterable[ReportView], *, exact: bool) -> dict[str, Any]:
    return {
        "hxl": dict(COLUMNS),
        "reports": [row(report, exact=exact) for report in reports],
    }
