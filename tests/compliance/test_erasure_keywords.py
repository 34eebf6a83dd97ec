"""Asking to erase one's data, confirming it, asking what is held: a small, exact word list.

BORRAR alone is only the confirmation (it erases nothing unless it follows a
request); a request always stops messages too, so an opt-out that asks to
erase ("delete my information") is one.
"""

from __future__ import annotations

import pytest

from bot.compliance.keywords import Intent, asks_erasure, classify
from bot.erasure import language_of

ERASE_REQUESTS = [
    ("BORRAR MIS DATOS", "es"),
    ("borra mis datos", "es"),
    ("Borren mis datos por favor", "es"),
    ("quiero borrar mis datos", "es"),
    ("Quiero que borren mi información", "es"),
    ("pueden eliminar todos mis datos", "es"),
    ("Hola. Borrar mis datos", "es"),
    ("DELETE MY DATA", "en"),
    ("erase my data please", "en"),
    ("I want to delete my data", "en"),
    ("Can you erase all my information", "en"),
]


@pytest.mark.parametrize(("text", "language"), ERASE_REQUESTS)
def test_erase_requests(text: str, language: str) -> None:
    assert classify(text) is Intent.ERASE_REQUEST
    assert asks_erasure(text)
    assert language_of(text) == language


@pytest.mark.parametrize("text", ["delete my information", "please erase my information"])
def test_an_opt_out_that_asks_to_erase_is_an_erase_request_too(text: str) -> None:
    assert classify(text) is Intent.OPT_OUT  # stopping beats everything
    assert asks_erasure(text)


@pytest.mark.parametrize(
    ("text", "language"),
    [("BORRAR", "es"), ("borrar", "es"), ("Eliminar", "es"), ("DELETE", "en"), ("erase", "en")],
)
def test_the_confirming_word_alone(text: str, language: str) -> None:
    assert classify(text) is Intent.ERASE_CONFIRM
    assert not asks_erasure(text)
    assert language_of(text) == language


@pytest.mark.parametrize(
    "text", ["MIS DATOS", "mis datos", "MY DATA", "my information", "¿Qué datos tienen?"]
)
def test_my_data(text: str) -> None:
    assert classify(text) is Intent.MY_DATA


@pytest.mark.parametrize(
    "text",
    [
        "quiero borrar",  # what?
        "borrar el mensaje anterior",
        "borra eso",
        "delete that message",
        "mis datos son Ana, 22000",
        "my data plan ran out",
        "Delete my info",  # an opt-out only
    ],
)
def test_not_an_erase_request(text: str) -> None:
    assert classify(text) is not Intent.ERASE_REQUEST
    assert not asks_erasure(text)
