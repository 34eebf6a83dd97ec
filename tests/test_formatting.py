"""WhatsApp's formatting marks: WhatsApp keeps them, SMS gets the text without them.

A table of real texts (Spanish and English, what organizers write:
tests/formatting_cases.py) and the rules as properties (hypothesis). The
browser's copy of the rules is compared with these in tests/browser/test_formatting.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.contacts.models import CHANNEL_SMS, CHANNEL_WHATSAPP
from bot.formatting import (
    BOLD,
    ITALIC,
    MONO,
    STRIKE,
    WHATSAPP,
    Span,
    for_channel,
    plain,
    spans,
    unclosed,
)
from tests.formatting_cases import SMS_TEXTS

BOLD_, ITALIC_, STRIKE_, MONO_ = (frozenset({s}) for s in (BOLD, ITALIC, STRIKE, MONO))


@pytest.mark.parametrize(("written", "sms"), SMS_TEXTS)
def test_sms_gets_the_text_without_the_marks(written: str, sms: str) -> None:
    assert for_channel(written, CHANNEL_SMS) == sms
    assert plain(written) == sms


@pytest.mark.parametrize(("written", "_sms"), SMS_TEXTS)
def test_whatsapp_keeps_the_marks(written: str, _sms: str) -> None:
    assert for_channel(written, CHANNEL_WHATSAPP) == written


def test_the_channel_names_agree_with_the_contacts_module() -> None:
    assert WHATSAPP == CHANNEL_WHATSAPP


SHOWN = [
    # (text, as WhatsApp shows it)
    ("*Marcha* hoy", [Span("Marcha", BOLD_), Span(" hoy")]),
    (
        "_hoy_ ~ayer~ ```ya```",
        [Span("hoy", ITALIC_), Span(" "), Span("ayer", STRIKE_), Span(" "), Span("ya", MONO_)],
    ),
    ("*_ambos_*", [Span("ambos", BOLD_ | ITALIC_)]),
    ("*negrita _y cursiva_*", [Span("negrita ", BOLD_), Span("y cursiva", BOLD_ | ITALIC_)]),
    ("```*tal cual*```", [Span("*tal cual*", MONO_)]),
    ("*a *b* c*", [Span("a *b", BOLD_), Span(" c*")]),  # WhatsApp's nearest closing mark
    ("sin formato", [Span("sin formato")]),
    ("", []),
]


@pytest.mark.parametrize(("text", "shown"), SHOWN)
def test_spans_are_what_whatsapp_shows(text: str, shown: list[Span]) -> None:
    assert spans(text) == shown


UNCLOSED = [
    ("*Importante: lee esto", ["*"]),
    ("_hola y *adiós*", ["_"]),
    ("*bien* _mal", ["_"]),
    ("*bien* y _bien_", []),
    ("2*3 y file_name y * lista", []),  # no mark there could open
    ("```código sin cerrar", ["```"]),
]


@pytest.mark.parametrize(("text", "marks"), UNCLOSED)
def test_unclosed_marks_are_found(text: str, marks: list[str]) -> None:
    assert unclosed(text) == marks


# --- the rules as properties ---------------------------------------------------------

MARK_CHARS = "*_~`"
# Texts like organizers write: letters with accents, digits, punctuation, spaces,
# line breaks, emoji, and many marks.
ALPHABET = st.sampled_from(
    list("aeiouáéíóúñÑxyzAB019 .,:;!¡?¿()-/@\n\t") + ["📣", "🇲🇽", "e\u0301"] + list(MARK_CHARS) * 4
)
texts = st.lists(ALPHABET, max_size=60).map("".join)
unmarked = st.text(st.characters(blacklist_characters=MARK_CHARS), max_size=200)


@given(unmarked)
def test_a_text_without_marks_is_unchanged(text: str) -> None:
    assert plain(text) == text
    assert "".join(s.text for s in spans(text)) == text


@settings(max_examples=400)
@given(texts)
def test_stripping_only_removes_marks(text: str) -> None:
    stripped = plain(text)
    assert len(stripped) <= len(text)
    assert _without_marks(stripped) == _without_marks(text)  # the words stay, in order


@settings(max_examples=400)
@given(texts)
def test_stripping_twice_changes_nothing(text: str) -> None:
    assert plain(plain(text)) == plain(text)


@settings(max_examples=400)
@given(texts)
def test_shown_text_is_the_text_less_its_pairs(text: str) -> None:
    shown = "".join(s.text for s in spans(text))
    assert _without_marks(shown) == _without_marks(text)
    assert (len(text) - len(shown)) % 2 == 0  # marks go in pairs (``` counts 3 and 3)
    assert all(s.text for s in spans(text))  # no empty runs


@given(texts)
def test_whatsapp_text_is_sent_as_written(text: str) -> None:
    assert for_channel(text, CHANNEL_WHATSAPP) == text


@given(st.lists(st.sampled_from(["hola", "mundo", "2024", "ñandú"]), min_size=1, max_size=4))
def test_a_pair_around_words_is_removed(words: list[str]) -> None:
    run = " ".join(words)
    for mark in ("*", "_", "~", "```"):
        assert plain(f"Hoy {mark}{run}{mark}.") == f"Hoy {run}."


@given(st.lists(st.sampled_from(["a", "b", "1", "ñ", "_", "*", "~"]), min_size=1, max_size=30))
def test_a_web_address_is_never_changed(path: list[str]) -> None:
    url = "https://puente.example.org/" + "".join(path) + "x"
    assert url in plain(f"Firma: {url} hoy")
    assert url in plain(f"*Firma*: {url} _hoy_")


def _without_marks(text: str) -> str:
    return "".join(c for c in text if c not in MARK_CHARS)
