"""A petition's public count (no sign-in), for the coalition's website and for sharing.

``GET /p/<slug>?lang=es|en`` (else the browser's language): its title, text and target,
the number of signatures in Babel's format for the language, the goal and the progress,
and how to sign ("Text FIRMO to <the coalition's number>"). ``GET /p/<slug>.json`` gives
``{slug, title: {es, en}, count, goal, status}`` to any website (CORS ``*``).

Nothing about any signer is shown or returned: no name, no phone number, no place.
An unknown slug gets a plain page in both languages (404).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template
from sqlalchemy import select

from bot.db import get_session
from bot.i18n import LANGUAGES, N_, format_number, gettext
from bot.partners.models import OrganizationKeyword
from bot.petitions import petitions
from bot.petitions.models import PETITION_OPEN, Petition
from bot.web.public import LANGUAGE_NAMES, page_language, secured

bp = Blueprint("petition_page", __name__, url_prefix="/p", template_folder="templates")

DOMAIN = "dashboard"  # its texts are in the dashboard's catalog (bot/web/dashboard/catalog.py)
MISSING = (N_("There is no petition here."), N_("The link may be wrong. Ask whoever shared it."))
MAX_AGE_S = 60  # a website may cache the count for a minute
_CSP = (
    "default-src 'none'; style-src 'self'; frame-ancestors 'none'; form-action 'none'; "
    "base-uri 'none'"
)


def _petition(slug: str) -> Petition:
    petition = petitions.by_slug(get_session(), slug)
    if petition is None:
        abort(404)
    return petition


def keyword_in(petition: Petition, language: str) -> str:
    """The petition's first keyword in ``language``, else its first in any language."""
    rows = (
        get_session()
        .execute(
            select(OrganizationKeyword.language, OrganizationKeyword.keyword)
            .where(OrganizationKeyword.petition_id == petition.id)
            .order_by(OrganizationKeyword.keyword)
        )
        .all()
    )
    mine = [keyword for lang, keyword in rows if lang == language]
    return next(iter(mine + [keyword for _lang, keyword in rows]), "")


@bp.get("/<slug>.json")
def as_json(slug: str) -> Response:
    """The count for the coalition's website: any origin may read it."""
    petition = petitions.by_slug(get_session(), slug)
    if petition is None:
        response = jsonify({"error": "not found"})
        response.status_code = 404
    else:
        response = jsonify(
            {
                "slug": petition.slug,
                "title": {lang: petition.title(lang) for lang in LANGUAGES},
                "count": petitions.count(get_session(), petition.id),
                "goal": petition.goal,
                "status": petition.status,
            }
        )
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_S}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<slug>")
def page(slug: str) -> Response:
    """The public count page in one language, with a link to the other."""
    language = page_language()
    petition = _petition(slug)
    count = petitions.count(get_session(), petition.id)
    other = next(code for code in LANGUAGES if code != language)

    def _(msgid: str, **values: object) -> str:
        return gettext(language, msgid, DOMAIN, **values)

    html = render_template(
        "petition_page/page.html",
        _=_,
        lang=language,
        petition=petition,
        title=petition.title(language),
        text=petition.texts.get(language) or next(iter(petition.texts.values()), ""),
        count=format_number(count, language),
        goal=format_number(petition.goal, language),
        value=min(count, petition.goal),
        percent=min(100, round(100 * count / petition.goal)) if petition.goal else 0,
        signing=petition.status == PETITION_OPEN,
        keyword=keyword_in(petition, language),
        number=current_app.config.get("TWILIO_SMS_FROM") or "",
        other_language=other,
        other_name=LANGUAGE_NAMES[other],
    )
    return _public(Response(html, mimetype="text/html"))


@bp.errorhandler(404)
def _not_found(_error: Any) -> tuple[Response, int]:
    """No such petition: say so in both languages."""
    lines = [(lang, *(gettext(lang, msgid, DOMAIN) for msgid in MISSING)) for lang in LANGUAGES]
    html = render_template("petition_page/missing.html", lines=lines, lang=page_language())
    return _public(Response(html, mimetype="text/html")), 404


def _public(response: Response) -> Response:
    return secured(response, cache=f"public, max-age={MAX_AGE_S}", csp=_CSP)
