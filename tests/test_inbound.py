"""A person texts Puente: compliance keywords, language, contacts, in both languages.

Every test here runs on SQLite and on PostgreSQL, through the real webhook
with a valid Twilio signature.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.contacts.identity import find_by_phone
from bot.contacts.models import ConsentEvent, Contact
from bot.msgs.models import Message
from tests.factories import contact_by_phone
from tests.twilio_requests import inbound_params, post_signed, text

US = "+12135550123"
MX = "+525512345678"
MX_WHATSAPP = "whatsapp:+5215512345678"


def consent_kinds(db, phone: str) -> list[str]:
    with db.session() as session:
        c = find_by_phone(session, phone)
        rows = session.scalars(
            select(ConsentEvent).where(ConsentEvent.contact_id == c.id).order_by(ConsentEvent.id)
        )
        return [e.kind for e in rows]


# --- first contact and language -------------------------------------------------

FIRST_CONTACT = [
    # (from, they text, language, reply contains)
    (US, "Hola", "es", "Bienvenida/o a Puente Test"),
    (US, "Hello", "en", "Welcome to Puente Test"),
    (MX, "ok", "es", "Bienvenida/o"),  # a +52 number starts in Spanish
    (US, "ok", "en", "ESPAÑOL para recibir mensajes en español, or ENGLISH"),  # ambiguous: ask
    ("whatsapp:+12135550123", "👍", "en", "or ENGLISH to receive"),
    (MX_WHATSAPP, "buenas tardes", "es", "Bienvenida/o"),
]


@pytest.mark.parametrize(("sender", "body", "language", "expected"), FIRST_CONTACT)
def test_first_message_starts_in_the_right_language(client, db, sender, body, language, expected):
    replies = text(client, sender, body)
    assert len(replies) == 1 and expected in replies[0]
    phone = sender.removeprefix("whatsapp:").replace("+521", "+52")
    assert contact_by_phone(db, phone).language == language


LANGUAGE_SWITCH = [
    ("ENGLISH", "en", "we will write to you in English"),
    ("english", "en", "we will write to you in English"),
    ("Español", "es", "te escribiremos en español"),
    ("ESPANOL", "es", "te escribiremos en español"),
    ("spanish!", "es", "te escribiremos en español"),
]


@pytest.mark.parametrize(("body", "language", "expected"), LANGUAGE_SWITCH)
def test_contact_switches_language_any_time(client, db, body, language, expected):
    text(client, US, "Hello")
    assert expected in text(client, US, body)[0]
    assert contact_by_phone(db, US).language == language
    assert contact_by_phone(db, US).language_chosen


@pytest.mark.parametrize("body", ["IDIOMA", "language", "Lenguaje"])
def test_asking_for_language_gets_a_bilingual_question(client, body):
    text(client, US, "Hello")
    reply = text(client, US, body)[0]
    assert "ESPAÑOL" in reply and "ENGLISH" in reply


# --- opt-out, help, opt-in ---------------------------------------------------------

OPT_OUT = [
    # (they text, language of the confirmation, confirmation contains)
    ("STOP", "en", "You are unsubscribed and will receive no more messages"),
    ("stop", "en", "You are unsubscribed"),
    ("Unsubscribe", "en", "You are unsubscribed"),
    ("please stop texting me", "en", "You are unsubscribed"),
    ("BAJA", "es", "Te diste de baja y no recibirás más mensajes"),
    ("¡Alto!", "es", "Te diste de baja"),
    ("ya no me manden mensajes", "es", "Te diste de baja"),
    ("No más", "es", "Te diste de baja"),
]


@pytest.mark.parametrize(("body", "language", "expected"), OPT_OUT)
@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_opt_out_in_both_languages(client, db, body, language, expected, channel):
    sender = US if channel == "sms" else "whatsapp:" + US
    text(client, sender, "Hola" if language == "es" else "Hello")
    replies = text(client, sender, body)
    assert replies == [pytest.approx(replies[0])] and expected in replies[0]
    assert "Puente Test" in replies[0]
    assert contact_by_phone(db, US).status == "opted_out"
    assert consent_kinds(db, US)[-1] == "opt_out"
    # After STOP, nothing: not even a reply to HELP or a flow keyword; still recorded.
    for later in ("Hola", "HELP", "AYUDA", "ENGLISH", "STOP"):
        assert text(client, sender, later) == []
    with db.session() as session:
        inbound = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        )
    assert inbound == 7


def test_opt_out_confirmed_by_twilio_is_not_confirmed_twice(client, db):
    text(client, US, "Hello")
    replies = text(client, US, "STOP", OptOutType="STOP")
    assert replies == []
    assert contact_by_phone(db, US).status == "opted_out"


OPT_IN = [
    ("START", "en", "You are subscribed"),
    ("unstop", "en", "You are subscribed"),
    ("ALTA", "es", "Te suscribiste"),
]


@pytest.mark.parametrize(("body", "language", "expected"), OPT_IN)
def test_opt_back_in(client, db, body, language, expected):
    text(client, US, "Hola" if language == "es" else "Hello")
    text(client, US, "STOP")
    reply = text(client, US, body)[0]
    assert expected in reply and "HELP" in reply or "AYUDA" in reply
    assert "Msg & data rates may apply" in reply or "tarifas de mensajes y datos" in reply
    assert contact_by_phone(db, US).status == "active"
    assert consent_kinds(db, US)[-2:] == ["opt_out", "re_opt_in"]
    assert text(client, US, "AYUDA")  # answered again


HELP = [
    ("HELP", "en", "for help contact help@puente.example.org"),
    ("info", "en", "Reply STOP to unsubscribe"),
    ("AYUDA", "es", "para ayuda escribe a help@puente.example.org"),
    ("ayuda!!", "es", "Responde BAJA"),
]


@pytest.mark.parametrize(("body", "language", "expected"), HELP)
def test_help_names_the_program_and_support(client, db, body, language, expected):
    text(client, US, "Hola" if language == "es" else "Hello")
    reply = text(client, US, body)[0]
    assert expected in reply and reply.startswith("Puente Test:")
    assert consent_kinds(db, US)[-1] == "help"


def test_consent_log_keeps_words_channel_and_sid(client, db):
    params = inbound_params("whatsapp:" + US, "please stop texting me")
    post_signed(client, "/twilio/messages", params)
    with db.session() as session:
        event = session.scalar(select(ConsentEvent))
        assert (event.kind, event.channel, event.words, event.message_sid) == (
            "opt_out",
            "whatsapp",
            "please stop texting me",
            params["MessageSid"],
        )


# --- one person, one contact ------------------------------------------------------------


def test_mexican_whatsapp_521_and_sms_52_are_one_contact(client, db):
    text(client, MX, "Hola")
    text(client, MX_WHATSAPP, "Hola", ProfileName="Lupita")
    with db.session() as session:
        contacts = session.scalars(select(Contact)).all()
        assert len(contacts) == 1
        c = contacts[0]
        assert c.phone == MX and c.country == "MX" and c.timezone == "America/Mexico_City"
        assert c.profile_name == "Lupita"
        assert sorted((a.channel, a.address) for a in c.addresses) == [
            ("sms", MX),
            ("whatsapp", MX_WHATSAPP),
        ]
        assert all(a.last_inbound_at is not None for a in c.addresses)


def test_stop_on_whatsapp_stops_sms_too(client, db):
    text(client, MX, "Hola")
    text(client, MX_WHATSAPP, "BAJA")
    assert text(client, MX, "AYUDA") == []
