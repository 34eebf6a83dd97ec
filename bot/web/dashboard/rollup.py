"""The coalition's roll-up: every partner's members, joins, leaves, opt-outs and reach.

Coalition admins only (MANAGE in the coalition). The numbers come from
`bot.partners.rollup` (members) and `bot.broadcasts.rollup` (broadcasts and
reply rates), a fixed number of GROUP BY queries whatever the size of the
coalition; this module only arranges them as a chart, tables and a CSV.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, g, render_template, request
from sqlalchemy.orm import Session

from bot.accounts.roles import MANAGE
from bot.broadcasts.rollup import Reach, reach
from bot.db import get_db, get_session, utcnow
from bot.i18n import N_
from bot.partners import rollup as data
from bot.partners.models import ROOT_SLUG
from bot.web.dashboard.auth import record, require
from bot.web.dashboard.charts import Bar, Chart, Series, bar_chart
from bot.web.dashboard.labels import label
from bot.web.dashboard.language import _, current_language, format_day

bp = Blueprint("rollup", __name__)

WEEKS, MAX_WEEKS = 12, 104
TOP = 5  # partners drawn on their own in the chart; the rest are "others"
COUNTRIES = {"US": N_("United States"), "MX": N_("Mexico")}
CSV_COLUMNS = (
    "organization_slug", "organization", "breakdown", "group", "members_now", "joins",
    "leaves", "opt_outs", "broadcasts", "contacts_sent", "contacts_replied", "reply_rate",
    "brought",
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One organization's line in the table (the coalition's direct joins: ``id`` None)."""

    id: int | None
    slug: str
    name: str
    archived: bool
    counts: data.Counts
    reach: Reach
    brought: int
    weekly: dict[str, list[int]]


def weeks_asked() -> int:
    """``?weeks=``: how many weeks back, 1 to MAX_WEEKS (anything else: the default)."""
    try:
        weeks = int(request.args.get("weeks", WEEKS))
    except ValueError:
        return WEEKS
    return weeks if 1 <= weeks <= MAX_WEEKS else WEEKS


def _require_coalition() -> None:
    """Acting for a partner (when the dashboard knows whom one acts for) is not enough."""
    scope = g.get("scope")
    acting = getattr(scope, "organization_id", None) if scope is not None else None
    if acting is not None:
        abort(403)


def _rows(result: data.Rollup, reaches: dict[int | None, Reach], lang: str) -> list[Row]:
    def row(org_id: int | None, slug: str, name: str, archived: bool) -> Row:
        return Row(
            org_id, slug, name, archived,
            result.totals.get(org_id, data.Counts()),
            reaches.get(org_id, Reach()),
            result.brought.get(org_id, 0),
            {m: list(result.weekly[m].get(org_id, [0] * len(result.starts))) for m in data.METRICS},
        )  # fmt: skip

    partners = [row(p.id, p.slug, p.name(lang), p.archived) for p in result.partners]
    partners.sort(key=lambda r: (-r.counts.members, r.slug))
    return [row(data.DIRECT, ROOT_SLUG, _("Coalition (direct)"), False), *partners]


def stacked_chart(labels: Sequence[str], series: Sequence[Series]) -> Chart:
    """Bars stacked per label: ``bar_chart`` of the totals, each bar cut by series."""
    totals = tuple(sum(one.values[i] for one in series) for i in range(len(labels)))
    base = bar_chart(labels, [Series("", totals)])
    bars = []
    for i, whole in enumerate(base.bars):
        unit = whole.height / totals[i] if totals[i] else 0
        bottom = whole.y + whole.height
        for j, one in enumerate(series):
            value = one.values[i]
            if value:
                bottom -= value * unit
                title = f"{labels[i]} · {one.label}: {value:,}"
                bars.append(Bar(f"s{j}", whole.x, bottom, whole.width, value * unit, title))
    return dataclasses.replace(base, bars=tuple(bars), series=tuple(series))


def joins_chart(rows: Sequence[Row], labels: Sequence[str]) -> Chart:
    """Joins per week: the TOP organizations by joins, the rest summed as "others"."""
    ranked = sorted(rows, key=lambda r: (-r.counts.joins, r.slug))
    shown = [r for r in ranked[:TOP] if r.counts.joins]
    rest = [r for r in ranked if r not in shown]
    series = [Series(r.name, tuple(r.weekly["joins"])) for r in shown]
    if any(r.counts.joins for r in rest):
        others = [sum(r.weekly["joins"][i] for r in rest) for i in range(len(labels))]
        series.append(Series(_("Others"), tuple(others)))
    return stacked_chart(labels, series or [Series(_("Joins"), (0,) * len(labels))])


def country_name(code: str | None) -> str:
    if code is None:
        return _("Unknown")
    msgid = COUNTRIES.get(code)
    return _(msgid) if msgid else code


def _context(session: Session) -> dict[str, Any]:
    weeks = weeks_asked()
    starts = data.week_starts(utcnow().date(), weeks)
    result = data.rollup(session, starts)
    since = dt.datetime.combine(starts[0], dt.time(), dt.UTC)
    lang = current_language()
    rows = _rows(result, reach(session, since), lang)
    names: dict[int | None, str] = {row.id: row.name for row in rows}
    return {"weeks": weeks, "starts": starts, "result": result, "rows": rows, "names": names}


@bp.get("/rollup")
@require(MANAGE)
def page() -> str:
    """The roll-up page."""
    _require_coalition()
    context = _context(get_session())
    labels = [format_day(day) for day in context["starts"]]
    return render_template(
        "dashboard/rollup.html",
        joins=joins_chart(context["rows"], labels),
        week_labels=labels,
        country_name=country_name,
        language_label=lambda code: label("language", code),
        max_weeks=MAX_WEEKS,
        **context,
    )


@bp.get("/rollup.csv")
@require(MANAGE)
def export() -> Response:
    """The table as CSV: per organization, then by language, country, week and origin."""
    _require_coalition()
    with get_db().session() as session:  # closed before the audit entry is written
        context = _context(session)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in csv_rows(context["rows"], context["result"], context["names"]):
        writer.writerow([_cell(value) for value in line])
    record("rollup.export", None, weeks=context["weeks"])
    filename = f"puente-rollup-{utcnow():%Y%m%d}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def csv_rows(
    rows: Sequence[Row], result: data.Rollup, names: dict[int | None, str]
) -> Iterator[list[Any]]:
    slugs = {row.id: row.slug for row in rows}
    for row in rows:
        c, r = row.counts, row.reach
        rate = "" if r.reply_rate is None else f"{r.reply_rate:.3f}"
        yield [
            row.slug, row.name, "all", "", c.members, c.joins, c.leaves, c.opt_outs,
            r.broadcasts, r.sent_to, r.replied, rate, row.brought,
        ]  # fmt: skip
        for kind, groups in (
            ("language", result.by_language.get(row.id, {})),
            ("country", result.by_country.get(row.id, {})),
        ):
            for key in sorted(groups, key=lambda k: k or ""):
                g_ = groups[key]
                yield [row.slug, row.name, kind, key or "", g_.members, g_.joins, g_.leaves,
                       g_.opt_outs, "", "", "", "", ""]  # fmt: skip
        for i, start in enumerate(result.starts):
            w = row.weekly
            yield [row.slug, row.name, "week", start.isoformat(), "", w["joins"][i],
                   w["leaves"][i], w["opt_outs"][i], "", "", "", "", ""]  # fmt: skip
        for via, members in sorted(
            result.came_through.get(row.id, {}).items(), key=lambda item: -item[1]
        ):
            yield [row.slug, row.name, "came_through", slugs.get(via, names.get(via, "")),
                   members, "", "", "", "", "", "", "", ""]  # fmt: skip


def _cell(value: Any) -> Any:
    """No spreadsheet formula from a partner's name."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
