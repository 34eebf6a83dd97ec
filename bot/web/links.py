"""Tracked links' redirect: ``GET /l/<code>`` sends the person on to the broadcast's URL.

The code is checked (``bot.links.codes``: signed, so a forged or altered one is
unknown), its link's URL read (cached per process) and a 302 sent. A person's
first click on a link is recorded, once (a unique key); link previews (HEAD,
WhatsApp, iMessage, Facebook, Slack, Telegram, Twitter… and prefetches) are
not clicks. A contact erased since still gets the redirect, and nothing is
recorded. An unknown code gets a plain page in both languages (404). Nothing
about the visitor is logged or kept beyond the click's time.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, redirect, request
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError

from bot.db import get_db, utcnow
from bot.i18n import LANGUAGES, N_, gettext
from bot.links import clicks, codes
from bot.web.public import secured

log = logging.getLogger(__name__)
bp = Blueprint("links", __name__, url_prefix=codes.PATH.rstrip("/"))

DOMAIN = "dashboard"  # its texts are in the dashboard's catalog (bot/web/dashboard/catalog.py)
MISSING = (N_("This link does not work"), N_("Check that it was copied whole from the message."))
_CSP = "default-src 'none'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"


@bp.route("/<path:code>", methods=["GET", "HEAD"])
def follow(code: str) -> Response:
    """302 to the link's URL; the first real click per person and link is recorded."""
    found = codes.decode(code, clicks.key_of(current_app.config["SECRET_KEY"]))
    if found is None:
        return _missing()
    link_id, contact_id = found
    db = get_db()
    with db.session() as session:
        url = clicks.target(session, link_id)
    if url is None:
        return _missing()
    if not codes.is_preview(request.method, request.user_agent.string, request.headers):
        _record(link_id, contact_id)
    response = redirect(url, 302)
    response.headers["Cache-Control"] = "private, no-store"  # each person's click reaches us
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _record(link_id: int, contact_id: int) -> None:
    """Record the click; a database problem loses the click, never the redirect."""
    try:
        with get_db().session() as session:
            clicks.record(session, link_id, contact_id, utcnow())
    except SQLAlchemyError:
        log.exception("links: a click on link %s was not recorded", link_id)


def _missing() -> Response:
    """The plain page of a code that is not ours: what it says, in each language."""
    parts = []
    for language in LANGUAGES:
        title, hint = (escape(gettext(language, msgid, DOMAIN)) for msgid in MISSING)
        parts.append(f'<section lang="{language}"><h1>{title}</h1><p>{hint}</p></section>')
    page = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(gettext("en", MISSING[0], DOMAIN))}'
        f"</title></head><body>{''.join(parts)}</body></html>"
    )
    return secured(Response(page, 404, mimetype="text/html"), cache="no-store", csp=_CSP)
