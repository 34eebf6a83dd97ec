"""Both languages, always: every catalog string has a Spanish and an English text."""

from __future__ import annotations

import pytest

from bot import i18n
from bot.compliance import replies


@pytest.mark.parametrize("domain", i18n.domains())
def test_every_string_is_translated(domain):
    assert i18n.missing_translations(domain) == []


@pytest.mark.parametrize("msgid", replies.ALL + (replies.LANGUAGE_ASK,))
@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_compliance_texts_are_in_the_catalog(msgid, lang):
    settings = {"ORG_NAME": "Org", "ORG_SUPPORT_CONTACT": "help@example.org"}
    partner = {"partner": "Frontera", "partner_contact": "ayuda@example.org"}
    text = replies.text(msgid, lang, settings, **partner)
    assert "Org" in text or msgid in (
        replies.FREQUENCY,
        replies.LANGUAGE_SET,
        replies.LANGUAGE_SWITCHED,
    )
    if lang == "es":
        assert text != msgid.format(
            org_name="Org", support_contact="help@example.org", frequency="", **partner
        )


def test_missing_translation_is_detected(tmp_path, monkeypatch):
    for lang, body in (("en", ""), ("es", "")):
        folder = tmp_path / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "puente.po").write_text(f'msgid "Hello"\nmsgstr "{body}"\n')
    monkeypatch.setattr(i18n, "MESSAGES_DIR", tmp_path)
    i18n.reload()
    try:
        assert i18n.missing_translations("puente") == [("es", "Hello")]
    finally:
        monkeypatch.undo()
        i18n.reload()


def test_an_entry_is_translated_in_its_own_context(tmp_path, monkeypatch):
    """The same msgid in another context (or none) does not translate it."""
    entries = {
        "en": 'msgctxt "join/thanks/text"\nmsgid "Thanks!"\nmsgstr ""\n\n'
        'msgctxt "summit/thanks/text"\nmsgid "Thanks!"\nmsgstr ""\n',
        "es": 'msgctxt "join/thanks/text"\nmsgid "Thanks!"\nmsgstr "¡Gracias por unirte!"\n\n'
        'msgid "Thanks!"\nmsgstr "¡Gracias!"\n',
    }
    for lang, body in entries.items():
        folder = tmp_path / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "flows.po").write_text(body, encoding="utf-8")
    monkeypatch.setattr(i18n, "MESSAGES_DIR", tmp_path)
    i18n.reload()
    try:
        assert i18n.missing_translations("flows") == [("es", "summit/thanks/text: Thanks!")]
        assert i18n.pgettext("es", "join/thanks/text", "Thanks!", "flows") == "¡Gracias por unirte!"
        assert i18n.pgettext("es", "summit/thanks/text", "Thanks!", "flows") == "Thanks!"
        assert i18n.gettext("es", "Thanks!", "flows") == "¡Gracias!"
    finally:
        monkeypatch.undo()
        i18n.reload()


@pytest.mark.parametrize("msgid", replies.ERASURE + replies.DATA_KINDS)
@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_erasure_texts_are_in_the_catalog(msgid, lang):
    values = dict.fromkeys(
        ("minutes", "kinds", "messages", "organizations", "signatures", "reports", "count"), "1"
    )
    text = replies.text(msgid, lang, {"ORG_NAME": "Org", "ORG_SUPPORT_CONTACT": "-"}, **values)
    if lang == "es":
        assert text != msgid.format(org_name="Org", **values)
