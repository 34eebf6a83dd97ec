"""Partners (coalition admins): list, create, edit, archive; each partner's referral kit.

The list shows each partner's growth: members, joins in the last 30 days, visits
of its join link and joins by its keyword, per language. A refused change
(a keyword another partner has, a flow's trigger, a compliance word…) shows
the reason translated, and the form keeps what was typed. Every change is
written to the audit log for that partner.

The poster (``/dashboard/partners/<slug>/poster``) is for the coalition's admins
and the partner's own organizers, acting for it (``bot.web.dashboard.scope``):
its name, its keyword, the number to text and the QR code of its join link
(``bot.web.referral``), in one language or both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from bot.accounts import audit
from bot.accounts.roles import EDIT, MANAGE
from bot.db import get_db, get_session, utcnow
from bot.flows.model import FlowSet
from bot.i18n import LANGUAGES, gettext
from bot.partners import organizations, referrals
from bot.partners.models import Organization
from bot.partners.organizations import COUNTRIES, PartnerError, PartnerFields
from bot.web import referral
from bot.web.dashboard import scope
from bot.web.dashboard.auth import client_ip, current_user, require
from bot.web.dashboard.language import DOMAIN, _, explained

bp = Blueprint("partners", __name__, url_prefix="/partners")

FIELDS = (
    "slug", "name_es", "name_en", "country", "regions", "keywords_es", "keywords_en",
    "sender", "messaging_service_sid", "help_contact", "legal_help",
)  # fmt: skip
POSTER_LANGUAGES = (*LANGUAGES, "both")


def partner_error(error: PartnerError) -> str:
    """The reason, in the page's language, with its values filled in."""
    return explained(error)


def _flows() -> FlowSet | None:
    loaded = current_app.extensions.get("puente.flows")
    return loaded.flowset if loaded is not None else None


def _split(value: str) -> list[str]:
    """``"FRONTERA, PAZ YA"`` -> ``["FRONTERA", "PAZ YA"]``: commas part keywords."""
    return [part.strip() for part in value.split(",") if part.strip()]


def _fields(form: Mapping[str, str]) -> PartnerFields:
    keywords = {lang: _split(form.get(f"keywords_{lang}", "")) for lang in LANGUAGES}
    return PartnerFields(
        name_es=form.get("name_es", ""),
        name_en=form.get("name_en", ""),
        country=form.get("country", ""),
        regions=[r for r in re.split(r"[\s,]+", form.get("regions", "")) if r],
        keywords={lang: words for lang, words in keywords.items() if words},
        sender=form.get("sender", ""),
        messaging_service_sid=form.get("messaging_service_sid", ""),
        help_contact=form.get("help_contact", ""),
        legal_help=form.get("legal_help", ""),
    )


def _typed() -> dict[str, str]:
    """What the form held, to show it again after a refusal."""
    return {name: request.form.get(name, "") for name in FIELDS}


def _values_of(partner: Organization) -> dict[str, str]:
    """A partner as the edit form shows it."""
    return {
        "slug": partner.slug,
        "name_es": partner.name_es,
        "name_en": partner.name_en,
        "country": partner.country or "",
        "regions": ", ".join(partner.regions or []),
        "keywords_es": ", ".join(partner.keywords_for("es")),
        "keywords_en": ", ".join(partner.keywords_for("en")),
        "sender": partner.sender or "",
        "messaging_service_sid": partner.messaging_service_sid or "",
        "help_contact": partner.help_contact or "",
        "legal_help": partner.legal_help or "",
    }


def _partner_or_404(session: Any, slug: str) -> Organization:
    partner = organizations.by_slug(session, slug, archived=True)
    if partner is None:
        abort(404)
    return partner


def _index_page(values: Mapping[str, str] | None = None, error: str | None = None) -> str:
    session = get_session()
    return render_template(
        "dashboard/partners/index.html",
        partners=organizations.partners(session, archived=True),
        counts=referrals.counts(session, utcnow()),
        empty=referrals.PartnerCounts(),
        values=values or {},
        error=error,
        countries=COUNTRIES,
        recent_days=referrals.RECENT_DAYS,
    )


@bp.get("/")
@require(MANAGE)
def index() -> str:
    """Every partner with its growth, and the form to add one."""
    return _index_page()


@bp.post("/")
@require(MANAGE)
def create() -> Any:
    """Add a partner; a refusal shows the reason and keeps the form."""
    try:
        with get_db().session() as session:
            partner = organizations.create(
                session, request.form.get("slug", ""), _fields(request.form), _flows(), utcnow()
            )
            audit.record(
                session, current_user(), "partner.create", f"organization:{partner.id}",
                client_ip(), organization_id=partner.id, slug=partner.slug,
                keywords=[k.keyword for k in partner.keywords],
            )  # fmt: skip
            slug = partner.slug
    except PartnerError as exc:
        return _index_page(_typed(), partner_error(exc)), 400
    flash(_("The partner {slug} is added.", slug=slug), "success")
    return redirect(url_for(".index"))


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@require(MANAGE)
def edit(slug: str) -> Any:
    """Change a partner's names, places, keywords, sender and contacts."""
    if request.method == "GET":
        partner = _partner_or_404(get_session(), slug)
        return render_template(
            "dashboard/partners/edit.html",
            partner=partner,
            values=_values_of(partner),
            error=None,
            countries=COUNTRIES,
        )
    try:
        with get_db().session() as session:
            partner = _partner_or_404(session, slug)
            organizations.update(session, partner, _fields(request.form), _flows())
            audit.record(
                session, current_user(), "partner.update", f"organization:{partner.id}",
                client_ip(), organization_id=partner.id, slug=partner.slug,
                keywords=[k.keyword for k in partner.keywords],
            )  # fmt: skip
    except PartnerError as exc:
        partner = _partner_or_404(get_session(), slug)
        page = render_template(
            "dashboard/partners/edit.html",
            partner=partner,
            values={**_typed(), "slug": slug},
            error=partner_error(exc),
            countries=COUNTRIES,
        )
        return page, 400
    flash(_("The partner {slug} is saved.", slug=slug), "success")
    return redirect(url_for(".index"))


@bp.post("/<slug>/archive")
@require(MANAGE)
def archive(slug: str) -> Any:
    """Archive a partner: its keywords and join link stop working; members and history stay."""
    try:
        with get_db().session() as session:
            partner = _partner_or_404(session, slug)
            organizations.archive(partner, utcnow())
            audit.record(
                session, current_user(), "partner.archive", f"organization:{partner.id}",
                client_ip(), organization_id=partner.id, slug=partner.slug,
            )  # fmt: skip
    except PartnerError as exc:
        flash(partner_error(exc), "error")
        return redirect(url_for(".index"))
    flash(_("The partner {slug} is archived.", slug=slug), "success")
    return redirect(url_for(".index"))


@bp.get("/<slug>/poster")
def poster(slug: str) -> str:
    """A printable poster of the partner's join link: name, keyword, number, QR code."""
    partner = organizations.by_slug(get_session(), slug)  # an archived one has no link
    if partner is None:
        abort(404)
    coalition_admin = scope.may(MANAGE)  # an admin acting for the coalition
    acting_for_it = scope.current().organization_id == partner.id and scope.may(EDIT)
    if not coalition_admin and not acting_for_it:
        abort(403)
    shown = request.args.get("lang", "both")
    shown = shown if shown in POSTER_LANGUAGES else "both"
    # The page holds the organization's own public number, no contact's: not masked.
    g.own_data_only = True
    kits = [
        (
            referral.kit(partner, language, current_app.config),
            referral.join_link(partner.slug, language),
            url_for("referral.qr", slug=partner.slug, lang=language),
        )
        for language in (LANGUAGES if shown == "both" else (shown,))
    ]
    return render_template(
        "dashboard/partners/poster.html",
        partner=partner,
        kits=kits,
        shown=shown,
        poster_languages=POSTER_LANGUAGES,
        coalition_admin=coalition_admin,
        frequency=current_app.config.get("MESSAGE_FREQUENCY") or "",
        _in=in_language,
    )


def in_language(language: str, msgid: str, **values: object) -> str:
    """A text of the poster in its own language (not the dashboard's): ``_in("es", "…")``."""
    return gettext(language, msgid, DOMAIN, **values)
