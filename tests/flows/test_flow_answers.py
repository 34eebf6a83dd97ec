"""Forgiving answers: what a contact may text back, and what the bot understands."""

from __future__ import annotations

from datetime import date

import pytest

from bot.flows import answers, postal
from bot.flows.answers import Choice
from bot.text import normalize

TODAY = date(2026, 5, 13)  # a Wednesday


def choices(*specs: tuple[str, str]) -> list[Choice]:
    """Listed choices numbered 1..n from (value, "phrase|phrase") pairs."""
    return [
        Choice(value, n, tuple(normalize(p) for p in phrases.split("|")))
        for n, (value, phrases) in enumerate(specs, 1)
    ]


CAUSES = choices(
    ("human_rights", "human rights|derechos humanos|ddhh"),
    ("gun_trafficking", "stop gun trafficking into mexico|armas|guns|trafico de armas"),
    ("right_to_stay_home", "right to stay home|derecho a quedarse|no migrar"),
    ("demilitarization", "demilitarization|desmilitarizacion|militares"),
    ("climate_justice", "climate justice|justicia climatica|clima|climate"),
)
RSVP = choices(("yes", "yes|si|claro"), ("no", "no|no puedo"), ("maybe", "maybe|tal vez|no se"))
MENU = [*choices(("door", "door|puerta"), ("done", "done|listo")), Choice("menu", None, ("menu",))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", ["human_rights"]),
        ("uno", ["human_rights"]),
        ("One", ["human_rights"]),
        ("primero", ["human_rights"]),
        ("la 2", ["gun_trafficking"]),
        ("tres", ["right_to_stay_home"]),
        ("Derechos Humanos", ["human_rights"]),
        ("DERECHOS HUMANOS!!", ["human_rights"]),
        ("desmilitarización", ["demilitarization"]),
        ("justicia climatica", ["climate_justice"]),
        ("climat", ["climate_justice"]),  # a typo
        ("desmilitarisacion", ["demilitarization"]),  # a typo in a long word
        ("me importa el clima", ["climate_justice"]),
        ("derecho a quedarse", ["right_to_stay_home"]),
        ("6", None),  # not on the menu
        ("1 3", None),  # one answer only
        ("pizza", None),
        ("", None),
    ],
)
def test_single_choice(text, expected):
    assert answers.match_choices(text, CAUSES) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 3", ["human_rights", "right_to_stay_home"]),
        ("1,3", ["human_rights", "right_to_stay_home"]),
        ("1, 3 y 5", ["human_rights", "right_to_stay_home", "climate_justice"]),
        ("uno y tres", ["human_rights", "right_to_stay_home"]),
        ("one and three", ["human_rights", "right_to_stay_home"]),
        ("3 1 3", ["right_to_stay_home", "human_rights"]),  # order kept, no repeats
        ("armas y clima", ["gun_trafficking", "climate_justice"]),
        ("derechos humanos, clima", ["human_rights", "climate_justice"]),
        ("todas", [c.value for c in CAUSES]),
        ("ALL", [c.value for c in CAUSES]),
        ("1 9", None),
    ],
)
def test_multiple_choice(text, expected):
    assert answers.match_choices(text, CAUSES, multiple=True) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sí", ["yes"]),
        ("Si!", ["yes"]),
        ("no", ["no"]),
        ("No puedo", ["no"]),
        ("no sé", ["maybe"]),  # the longer phrase wins over "no"
        ("tal vez", ["maybe"]),
        ("3", ["maybe"]),
        ("done", None),
    ],
)
def test_choice_phrases_and_overlaps(text, expected):
    assert answers.match_choices(text, RSVP) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("done", ["done"]),  # an exact word, not "doce" (12) misspelled
        ("2", ["done"]),
        ("menu", ["menu"]),  # hidden: accepted but not numbered
        ("Menú", ["menu"]),
        ("3", None),
    ],
)
def test_hidden_choices_are_not_numbered(text, expected):
    assert answers.match_choices(text, MENU) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sí", True),
        ("si", True),
        ("SI", True),
        ("yes", True),
        ("Y", True),
        ("claro", True),
        ("claro que sí", True),
        ("simón", True),
        ("siii", True),
        ("yesss", True),
        ("si, pueden llamarme", True),
        ("no", False),
        ("N", False),
        ("nop", False),
        ("nope", False),
        ("nel", False),
        ("no, gracias", False),
        ("noooo", False),
        ("no sé", None),
        ("no se si pueda", None),
        ("tal vez", None),
        ("maybe", None),
        ("pizza", None),
        ("", None),
    ],
)
def test_yes_no(text, expected):
    assert answers.parse_yes_no(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("tres", 3),
        ("three", 3),
        ("somos 4", 4),
        ("somos un grupo de 5", 5),  # digits win over "un"
        ("cero", 0),
        ("solo yo", 0),
        ("just me", 0),
        ("cautro", 4),  # a swapped pair of letters
        ("2 o 3", None),
        ("muchos", None),
    ],
)
def test_numbers(text, expected):
    assert answers.parse_number(text) == expected


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("78701", None, ("78701", "US", "US-TX")),
        ("90210", "US", ("90210", "US", "US-CA")),
        ("10001-1234", None, ("10001", "US", "US-NY")),
        ("06700", "MX", ("06700", "MX", "MX-CMX")),  # Ciudad de México
        ("06700", "US", ("06700", "US", "US-CT")),  # the same digits are a ZIP in Connecticut
        ("06700", None, ("06700", "US", "US-CT")),
        ("C.P. 06700", "US", ("06700", "MX", "MX-CMX")),  # the text says which
        ("cp 44100", None, ("44100", "MX", "MX-JAL")),
        ("ZIP 44100", "MX", ("44100", "US", "US-OH")),
        ("32000", "MX", ("32000", "MX", "MX-CHH")),  # Ciudad Juárez
        ("17000", "MX", ("17000", "US", "US-PA")),  # no Mexican state starts with 17
        ("00000", None, None),
        ("1234", None, None),
        ("mi casa", None, None),
    ],
)
def test_postal_codes(text, country, expected):
    found = answers.parse_postal_code(text, country)
    assert (found and (found.code, found.country, found.state)) == expected


@pytest.mark.parametrize(
    ("code", "country", "state"),
    [
        ("99501", "US", "US-AK"),
        ("96813", "US", "US-HI"),
        ("00901", "US", "US-PR"),
        ("20500", "US", "US-DC"),
        ("85001", "US", "US-AZ"),
        ("87101", "US", "US-NM"),
        ("88901", "US", "US-NV"),
        ("01000", "MX", "MX-CMX"),
        ("22000", "MX", "MX-BCN"),
        ("64000", "MX", "MX-NLE"),
        ("68000", "MX", "MX-OAX"),
        ("97000", "MX", "MX-YUC"),
        ("99000", "MX", "MX-ZAC"),
    ],
)
def test_state_table(code, country, state):
    assert postal.state_for(code, country) == state


@pytest.mark.parametrize(
    ("text", "lang", "direction", "expected"),
    [
        ("hoy", "es", "any", date(2026, 5, 13)),
        ("today", "en", "any", date(2026, 5, 13)),
        ("mañana", "es", "any", date(2026, 5, 14)),
        ("tomorrow", "en", "any", date(2026, 5, 14)),
        ("pasado mañana", "es", "any", date(2026, 5, 15)),
        ("ayer en la mañana", "es", "past", date(2026, 5, 12)),  # morning, not tomorrow
        ("anteayer", "es", "past", date(2026, 5, 11)),
        ("12/05", "es", "any", date(2026, 5, 12)),  # day/month in Spanish
        ("12/05", "en", "future", date(2026, 12, 5)),  # month/day in English
        ("25/12", "en", "future", date(2026, 12, 25)),  # 25 cannot be a month
        ("12/05", "en", "any", date(2025, 12, 5)),  # no direction: the closest
        ("5/6/2027", "es", "any", date(2027, 6, 5)),
        ("5 de junio", "es", "future", date(2026, 6, 5)),
        ("June 5", "en", "future", date(2026, 6, 5)),
        ("june 5th", "en", "future", date(2026, 6, 5)),
        ("el 3 de marzo", "es", "future", date(2027, 3, 3)),  # the next one
        ("el 3 de marzo", "es", "past", date(2026, 3, 3)),  # the last one
        ("2026-07-04", "en", "any", date(2026, 7, 4)),
        ("el viernes", "es", "future", date(2026, 5, 15)),
        ("el viernes pasado", "es", "any", date(2026, 5, 8)),
        ("monday", "en", "past", date(2026, 5, 11)),
        ("31/02", "es", "any", None),
        ("cuando sea", "es", "any", None),
    ],
)
def test_dates(text, lang, direction, expected):
    assert answers.parse_date(text, TODAY, lang, direction) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("skip", True), ("SALTAR", True), ("saltr", True), ("prefiero no decir", True), ("no", False)],
)
def test_skip(text, expected):
    assert answers.is_skip(text) is expected


@pytest.mark.parametrize(
    ("word", "target", "expected"),
    [
        ("clima", "clima", True),
        ("climat", "clima", True),
        ("cuatro", "cuarto", True),  # one swap
        ("uno", "una", False),  # short words must be exact
        ("no", "nos", False),
        ("desmilitarisasion", "desmilitarizacion", True),  # two typos in a long word
        ("armas", "almas", True),
        ("armas", "casas", False),
    ],
)
def test_typo_tolerance(word, target, expected):
    assert answers.similar(word, target) is expected
