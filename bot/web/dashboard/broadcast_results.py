"""A broadcast's results page: ``bot.broadcasts.results`` turned into tables and charts.

The routes live with the other broadcast pages (``dashboard.broadcasts``), so the
same check makes another organization's broadcast a 404; this module only
names the figures and reasons in the page's language and lays the numbers out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.broadcasts import results
from bot.broadcasts.models import Broadcast
from bot.i18n import N_
from bot.partners.models import Organization
from bot.web.dashboard.charts import Chart, Series, bar_chart
from bot.web.dashboard.labels import label
from bot.web.dashboard.language import _, current_language

FIGURES = {
    results.SENT: N_("Sent (accepted by Twilio)"),
    results.DELIVERED: N_("Delivered"),
    results.FAILED: N_("Failed"),
    results.SKIPPED: N_("Skipped"),
    results.REPLIED: N_("Replied within 72 hours"),
    results.OPTED_OUT: N_("Opted out within 72 hours"),
    results.SIGNED: N_("Signed the petition within 72 hours"),
    results.RSVPS: N_("RSVPs within 72 hours"),
    results.CLICKED: N_("Unique clicks per link"),
}
REASONS = {
    results.FAILED: {
        "opted_out": N_("Opted out (the carrier says so)"),
        "invalid_number": N_("Invalid number"),
        "outside_whatsapp_window": N_("Outside WhatsApp's 24-hour window"),
        "rate_limited_pause_channel": N_("Sender over its rate limit"),
        "retry": N_("Temporary error, retries used up"),
        "unknown_fate": N_("Unknown fate"),
        "permanent_failure": N_("Refused by Twilio or the carrier"),
        "none": N_("Other"),
        results.UNKNOWN_REASON: N_("No error code"),
    },
    results.SKIPPED: {
        "opted_out": N_("Opted out or invalid number"),
        "no_consent": N_("No opt-in on record"),
        "whatsapp_window": N_("WhatsApp window closed"),
        "expired": N_("Too late (quiet hours)"),
        "canceled": N_("Canceled"),
    },
    results.RSVPS: {"yes": N_("Yes"), "no": N_("No"), "maybe": N_("Maybe")},
    results.CLICKED: {},  # one line per link, titled by its URL
}
NOT_TRACKED = {"poll_answers": N_("Poll answers")}
CHART_FIGURES = (results.SENT, results.DELIVERED, results.REPLIED, results.OPTED_OUT)
COALITION = "coalition"  # the partner column's value for the coalition directly


@dataclass(frozen=True)
class Column:
    dimension: str  # "language", "channel", "partner"
    key: str  # "es", "sms", a partner's slug or "coalition"
    value: Any  # the value in the results' rows
    title: str


@dataclass(frozen=True)
class Line:
    key: str  # "sent", "failed.invalid_number"
    title: str
    total: int
    cells: tuple[tuple[Column, int], ...]
    reason: bool  # a reason's line, under its figure


def partners(session: Session) -> dict[int, Organization]:
    return {o.id: o for o in session.scalars(select(Organization))}


def page(session: Session, item: Broadcast) -> dict[str, Any]:
    """The template's context for one broadcast's results."""
    found = results.results(session, item.id)
    orgs = partners(session)
    language = current_language()

    def partner_title(value: int | None) -> str:
        return orgs[value].name(language) if value in orgs else _("Coalition (direct)")

    columns = [
        *(Column("language", v, v, label("language", v)) for v in found.values("language")),
        *(Column("channel", v, v, label("channel", v)) for v in found.values("channel")),
        *(
            Column("partner", orgs[v].slug if v in orgs else COALITION, v, partner_title(v))
            for v in found.values("partner_id")
        ),
    ]
    lines = []
    for figure in found.tracked:
        lines.append(_line(found, figure, None, _(FIGURES[figure]), columns))
        if figure in REASONS:
            names = REASONS[figure]
            for reason in sorted(found.by(figure, "reason"), key=_reason_order):
                title = _(names[reason]) if reason in names else str(reason)
                if figure == results.CLICKED:  # the reason is the link's position
                    title = found.links.get(reason, str(reason))
                lines.append(_line(found, figure, reason, title, columns))
    return {
        "item": item,
        "found": found,
        "columns": columns,
        "lines": lines,
        "not_tracked": [_(NOT_TRACKED[key]) for key in results.NOT_TRACKED],
        "language_chart": _chart(found, "language", lambda v: label("language", v)),
        "partner_chart": _chart(found, "partner_id", partner_title),
    }


def _reason_order(reason: object) -> tuple[int, str]:
    """Links by their position (2 before 10); other reasons by name."""
    text = str(reason)
    return (int(text), "") if text.isdigit() else (0, text)


def _line(
    found: results.Results, figure: str, reason: str | None, title: str, columns: list[Column]
) -> Line:
    rows = [r for r in found.of(figure) if reason is None or r.reason == reason]
    attribute = {"language": "language", "channel": "channel", "partner": "partner_id"}
    cells = tuple(
        (c, sum(r.count for r in rows if getattr(r, attribute[c.dimension]) == c.value))
        for c in columns
    )
    key = f"{figure}.{reason}" if reason else figure
    return Line(key, title, sum(r.count for r in rows), cells, reason is not None)


def _chart(found: results.Results, dimension: str, title: Any) -> Chart | None:
    values = found.values(dimension)
    if not values:
        return None
    series = [
        Series(_(FIGURES[figure]), tuple(found.by(figure, dimension).get(v, 0) for v in values))
        for figure in CHART_FIGURES
    ]
    return bar_chart([title(v) for v in values], series)


def csv_text(session: Session, item: Broadcast) -> str:
    """The same numbers as ``puente broadcast results N --csv``."""
    found = results.results(session, item.id)
    slugs = {i: o.slug for i, o in partners(session).items()}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("figure", "language", "channel", "partner", "count"))
    writer.writerows(results.csv_rows(found, slugs))
    return out.getvalue()
