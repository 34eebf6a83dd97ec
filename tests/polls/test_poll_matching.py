"""How a reply is matched to a poll's choices (bot.flows.steps.poll_answer.match): pure."""

from __future__ import annotations

import pytest

from bot.flows.steps.poll_answer import match
from bot.polls.polls import parse_choices

YES_NO_MAYBE = parse_choices("SÍ|YES,NO,TAL VEZ|MAYBE")
CAUSES = parse_choices("Armas|Guns,Clima|Climate,Migración|Migration")


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("si", "si"), ("Sí", "si"), ("SÍ", "si"), ("1", "si"), ("uno", "si"), ("yes", "si"),
        ("Siii", "si"), ("claro", "si"), ("Sí, claro que voy", "si"), ("ok", "si"),
        ("no", "no"), ("2", "no"), ("nop", "no"), ("no gracias", "no"), ("mejor no", "no"),
        ("tal vez", "tal_vez"), ("Tal vez", "tal_vez"), ("3", "tal_vez"), ("maybe", "tal_vez"),
        ("quizás", "tal_vez"), ("quiza", "tal_vez"), ("no sé", "tal_vez"),
        ("hola", None), ("4", None), ("¿a qué hora?", None), ("", None), ("👍", None),
    ],
)  # fmt: skip
def test_yes_no_maybe(reply, value):
    assert match(reply, YES_NO_MAYBE) == value


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("armas", "armas"), ("GUNS", "armas"), ("migracion", "migracion"),
        ("Migration", "migracion"), ("climate", "clima"), ("2", "clima"), ("tres", "migracion"),
        ("sí", None), ("no", None), ("quizás", None), ("armas y clima", None),
    ],
)  # fmt: skip
def test_choices_that_are_no_yes_or_no(reply, value):
    assert match(reply, CAUSES) == value


def test_without_a_maybe_choice_an_unsure_reply_is_no_answer():
    yes_no = parse_choices("SÍ|YES,NO")
    assert match("no sé", yes_no) is None and match("quizás", yes_no) is None
    assert match("claro", yes_no) == "si" and match("nel", yes_no) == "no"


def test_two_yes_choices_make_a_plain_yes_unclear():
    two = parse_choices("SÍ VOY|YES I'M IN,CLARO|SURE,NO")
    assert match("si", two) is None
    assert match("claro", two) == "claro" and match("1", two) == "si_voy"


def test_a_choice_written_as_a_number_is_its_text_and_other_numbers_its_position():
    scale = parse_choices("5,10,20")
    assert match("5", scale) == "5" and match("10", scale) == "10" and match("20", scale) == "20"
    assert match("1", scale) == "5" and match("2", scale) == "10" and match("7", scale) is None
