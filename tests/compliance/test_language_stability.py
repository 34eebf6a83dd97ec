"""A contact's language never flips by accident.

It is set by the first message (or a +52 number), by a choice (ESPAÑOL /
ENGLISH, a flow's language question) or by a later free message clearly
written in the other language, which the bot confirms. An answer to a flow
question never changes it: names and places carry accents.
"""

from __future__ import annotations

import pytest

from bot.compliance.language import clear_switch
from tests.factories import contact_by_phone
from tests.twilio_requests import text

US = "+12135550142"
MX = "+525512340142"

# (they write, their language now, the language it switches to, or None)
SWITCHES = [
    # names and places, with accents: never evidence
    ("José Martínez", "en", None),
    ("Peñasco", "en", None),
    ("María de los Ángeles", "en", None),
    ("Juan de la Cruz", "en", None),
    ("Ciudad Juárez, Chihuahua", "en", None),
    ("San Andrés Tuxtla", "en", None),
    ("Me llamo José", "en", None),  # two words are not enough
    ("Ñuñoa", "en", None),
    ("Los Angeles", "es", None),
    ("Mary Anne of Green Gables", "es", None),
    # answers and short replies
    ("sí", "en", None),
    ("gracias", "en", None),
    ("yes", "es", None),
    ("ok thanks", "es", None),
    ("12345", "en", None),
    ("👍", "es", None),
    # Spanglish and English loanwords in Spanish: stays Spanish
    ("voy al meeting mañana", "es", None),
    ("mándame el link por email", "es", None),
    ("ok, nos vemos en el rally", "es", None),
    ("el parking está full", "es", None),
    ("Hey, ¿cuándo es el meeting?", "es", None),
    ("thank you, nos vemos", "es", None),
    ("I'll be at la marcha", "en", None),
    ("see you at the plaza", "en", None),
    ("the taco place on Main", "en", None),
    # clearly the other language: switches
    ("Hola, quiero saber cuándo es la marcha", "en", "es"),
    ("¿Dónde puedo encontrar ayuda para mi familia?", "en", "es"),
    ("necesito información sobre mis derechos por favor", "en", "es"),
    ("no entiendo, ¿me puedes escribir en español por favor?", "en", "es"),
    ("I want to know when the march is", "es", "en"),
    ("Can you write to me in English please", "es", "en"),
    ("I don't understand, what do you need from me", "es", "en"),
    ("Where is the meeting and what time", "es", "en"),
    # already in that language: nothing to switch
    ("Hola, quiero saber cuándo es la marcha", "es", None),
    ("I want to know when the march is", "en", None),
    # mixed evenly: not clear
    ("Hello, quiero saber when is the march", "es", None),
    ("hola how are you, yo estoy bien", "en", None),
]


@pytest.mark.parametrize(("words", "current", "expected"), SWITCHES)
def test_only_clear_writing_switches(words: str, current: str, expected: str | None) -> None:
    assert clear_switch(words, current) == expected


def test_the_table_is_large_enough() -> None:
    assert len(SWITCHES) >= 30


ANSWERS = ["José Martínez", "Peñasco", "María de los Ángeles", "Ñandú", "Sí", "Zoé"]


@pytest.mark.parametrize("name", ANSWERS)
def test_an_answer_never_changes_the_language(client, db, name):
    text(client, US, "JOIN")
    replies = text(client, US, name)  # answers "What's your first name?"
    assert any("ZIP code" in r for r in replies), replies
    assert contact_by_phone(db, US).language == "en"
    replies = text(client, US, "Peñasco, Sonora")  # answers the postal code question badly
    assert all("código" not in r for r in replies) and contact_by_phone(db, US).language == "en"


def test_a_spanish_answer_to_an_english_question_stays_english(client, db):
    text(client, US, "JOIN")
    replies = text(client, US, "me llamo José de la Cruz y vivo en Ciudad Juárez")
    assert contact_by_phone(db, US).language == "en"
    assert any("ZIP code" in r for r in replies)


def test_a_clear_free_message_switches_and_says_how_to_switch_back(client, db):
    text(client, US, "Hello")
    replies = text(client, US, "Hola, ¿dónde puedo encontrar ayuda para mi familia?")
    assert contact_by_phone(db, US).language == "es"
    assert not contact_by_phone(db, US).language_chosen
    assert replies[0].startswith("Escribiste en español") and "reply ENGLISH" in replies[0]
    replies = text(client, US, "ENGLISH")  # and back, by choice
    assert contact_by_phone(db, US).language == "en" and contact_by_phone(db, US).language_chosen


def test_a_free_message_with_a_name_does_not_switch(client, db):
    text(client, US, "Hello")
    assert text(client, US, "José Martínez") == []  # unhandled: waits in the inbox
    assert contact_by_phone(db, US).language == "en"


def test_a_chosen_language_is_kept_whatever_they_write(client, db):
    text(client, MX, "ENGLISH")
    text(client, MX, "Hola, quiero saber cuándo es la marcha por favor")
    assert contact_by_phone(db, MX).language == "en"


def test_a_plus52_number_then_clear_english_switches(client, db):
    text(client, MX, "12345")  # no words: the number says Spanish
    assert contact_by_phone(db, MX).language == "es"
    replies = text(client, MX, "I want to know when the march is")
    assert contact_by_phone(db, MX).language == "en"
    assert replies[0].startswith("You wrote in English") and "ESPAÑOL" in replies[0]


def test_after_the_language_question_a_plain_hola_is_the_answer(client, db):
    replies = text(client, US, "ok")  # nothing to go on: we ask
    assert "ENGLISH" in replies[0] and contact_by_phone(db, US).language == "en"
    text(client, US, "hola")
    assert contact_by_phone(db, US).language == "es"
    text(client, US, "hello")  # from now on only clear writing switches it
    assert contact_by_phone(db, US).language == "es"


def test_a_spanish_speaker_answering_with_english_words_stays_spanish(client, db):
    text(client, MX, "UNIRME")
    text(client, MX, "Brenda")  # name
    replies = text(client, MX, "OK")  # skip-like answers keep the flow's language
    assert contact_by_phone(db, MX).language == "es"
    assert all("ZIP code" not in r for r in replies)


KEYWORDS = [
    # (their language, they text, the reply contains): BAJA and AYUDA are Spanish
    # words, HELP an English one; STOP has no language of its own
    ("en", "BAJA", "Te diste de baja"),
    ("en", "AYUDA", "para ayuda escribe a"),
    ("en", "STOP", "You are unsubscribed"),
    ("es", "STOP", "Te diste de baja"),
    ("es", "HELP", "for help contact"),
]


@pytest.mark.parametrize(("language", "keyword", "expected"), KEYWORDS)
def test_a_keyword_is_answered_in_its_own_language_and_changes_nothing(
    client, db, language, keyword, expected
):
    text(client, US, "Hola" if language == "es" else "Hello")
    replies = text(client, US, keyword)
    assert expected in replies[0]
    assert contact_by_phone(db, US).language == language
