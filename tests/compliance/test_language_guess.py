"""guess_language(): Spanish, English, or None when unclear."""

from __future__ import annotations

import pytest

from bot.compliance.language import ENGLISH, SPANISH, guess_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hola", "es"),
        ("hola!!", "es"),
        ("Buenos días", "es"),
        ("Gracias", "es"),
        ("Sí", "es"),
        ("quiero unirme", "es"),
        ("¿Cuándo es la marcha?", "es"),
        ("¿Cuándo?", "es"),  # the accent and ¿ are Spanish evidence
        ("Necesito ayuda con mi caso", "es"),
        ("ok gracias", "es"),
        ("Hello", "en"),
        ("Hi", "en"),
        ("thanks", "en"),
        ("yes", "en"),
        ("I want to join", "en"),
        ("When is the march?", "en"),
        ("My son is detained", "en"),
        ("Hola, I want to join", "en"),  # more English than Spanish
        ("Hi, quiero información de la marcha", "es"),
    ],
)
def test_guess(text: str, expected: str) -> None:
    assert guess_language(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "ok", "OK!", "👍", "123", "no", "STOP", "José", "?!", "Hola hello"],
)
def test_ambiguous_is_none(text: str) -> None:
    assert guess_language(text) is None


def test_word_lists_do_not_overlap() -> None:
    assert not SPANISH & ENGLISH
    assert not {"no", "me", "a", "ok"} & (SPANISH | ENGLISH)
