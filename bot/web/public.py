"""What the public pages share (the join link, a petition's count): no sign-in, no cookies.

Their language is ``?lang=``, else the browser's, else the deployment's
default; their headers keep them out of frames and off other sites' referrers.
"""

from __future__ import annotations

from flask import Response, current_app, request

from bot.i18n import LANGUAGES

LANGUAGE_NAMES = {"es": "Español", "en": "English"}  # each in its own language


def page_language() -> str:
    """``?lang=``, else the phone's or browser's language, else the deployment's default."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    best = request.accept_languages.best_match(LANGUAGES)
    return best or current_app.config["DEFAULT_LANGUAGE"]


def secured(response: Response, *, cache: str, csp: str) -> Response:
    """The public page's headers: its caching, its content policy, no framing, no referrer."""
    response.headers["Cache-Control"] = cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = csp
    return response
