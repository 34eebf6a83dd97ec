"""Referral kits: a partner's public join link and its QR code (no sign-in).

``GET /j/<slug>?lang=es|en&via=sms|whatsapp`` is a small page for a phone:
its buttons open the SMS app (``sms:<number>?&body=<KEYWORD>``) or WhatsApp
(``https://wa.me/<digits>?text=<KEYWORD>``) with the partner's keyword in that
language filled in, to the partner's own sender when it has one, else the
coalition's number. ``GET /j/<slug>/qr.svg`` is the QR code of that link, for
the poster (``bot.web.dashboard.partners``). The only importer of segno.

Each page view adds one to a daily counter (``bot.partners.referrals``); no
IP address, user agent or phone number is kept. Link previews (WhatsApp,
Facebook, Slack… fetching the page to show a card) are not counted.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import segno
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from bot.db import get_db, get_session, utcnow
from bot.i18n import LANGUAGES, gettext
from bot.partners import organizations, referrals
from bot.partners.models import Organization
from bot.web.public import LANGUAGE_NAMES, page_language, secured

log = logging.getLogger(__name__)
bp = Blueprint("referral", __name__, url_prefix="/j", template_folder="templates")

DOMAIN = "dashboard"  # its texts are in the dashboard's catalog (bot/web/dashboard/catalog.py)
CHANNELS = ("sms", "whatsapp")
# Apps that fetch a shared link to draw a preview card: not a person visiting.
_PREVIEWERS = re.compile(
    r"WhatsApp|facebookexternalhit|Facebot|Slackbot|Twitterbot|TelegramBot|Discordbot|"
    r"LinkedInBot|SkypeUriPreview|Googlebot|bingbot",
    re.IGNORECASE,
)
_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; "
    "form-action 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class Kit:
    """What a partner's join link says in one language."""

    partner: Organization
    language: str
    keyword: str
    sms_number: str | None  # E.164, or None when the coalition has no SMS number
    whatsapp_number: str | None

    @property
    def sms_uri(self) -> str | None:
        if not self.sms_number:
            return None
        return f"sms:{self.sms_number}?&body={quote(self.keyword, safe='')}"

    @property
    def whatsapp_uri(self) -> str | None:
        if not self.whatsapp_number:
            return None
        digits = re.sub(r"\D", "", self.whatsapp_number)
        return f"https://wa.me/{digits}?text={quote(self.keyword, safe='')}"


def kit(partner: Organization, language: str, settings: Any) -> Kit:
    """The partner's keyword in ``language`` (else its other one) and the numbers to text."""
    keyword = next(iter(partner.keywords_for(language) + [k.keyword for k in partner.keywords]), "")
    whatsapp = (settings.get("TWILIO_WHATSAPP_FROM") or "").removeprefix("whatsapp:")
    return Kit(
        partner=partner,
        language=language,
        keyword=keyword,
        sms_number=partner.sender or settings.get("TWILIO_SMS_FROM") or None,
        # A partner's own number is an SMS sender; WhatsApp stays on the coalition's sender
        # (as its broadcasts do, bot.sending.deliveries).
        whatsapp_number=whatsapp or None,
    )


def join_link(slug: str, language: str | None = None, via: str | None = None) -> str:
    """``{PUBLIC_URL}/j/<slug>?lang=..&via=..``: what the QR code holds and posters print."""
    query = {k: v for k, v in (("lang", language), ("via", via)) if v}
    link = current_app.config["PUBLIC_URL"] + url_for("referral.join", slug=slug)
    return f"{link}?{urlencode(query)}" if query else link


def qr_svg(content: str) -> bytes:
    """The QR code of ``content`` as an SVG document (error correction M, 4-module border)."""
    out = io.BytesIO()
    segno.make(content, error="m", micro=False).save(
        out, kind="svg", scale=8, border=4, xmldecl=True, title=content
    )
    return out.getvalue()


def _via() -> str | None:
    via = request.args.get("via", "")
    return via if via in CHANNELS else None


def _partner(slug: str) -> Organization:
    partner = organizations.by_slug(get_session(), slug)  # archived ones are not found
    if partner is None:
        abort(404)
    return partner


@bp.get("/<slug>")
def join(slug: str) -> Response:
    """The join page: the partner's name, buttons that fill in the keyword, the consent line."""
    language = page_language()
    via = _via()
    counted = request.method == "GET" and not _PREVIEWERS.search(request.user_agent.string or "")
    partner = _visit(slug, language, via or referrals.ANY_CHANNEL, counted=counted)
    other = next(code for code in LANGUAGES if code != language)

    def _(msgid: str, **values: object) -> str:
        return gettext(language, msgid, DOMAIN, **values)

    found = kit(partner, language, current_app.config)
    buttons = [
        ("sms", found.sms_uri, _("Text {keyword} by SMS", keyword=found.keyword)),
        ("whatsapp", found.whatsapp_uri, _("Send {keyword} on WhatsApp", keyword=found.keyword)),
    ]
    buttons = sorted((b for b in buttons if b[1]), key=lambda b: b[0] != (via or "sms"))
    page = render_template(
        "referral/join.html",
        _=_,
        lang=language,
        kit=found,
        buttons=buttons,
        coalition=current_app.config.get("ORG_NAME") or "",
        other_language=other,
        other_link=url_for(".join", slug=slug, lang=other, **({"via": via} if via else {})),
        other_name=LANGUAGE_NAMES[other],
        frequency=current_app.config.get("MESSAGE_FREQUENCY") or _("Msg frequency varies."),
    )
    return _public(Response(page, mimetype="text/html"))


@bp.get("/<slug>/qr.svg")
def qr(slug: str) -> Response:
    """The QR code of the join link with the same ``lang`` and ``via``."""
    partner = _partner(slug)
    language = request.args.get("lang", "")
    link = join_link(partner.slug, language if language in LANGUAGES else None, _via())
    response = Response(qr_svg(link), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def _visit(slug: str, language: str, channel: str, *, counted: bool) -> Organization:
    """The partner, and one more visit in the same transaction (the page is shown even when
    counting fails); 404 for an unknown or archived slug."""
    try:
        with get_db().session() as session:
            partner = organizations.by_slug(session, slug)
            if partner is not None and counted:
                referrals.count_visit(session, partner.id, language, channel, utcnow())
    except SQLAlchemyError:
        log.exception("referral: a visit of %s was not counted", slug)
        partner = organizations.by_slug(get_session(), slug)
    if partner is None:
        abort(404)
    return partner


@bp.errorhandler(404)
def _not_found(_error: Any) -> tuple[str, int]:
    """No such partner (or an archived one): say so in both languages."""
    language = page_language()
    page = render_template(
        "referral/missing.html",
        _=lambda msgid, **values: gettext(language, msgid, DOMAIN, **values),
        lang=language,
    )
    return page, 404


def _public(response: Response) -> Response:
    return secured(response, cache="no-store", csp=_CSP)  # no-store: each view is counted
