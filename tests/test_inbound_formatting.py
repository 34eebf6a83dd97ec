"""WhatsApp's *bold* reaches WhatsApp; an SMS phone gets the same words without the marks.

Flow replies (TwiML, through the real webhook) and one-off sends (through the
real twilio client to the fake API), in both languages, on SQLite and PostgreSQL.
The message rows store what was sent. Broadcasts: tests/sending/test_broadcast_formatting.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.msgs.models import Message
from bot.msgs.sending import send_to_contact, sender_from_config
from tests.factories import contact_by_phone
from tests.twilio_requests import inbound_params, post_signed, reply_bodies, text

US = "+12135550123"
MX = "+525512345678"

RIGHTS = [
    # (they text, the first reply begins with, on SMS / on WhatsApp)
    ("RIGHTS", "Know your rights, from Puente Test.", "*Know your rights*, from Puente Test."),
    ("DERECHOS", "Conoce tus derechos, de Puente Test.", "*Conoce tus derechos*, de Puente Test."),
]


@pytest.mark.parametrize(("keyword", "on_sms", "on_whatsapp"), RIGHTS)
def test_a_flow_reply_has_its_marks_on_whatsapp_only(client, db, keyword, on_sms, on_whatsapp):
    sms = text(client, US, keyword)
    whatsapp = text(client, "whatsapp:" + MX, keyword)
    assert sms[0].startswith(on_sms)
    assert whatsapp[0].startswith(on_whatsapp)
    assert sms[0].removeprefix(on_sms) == whatsapp[0].removeprefix(on_whatsapp)
    with db.session() as session:
        stored = session.scalars(
            select(Message.body)
            .where(Message.direction == "out", Message.channel == "sms")
            .order_by(Message.id)
        ).all()
    assert stored == sms  # the row holds what the phone got


def test_a_retried_message_gets_the_same_stripped_reply(client):
    params = inbound_params(US, "RIGHTS")
    first = reply_bodies(post_signed(client, "/twilio/messages", params).data)
    again = reply_bodies(post_signed(client, "/twilio/messages", params).data)
    assert again == first and "*" not in first[0]


def test_a_flow_answer_in_a_topic_is_stripped_on_sms(client):
    text(client, US, "RIGHTS")
    topic = text(client, US, "2")[0]  # the topic, then the menu again
    assert topic.startswith("At work\n")


MARCH = "*Marcha* el _sábado_: https://puente.example.org/j/mi_grupo"
SENDS = [
    # (channel, written, what the phone gets)
    ("sms", MARCH, "Marcha el sábado: https://puente.example.org/j/mi_grupo"),
    ("whatsapp", MARCH, MARCH),
    ("sms", "*Rally* on ~Friday~ Saturday", "Rally on Friday Saturday"),
    ("sms", "lista_de_firmas.csv y 2*3*4", "lista_de_firmas.csv y 2*3*4"),
]


@pytest.mark.parametrize(("channel", "written", "received"), SENDS)
def test_a_one_off_send_reaches_the_api_as_its_channel_shows_it(
    app, client, db, fake_twilio, channel, written, received
):
    text(client, ("whatsapp:" if channel == "whatsapp" else "") + US, "Hello")  # opens the window
    contact_id = contact_by_phone(db, US).id
    outcome = send_to_contact(db, sender_from_config(app.config), contact_id, channel, written)
    assert outcome.sid
    [sent] = fake_twilio.outbox()
    assert sent["body"] == received
    with db.session() as session:
        assert session.get(Message, outcome.message_id).body == received
