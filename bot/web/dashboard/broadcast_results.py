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

from bot.broadcasts import broadcast, comparison, results, variants
from bot.broadcasts.models import BROADCAST_CANCELED, BROADCAST_DONE, Broadcast
from bot.i18n import N_
from bot.partners.models import Organization
from bot.polls import polls, tally
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
    results.ANSWERED: N_("Poll answers (each person's latest)"),
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
    results.ANSWERED: {},  # one line per choice, titled by it in the page's language
}
NOT_TRACKED: dict[str, str] = {}  # figures not counted yet (results.NOT_TRACKED)
# The charts' bars, each when it applies to the broadcast (tracked links, a
# petition, an event); six at most, one colour each, so opt-outs always show and
# a call with all three loses its RSVP bar (still in the table).
CHART_FIGURES = (
    results.SENT,
    results.DELIVERED,
    results.REPLIED,
    results.OPTED_OUT,
    results.CLICKED,
    results.SIGNED,
    results.RSVPS,
)
CHART_LABELS = {results.CLICKED: N_("Unique clicks (all links)")}
CHART_MOST = 6
COALITION = "coalition"  # the partner column's value for the coalition directly


@dataclass(frozen=True)
class Column:
    dimension: str  # "language", "channel", "partner", "variant", "variant_language"
    key: str  # "es", "sms", a partner's slug or "coalition", "A", "A-es"
    value: Any  # the value in the results' rows ("variant_language": (variant, language))
    title: str


# The rows' attribute(s) each column dimension reads.
ATTRIBUTES = {
    "language": ("language",),
    "channel": ("channel",),
    "partner": ("partner_id",),
    "variant": ("variant",),
    "variant_language": ("variant", "language"),
}


def _value(row: results.Row, dimension: str) -> Any:
    names = ATTRIBUTES[dimension]
    values = tuple(getattr(row, name) for name in names)
    return values if len(values) > 1 else values[0]


@dataclass(frozen=True)
class Compared:
    """One figure of an A/B test, its two variants side by side, in the page's language."""

    key: str  # "replied", "signed"
    title: str
    figure: comparison.Figure
    verdict: str


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
    found = tally.broadcast_results(session, item.id)
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
        *_variant_columns(found),
    ]
    poll = polls.for_broadcast(session, item.id)
    choices = {c["value"]: c.get(language) or c["value"] for c in poll.choices} if poll else {}
    lines = []
    for figure in found.tracked:
        lines.append(_line(found, figure, None, _(FIGURES[figure]), columns))
        if figure in REASONS:
            names = REASONS[figure]
            for reason in sorted(found.by(figure, "reason"), key=_reason_order):
                title = _(names[reason]) if reason in names else str(reason)
                if figure == results.CLICKED:  # the reason is the link's position
                    title = found.links.get(reason, str(reason))
                elif figure == results.ANSWERED:  # the reason is the choice's value
                    title = choices.get(reason, str(reason))
                lines.append(_line(found, figure, reason, title, columns))
    return {
        "item": item,
        "found": found,
        "columns": columns,
        "lines": lines,
        "not_tracked": [_(NOT_TRACKED[key]) for key in results.NOT_TRACKED],
        "language_chart": _chart(found, "language", lambda v: label("language", v)),
        "partner_chart": _chart(found, "partner_id", partner_title),
        **_ab_test(session, item, found),
    }


def _variant_columns(found: results.Results) -> list[Column]:
    """An A/B test's columns: each variant, then each variant in each language."""
    if not results.has_variants(found):
        return []
    shown = [v for v in variants.VARIANTS if v in found.values("variant")]
    languages = [v for v in found.values("language")]
    return [
        *(Column("variant", v, v, _("Variant {name}", name=v)) for v in shown),
        *(
            Column("variant_language", f"{v}-{lang}", (v, lang), f"{v} · {label('language', lang)}")
            for v in shown
            for lang in languages
        ),
    ]


def _ab_test(session: Session, item: Broadcast, found: results.Results) -> dict[str, Any]:
    """The A/B test's comparison and whether its winner may be sent to the rest now."""
    if not broadcast.is_ab_test(item):
        return {"ab_test": None}
    compared = results.comparison(found)
    figures = []
    for figure in compared.figures:
        msgid, values = comparison.verdict(figure)
        values["figure"] = _(values["figure"])
        title = _(FIGURES[figure.name]) if figure.name in FIGURES else figure.name
        figures.append(Compared(figure.name, title, figure, _(msgid, **values)))
    winners = session.scalars(select(Broadcast).where(Broadcast.winner_of_id == item.id)).all()
    waiting = (item.test_share or variants.FULL_SHARE) < variants.FULL_SHARE
    sendable = (
        waiting
        and item.status == BROADCAST_DONE
        and all(w.status == BROADCAST_CANCELED for w in winners)
    )
    return {
        "ab_test": compared,
        "compared": figures,
        "winners": winners,
        "winner_sendable": sendable,
        "rest_waiting": waiting,
    }


def _reason_order(reason: object) -> tuple[int, str]:
    """Links by their position (2 before 10); other reasons by name."""
    text = str(reason)
    return (int(text), "") if text.isdigit() else (0, text)


def _line(
    found: results.Results, figure: str, reason: str | None, title: str, columns: list[Column]
) -> Line:
    rows = [r for r in found.of(figure) if reason is None or r.reason == reason]
    cells = tuple(
        (c, sum(r.count for r in rows if _value(r, c.dimension) == c.value)) for c in columns
    )
    key = f"{figure}.{reason}" if reason else figure
    return Line(key, title, sum(r.count for r in rows), cells, reason is not None)


def _chart(found: results.Results, dimension: str, title: Any) -> Chart | None:
    values = found.values(dimension)
    if not values:
        return None
    shown = [f for f in CHART_FIGURES if f in found.tracked][:CHART_MOST]
    series = [
        Series(
            _(CHART_LABELS.get(figure, FIGURES[figure])),
            tuple(found.by(figure, dimension).get(v, 0) for v in values),
        )
        for figure in shown
    ]
    return bar_chart([title(v) for v in values], series)


def csv_text(session: Session, item: Broadcast) -> str:
    """The same numbers as ``puente broadcast results N --csv``."""
    found = tally.broadcast_results(session, item.id)
    slugs = {i: o.slug for i, o in partners(session).items()}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(results.csv_header(found))
    writer.writerows(results.csv_rows(found, slugs))
    return out.getvalue()
