"""Petitions: the list with each one's progress, the create form, closing, and a petition's
page (signatures per day, by state, by partner, by language) with its export for delivery.

Who sees what (the organization one acts for, ``g.scope`` from ``bot.web.dashboard.scope``):

- the coalition sees every petition and every signature;
- a partner sees its own petitions with all their signatures, and the coalition's petitions
  with only the signatures of the people it brought (``Signature.organization_id``): their
  counts, charts and exports are those of its members; another partner's petition is a 404.

The export (CSV and a printable page) has name, postal code, state, country and date. A
phone column is there only for roles that may see numbers (``SEE_PHONES``), and only when
asked (``?phones=1``): a copy for delivery carries none. Masked roles get no phone column
at all, and viewers (who may not see names) no export. Creating, closing and every export
are written to the audit log.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import ColumnElement, func, null, select, true
from sqlalchemy.orm import Session

from bot.accounts import audit
from bot.accounts.roles import EDIT, SEE_PHONES, SEE_TEXTS
from bot.contacts.models import Contact
from bot.db import get_db, get_session, utcnow
from bot.flows.model import FlowSet
from bot.i18n import LANGUAGES, N_
from bot.partners import organizations
from bot.partners.models import Organization, OrganizationKeyword
from bot.partners.organizations import PartnerError
from bot.petitions import petitions
from bot.petitions.models import Petition, Signature
from bot.petitions.petitions import TARGET_COUNTRIES, PetitionError
from bot.web.dashboard import scope
from bot.web.dashboard.auth import client_ip, current_user, require
from bot.web.dashboard.charts import Chart, Series, bar_chart
from bot.web.dashboard.labels import label
from bot.web.dashboard.language import _, current_language, explained, format_day
from bot.web.dashboard.masking import may

bp = Blueprint("petitions", __name__, url_prefix="/petitions")

FIELDS = (
    "slug", "title_es", "title_en", "text_es", "text_en", "target", "target_country",
    "goal", "keywords_es", "keywords_en", "partner",
)  # fmt: skip
MAX_DAYS = 120  # the chart shows at most the last 120 days of signing
STATUSES = {"open": N_("Taking signatures"), "closed": N_("Closed petition")}
COUNTRIES = {"US": N_("United States"), "MX": N_("Mexico")}
CSV_COLUMNS = ("name", "postal_code", "region", "country", "signed_at")


# --- who sees what -----------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """The acting organization: everything (the coalition), one partner, or nothing."""

    everything: bool
    partner_id: int | None

    def sees(self, petition: Petition) -> bool:
        if self.everything:
            return True
        if self.partner_id is None:
            return False
        return petition.organization_id in (None, self.partner_id)

    def owns(self, petition: Petition) -> bool:
        """May change it: the coalition any petition, a partner its own."""
        if self.everything:
            return True
        return self.partner_id is not None and petition.organization_id == self.partner_id

    def only_members(self, petition: Petition) -> bool:
        """A partner on a coalition petition: only the signatures of the people it brought."""
        return not self.everything and petition.organization_id is None

    def signatures(self, petition: Petition) -> ColumnElement[bool]:
        """WHERE clause over ``Signature``: this petition's signatures the viewer may count."""
        mine = Signature.petition_id == petition.id
        if self.only_members(petition):
            return mine & (Signature.organization_id == self.partner_id)
        return mine & true()

    @property
    def audit_organization(self) -> int | None:
        return self.partner_id


def viewer() -> Viewer:
    """The organization the user acts for (``g.scope``): the coalition, a partner, or nobody."""
    acting = scope.current()
    return Viewer(acting.sees_everything, acting.organization_id if acting.role else None)


def petition_or_404(session: Session, slug: str) -> Petition:
    petition = petitions.by_slug(session, slug)
    if petition is None or not viewer().sees(petition):
        abort(404)
    return petition


def _audit_org(petition: Petition) -> int | None:
    """The organization an audit entry is for: the acting partner, else the petition's."""
    acting = viewer().audit_organization
    return acting if acting is not None else petition.organization_id


# --- the numbers ---------------------------------------------------------------------------


def counts(session: Session, shown: Iterable[Petition], who: Viewer) -> dict[int, int]:
    """petition id -> the signatures the viewer may count (one GROUP BY, or two)."""
    shown = list(shown)
    whole = [p.id for p in shown if not who.only_members(p)]
    members = [p.id for p in shown if who.only_members(p)]
    found: dict[int, int] = dict.fromkeys((p.id for p in shown), 0)
    for ids, extra in ((whole, true()), (members, Signature.organization_id == who.partner_id)):
        if ids:
            query = (
                select(Signature.petition_id, func.count())
                .where(Signature.petition_id.in_(ids), extra)
                .group_by(Signature.petition_id)
            )
            found.update({pid: n for pid, n in session.execute(query)})
    return found


def keywords(session: Session, ids: Iterable[int]) -> dict[int, dict[str, list[str]]]:
    """petition id -> language -> its keywords."""
    found: dict[int, dict[str, list[str]]] = {}
    ids = list(ids)
    if not ids:
        return found
    rows = session.execute(
        select(OrganizationKeyword.petition_id, OrganizationKeyword.language,
               OrganizationKeyword.keyword)
        .where(OrganizationKeyword.petition_id.in_(ids))
        .order_by(OrganizationKeyword.keyword)
    )  # fmt: skip
    for pid, language, keyword in rows:
        found.setdefault(pid, {}).setdefault(language, []).append(keyword)
    return found


def per_day(session: Session, where: ColumnElement[bool]) -> dict[dt.date, int]:
    """Signatures per day (UTC): SQLite gives the day as text, PostgreSQL as a date."""
    day = func.date(Signature.created_at)
    found: dict[dt.date, int] = {}
    for value, n in session.execute(select(day, func.count()).where(where).group_by(day)):
        key = dt.date.fromisoformat(value) if isinstance(value, str) else value
        found[key] = found.get(key, 0) + n
    return found


def grouped(session: Session, column: Any, where: ColumnElement[bool]) -> list[tuple[Any, int]]:
    """(value, signatures) per value of ``column``, the most first."""
    query = select(column, func.count()).where(where).group_by(column)
    rows = [(value, n) for value, n in session.execute(query)]
    return sorted(rows, key=lambda r: (-r[1], str(r[0] or "")))


def day_range(days: Mapping[dt.date, int], petition: Petition, today: dt.date) -> list[dt.date]:
    """Every day from the first signature (or the opening) to today or the closing."""
    end = petition.closed_at.date() if petition.closed_at else today
    start = min([petition.created_at.date(), *days])
    end = max([end, *days])
    start = max(start, end - dt.timedelta(days=MAX_DAYS - 1))
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def partner_names(session: Session, lang: str) -> dict[int | None, str]:
    rows = session.scalars(select(Organization))
    names: dict[int | None, str] = {o.id: o.name(lang) for o in rows if o.parent_id is not None}
    names[None] = _("Coalition (direct)")
    return names


def country_name(code: str | None) -> str:
    if not code:
        return _("Unknown")
    msgid = COUNTRIES.get(code)
    return _(msgid) if msgid else code


def status_label(status: str) -> str:
    msgid = STATUSES.get(status)
    return _(msgid) if msgid else status


def percent(count: int, goal: int) -> int:
    return min(100, round(100 * count / goal)) if goal else 0


# --- list and create ---------------------------------------------------------------------


def _flows() -> FlowSet | None:
    loaded = current_app.extensions.get("puente.flows")
    return loaded.flowset if loaded is not None else None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def error_text(error: PetitionError | PartnerError) -> str:
    """The reason, in the page's language, with its values filled in."""
    return explained(error)


def _index_page(values: Mapping[str, str] | None = None, error: str | None = None) -> str:
    session = get_session()
    who = viewer()
    shown = [p for p in session.scalars(select(Petition).order_by(Petition.created_at.desc(),
                                                                   Petition.id.desc()))
             if who.sees(p)]  # fmt: skip
    lang = current_language()
    return render_template(
        "dashboard/petitions/index.html",
        petitions=shown,
        counts=counts(session, shown, who),
        keywords=keywords(session, (p.id for p in shown)),
        names=partner_names(session, lang),
        partners=organizations.partners(session) if who.everything else [],
        viewer=who,
        values=values or {},
        error=error,
        target_countries=TARGET_COUNTRIES,
        status_label=status_label,
        percent=percent,
    )


@bp.get("/")
def index() -> str:
    """Every petition the acting organization may see, and the form to open one."""
    return _index_page()


@bp.post("/")
@require(EDIT)
def create() -> Any:
    """Open a petition; a refusal shows the reason, translated, and keeps the form."""
    who = viewer()
    if not who.everything and who.partner_id is None:
        abort(403)
    form = request.form
    typed = {name: form.get(name, "") for name in FIELDS}
    try:
        goal = int(typed["goal"].strip() or "0")
    except ValueError:
        goal = 0  # petitions.create refuses it with the reason
    try:
        with get_db().session() as session:
            owner = who.partner_id
            if who.everything and typed["partner"]:
                partner = organizations.by_slug(session, typed["partner"])
                if partner is None:
                    abort(400)
                owner = partner.id
            petition = petitions.create(
                session,
                typed["slug"],
                titles={"es": typed["title_es"], "en": typed["title_en"]},
                texts={"es": typed["text_es"], "en": typed["text_en"]},
                target=typed["target"],
                target_country=typed["target_country"] or None,
                goal=goal,
                keywords={lang: _split(typed[f"keywords_{lang}"]) for lang in LANGUAGES},
                flows=_flows(),
                organization_id=owner,
                now=utcnow(),
            )
            audit.record(
                session, current_user(), "petition.create", f"petition:{petition.id}",
                client_ip(), organization_id=petition.organization_id, slug=petition.slug,
            )  # fmt: skip
            slug = petition.slug
    except (PetitionError, PartnerError) as exc:
        return _index_page(typed, error_text(exc)), 400
    flash(_("The petition {slug} is open.", slug=slug), "success")
    return redirect(url_for(".detail", slug=slug))


@bp.post("/<slug>/close")
@require(EDIT)
def close(slug: str) -> Any:
    """Take no more signatures: its keywords answer that it is closed."""
    with get_db().session() as session:
        petition = petition_or_404(session, slug)
        if not viewer().owns(petition):
            abort(403)
        petitions.close(petition, utcnow())
        audit.record(
            session, current_user(), "petition.close", f"petition:{petition.id}", client_ip(),
            organization_id=petition.organization_id, slug=petition.slug,
        )  # fmt: skip
    flash(_("The petition {slug} is closed.", slug=slug), "success")
    return redirect(url_for(".detail", slug=slug))


# --- a petition's page ---------------------------------------------------------------------


def day_chart(days: Mapping[dt.date, int], shown: list[dt.date]) -> Chart:
    return bar_chart(
        [format_day(day) for day in shown],
        [Series(_("Signatures"), tuple(days.get(day, 0) for day in shown))],
    )


@bp.get("/<slug>")
def detail(slug: str) -> str:
    """One petition: its numbers per day, state, partner and language."""
    session = get_session()
    petition = petition_or_404(session, slug)
    who = viewer()
    where = who.signatures(petition)
    days = per_day(session, where)
    shown = day_range(days, petition, utcnow().date())
    lang = current_language()
    names = partner_names(session, lang)
    return render_template(
        "dashboard/petitions/detail.html",
        petition=petition,
        viewer=who,
        total=sum(days.values()),
        keywords=keywords(session, [petition.id]).get(petition.id, {}),
        days_chart=day_chart(days, shown),
        regions_shown=[
            (code or _("Unknown"), n) for code, n in grouped(session, Signature.region, where)
        ],  # fmt: skip
        by_partner=[
            (names.get(org, "—"), n)
            for org, n in grouped(session, Signature.organization_id, where)
        ],  # fmt: skip
        by_language=[
            (label("language", code), n) for code, n in grouped(session, Signature.language, where)
        ],  # fmt: skip
        owner=names.get(petition.organization_id, "—")
        if petition.organization_id
        else _("The coalition"),
        country_name=country_name,
        status_label=status_label,
        percent=percent,
        may_export=may(SEE_TEXTS),
        may_phones=may(SEE_PHONES),
    )


# --- export for delivery -----------------------------------------------------------------


def _safe(value: str | None) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _with_phones() -> bool:
    """Phone numbers: asked for (``?phones=1``) by a role that may see them."""
    return request.args.get("phones") == "1" and may(SEE_PHONES)


def signature_rows(session: Session, petition: Petition, phones: bool) -> list[dict[str, Any]]:
    """The viewer's signatures of ``petition``, oldest first, as the export shows them."""
    columns = [Signature.name, Signature.postal_code, Signature.region, Signature.country,
               Signature.created_at]  # fmt: skip
    query = select(*columns, Contact.phone if phones else null())
    if phones:
        query = query.outerjoin(Contact, Contact.id == Signature.contact_id)
    query = query.where(viewer().signatures(petition)).order_by(Signature.id)
    return [
        {"name": name or "", "postal_code": postal or "", "region": region or "",
         "country": country or "", "signed_at": created_at, "phone": last if phones else None}
        for name, postal, region, country, created_at, last in session.execute(query)
    ]  # fmt: skip


def _record_export(
    session: Session, petition: Petition, kind: str, phones: bool, rows: int
) -> None:
    audit.record(
        session, current_user(), "petition.export", f"petition:{petition.id}", client_ip(),
        organization_id=_audit_org(petition), format=kind, phones=phones, rows=rows,
    )  # fmt: skip


@bp.get("/<slug>/signatures.csv")
@require(SEE_TEXTS)
def export_csv(slug: str) -> Response:
    """The signatures as CSV for delivery; cells cannot run as spreadsheet formulas."""
    phones = _with_phones()
    with get_db().session() as session:  # the entry is saved with the reading
        petition = petition_or_404(session, slug)
        rows = signature_rows(session, petition, phones)
        _record_export(session, petition, "csv", phones, len(rows))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, "phone"] if phones else CSV_COLUMNS)
    for row in rows:
        cells = [_safe(row["name"]), _safe(row["postal_code"]), _safe(row["region"]),
                 _safe(row["country"]), row["signed_at"].date().isoformat()]  # fmt: skip
        writer.writerow([*cells, _safe(row["phone"])] if phones else cells)
    filename = f"puente-petition-{petition.slug}-{utcnow():%Y%m%d}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/<slug>/print")
@require(SEE_TEXTS)
def printable(slug: str) -> str:
    """A page to print and deliver: the petition in both languages and its signatures."""
    phones = _with_phones()
    with get_db().session() as session:  # the entry is saved with the reading
        petition = petition_or_404(session, slug)
        rows = signature_rows(session, petition, phones)
        _record_export(session, petition, "print", phones, len(rows))
    return render_template(
        "dashboard/petitions/print.html",
        petition=petition,
        rows=rows,
        phones=phones,
        viewer=viewer(),
        printed_at=utcnow(),
        status_label=status_label,
    )
