"""The dashboard's language: the user's choice, else the browser's, through the Babel catalog.

Every text the dashboard shows is an English msgid in the ``dashboard``
catalog domain (messages/<lang>/LC_MESSAGES/dashboard.po), looked up with
``_()`` in Python and in templates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, g, has_request_context, request, session

from bot.i18n import LANGUAGES, gettext

DOMAIN = "dashboard"
LANGUAGE_NAMES = {"es": "Español", "en": "English"}  # each in its own language


def choose_language() -> str:
    """The signed-in user's language, else the one picked before signing in, else the browser's."""
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return user.language
    picked = session.get("lang")
    if picked in LANGUAGES:
        return picked
    best = request.accept_languages.best_match(LANGUAGES)
    return best or current_app.config["DEFAULT_LANGUAGE"]


def current_language() -> str:
    """The language of the page being built."""
    if has_request_context() and g.get("lang"):
        return g.lang
    return "en"


def _(msgid: str, **values: object) -> str:
    """Translate ``msgid`` into the page's language and fill ``{placeholders}``."""
    return gettext(current_language(), msgid, DOMAIN, **values)


def explained(error: Any) -> str:
    """Why something was refused (an error with ``msgid`` and ``values``, such as
    ``bot.exceptions.ExplainedError``), in the page's language, its values filled in."""
    text = _(error.msgid)
    return text % error.values if error.values else text


def _n(singular: str, plural: str, count: int, **values: object) -> str:
    """``singular`` when ``count`` is 1, else ``plural``: Spanish and English agree on this."""
    return _(singular if count == 1 else plural, count=count, **values)


def user_zone() -> ZoneInfo:
    """The signed-in user's time zone (UTC when none or unknown)."""
    user = g.get("user")
    try:
        return ZoneInfo(user.timezone) if user is not None else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(moment: dt.datetime | None) -> dt.datetime | None:
    """``moment`` in the user's time zone."""
    return moment.astimezone(user_zone()) if moment is not None else None


def format_when(moment: dt.datetime | None) -> str:
    """A date and time the same way in both languages: 2026-11-27 18:50."""
    shown = local(moment)
    return shown.strftime("%Y-%m-%d %H:%M") if shown else ""


def format_day(day: dt.date) -> str:
    """A short day for chart axes: 27/11 in Spanish, 11/27 in English."""
    return day.strftime("%d/%m" if current_language() == "es" else "%m/%d")


def format_number(value: int) -> str:
    """Thousands separated the way each language writes them: 12 345 / 12,345."""
    text = f"{value:,}"
    return text.replace(",", "\u202f") if current_language() == "es" else text
