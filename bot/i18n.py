"""Translations and locale formatting: the one place that imports Babel.

Catalogs live in ``messages/<lang>/LC_MESSAGES/<domain>.po``. They are read
straight from the ``.po`` files at start-up (no compile step to forget), and
msgids are written in English.  An entry may also carry a context (gettext's
``msgctxt``): the flows catalog keys each text by flow, step and role
(``join/ask_name/text``), so two steps with the same English text are translated
apart; look those up with ``pgettext``.  ``missing_translations`` names every
entry without a translation, so Spanish and English cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime as _babel_format_datetime
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as _babel_format_decimal

log = logging.getLogger(__name__)

LANGUAGES = ("es", "en")  # every string a contact can receive exists in both
BASE_LANGUAGE = "en"  # msgids are English; the en catalog may leave msgstr empty
MESSAGES_DIR = Path(__file__).resolve().parent.parent / "messages"


def N_(msgid: str) -> str:  # noqa: N802 - the name pybabel looks for
    """Mark a string for extraction into the catalog; translate it later."""
    return msgid


@cache
def _catalog(lang: str, domain: str) -> Catalog:
    path = MESSAGES_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=domain)


def domains() -> list[str]:
    """Catalog domains present for the base language ("puente", "flows"...)."""
    folder = MESSAGES_DIR / BASE_LANGUAGE / "LC_MESSAGES"
    return sorted(p.stem for p in folder.glob("*.po"))


def gettext(lang: str, msgid: str, domain: str = "puente", **values: object) -> str:
    """Translate ``msgid`` into ``lang`` and fill ``{placeholders}`` from ``values``."""
    return pgettext(lang, None, msgid, domain, **values)


def pgettext(
    lang: str, context: str | None, msgid: str, domain: str = "puente", **values: object
) -> str:
    """Translate the entry (``context``, ``msgid``) into ``lang``; no context: ``gettext``.

    A missing or empty entry falls back to ``msgid`` (the English text), never to the
    same msgid in another context: that one was written for another place.
    """
    lang = lang if lang in LANGUAGES else BASE_LANGUAGE
    message = _catalog(lang, domain).get(msgid, context=context)
    text = message.string if message is not None and message.string else msgid
    if message is None and lang != BASE_LANGUAGE:
        # Never fail a reply for a missing string; the catalog test catches it.
        where = f" (msgctxt {context!r})" if context else ""
        log.warning("%s.po (%s) has no entry for %r%s", domain, lang, msgid, where)
    return text.format(**values) if values else text


def missing_translations(domain: str) -> list[tuple[str, str]]:
    """(lang, entry) pairs with no usable translation; empty when complete.

    ``entry`` is the msgid, preceded by its context when it has one
    (``"join/ask_name/text: What's your first name?"``).
    """
    missing = []
    base = _catalog(BASE_LANGUAGE, domain)
    for lang in LANGUAGES:
        if lang == BASE_LANGUAGE:
            continue
        catalog = _catalog(lang, domain)
        for message in base:
            if not message.id:
                continue
            other = catalog.get(message.id, context=message.context)
            if other is None or not other.string or other.fuzzy:
                where = f"{message.context}: " if message.context else ""
                missing.append((lang, f"{where}{message.id}"))
    return missing


def reload() -> None:
    """Forget loaded catalogs (after editing a .po file in a running process)."""
    _catalog.cache_clear()


def format_datetime(moment: dt.datetime, lang: str, tz: str) -> str:
    """A date and time as a contact reads it: "sábado 6 de junio, 10:00 a.m."."""
    pattern = {
        "es": "EEEE d 'de' MMMM, h:mm a",
        "en": "EEEE, MMMM d, h:mm a",
    }.get(lang, "EEEE, MMMM d, h:mm a")
    return _babel_format_datetime(moment, pattern, tzinfo=tz, locale=Locale.parse(lang))


def format_number(number: int, lang: str) -> str:
    """A count as a contact reads it, in Babel's format for the language: 12.345 or 12,345."""
    return _babel_format_decimal(number, locale=Locale.parse(lang))
