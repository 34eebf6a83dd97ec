"""Every text the dashboard shows is in its catalog, in Spanish and English.

tests/test_catalogs.py checks that each catalog entry is translated; this
checks that each string in the code and templates has an entry at all.
(Run ``python -m bot.web.dashboard.catalog`` to add new ones.)
"""

from __future__ import annotations

import re

from bot import i18n
from bot.web.dashboard.catalog import msgids
from tests.paths import ROOT

TEMPLATES = ROOT / "bot" / "web" / "templates" / "dashboard"


def test_every_marked_string_is_in_the_catalog():
    catalog = {m.id for m in i18n._catalog("en", "dashboard") if m.id}  # noqa: SLF001
    missing = sorted({(msgid, where) for msgid, where in msgids() if msgid not in catalog})
    assert missing == []


def test_every_catalog_entry_is_still_used():
    used = {msgid for msgid, _ in msgids()}
    stale = [m.id for m in i18n._catalog("en", "dashboard") if m.id and m.id not in used]  # noqa: SLF001
    assert stale == []


def test_spanish_keeps_every_placeholder():
    for message in i18n._catalog("es", "dashboard"):  # noqa: SLF001
        if message.id:
            assert set(re.findall(r"\{\w+\}", message.id)) == set(
                re.findall(r"\{\w+\}", message.string)
            ), message.id


def test_templates_have_no_untranslated_sentences():
    """Text between tags must come from _(): a rough check for forgotten strings."""
    suspicious = []
    for path in TEMPLATES.rglob("*.html"):
        text = re.sub(r"{[{%#].*?[}%#]}", "", path.read_text(), flags=re.S)
        text = re.sub(r"<(script|style)\b.*?</\1>", "", text, flags=re.S)
        text = re.sub(r"<svg\b.*?</svg>", "", text, flags=re.S)
        text = re.sub(r"<code>.*?</code>", "", text, flags=re.S)  # names, not sentences
        for chunk in re.findall(r">([^<>]+)<", text):
            words = re.findall(r"[A-Za-zÁÉÍÓÚáéíóúñÑ]{3,}", chunk)
            if words and chunk.strip().lstrip("· ") not in {"Puente", "high", "low"}:
                suspicious.append((path.name, chunk.strip()))
    assert suspicious == []
