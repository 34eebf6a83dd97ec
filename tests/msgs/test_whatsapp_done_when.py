"""Issue 14's "done when", by tapping: a person on WhatsApp joins, picks a cause from a
list, picks a know-your-rights topic and RSVPs to one of two events with a button; on
SMS the same flows run as numbered text, in both languages.

Replies with buttons or a list go by the REST API from a job (run here as the worker
would), with the question's content; everything else comes back as TwiML.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from bot import create_app
from bot.broadcasts.models import Event, Rsvp
from bot.channels.fake_twilio import FakeTwilio
from tests.factories import contact_by_phone, create_event
from tests.msgs.test_whatsapp_buttons import run_job, say
from tests.settings import settings_for

ROSA_WA = "whatsapp:+5215555550161"
ROSA = "+525555550161"
LUPE_SMS = "+525555550162"
JANE_SMS = "+12135550162"


@pytest.fixture
def wa_app(database_url, fake_twilio_server, fake_twilio: FakeTwilio, redis_url) -> Iterator[Flask]:
    fake_twilio.clear_contents()
    app = create_app(settings_for(database_url, fake_twilio_server[1], REDIS_URL=redis_url))
    db = app.extensions["puente.db"]
    create_event(db)  # CUMBRE / SUMMIT
    create_event(db, ("Marcha por la paz", "March for peace"), {"es": ["MARCHA"], "en": ["MARCH"]})
    yield app
    db.engine.dispose()
    connection = app.extensions.get("puente.replies_queue")
    if connection is not None:
        connection.close()


class Phone:
    """One person's thread: what they send, and every message that reaches them."""

    def __init__(self, app: Flask, fake: FakeTwilio, sender: str) -> None:
        self.app, self.fake, self.sender, self.seen = app, fake, sender, 0

    def send(self, body: str, **extra: str) -> list[dict]:
        sid, twiml = say(self.app, self.sender, body, **extra)
        run_job(self.app, sid)  # a queued turn's replies; nothing when it was TwiML
        sent = [m for m in self.fake.outbox() if m["to"] == self.sender][self.seen :]
        self.seen += len(sent)
        return [{"body": b, "content": None} for b in twiml] + [
            {"body": m["body"], "content": m.get("content")} for m in sent
        ]

    def tap(self, title: str, payload: str) -> list[dict]:
        return self.send(title, ButtonText=title, ButtonPayload=payload, MessageType="button")

    def pick(self, title: str, row_id: str) -> list[dict]:
        return self.send(title, ListId=row_id, ListTitle=title, MessageType="interactive")


def ids_of(message: dict, kind: str) -> list[str]:
    content = message["content"][kind]
    return [b["id"] for b in content.get("actions", content.get("items", []))]


def test_on_whatsapp_a_person_joins_picks_and_rsvps_by_tapping(wa_app, fake_twilio):
    rosa = Phone(wa_app, fake_twilio, ROSA_WA)
    rosa.send("UNIRME")  # the opt-in confirmation and the name question
    rosa.send("Rosa")
    *_, causes = rosa.send("22000")
    assert "ask_causes/gun_trafficking" in ids_of(causes, "twilio/list-picker")
    rosa.pick("Tráfico de armas", "ask_causes/gun_trafficking")
    assert "gun_trafficking" in contact_by_phone(wa_app.extensions["puente.db"], ROSA).tag_names

    *_, menu = rosa.send("DERECHOS")
    assert "menu/door" in ids_of(menu, "twilio/list-picker")
    door, more = rosa.pick("Agentes en tu puerta", "menu/door")
    assert "orden" in door["body"].lower()  # the topic: a warrant, in Spanish
    assert ids_of(more, "twilio/quick-reply")  # Menú / Listo as buttons
    rosa.tap("Listo", ids_of(more, "twilio/quick-reply")[-1])

    (question,) = rosa.send("MARCHA")  # one of the two events taking RSVPs
    assert "Marcha por la paz" in question["content"]["twilio/quick-reply"]["body"]
    buttons = ids_of(question, "twilio/quick-reply")
    assert buttons == ["ask_rsvp/yes", "ask_rsvp/no", "ask_rsvp/maybe"]
    rosa.tap("Sí, ahí estaré", "ask_rsvp/yes")
    db = wa_app.extensions["puente.db"]
    with db.session() as session:
        answered = session.execute(select(Event.names, Rsvp.answer).join(Rsvp)).all()
    assert [(names["es"], answer) for names, answer in answered] == [("Marcha por la paz", "yes")]


@pytest.mark.parametrize(
    ("phone", "words"),
    [
        (LUPE_SMS, ("UNIRME", "Lupe", "22000", "2", "DERECHOS", "1", "LISTO", "MARCHA", "1")),
        (JANE_SMS, ("JOIN", "Jane", "78701", "2", "RIGHTS", "1", "DONE", "MARCH", "1")),
    ],
)
def test_on_sms_the_same_flows_run_as_numbered_text(wa_app, fake_twilio, phone, words):
    thread = Phone(wa_app, fake_twilio, phone)
    said = [thread.send(word) for word in words]
    assert all(m["content"] is None for turn in said for m in turn)  # never a content on SMS
    bodies = ["\n".join(m["body"] for m in turn) for turn in said]
    assert "1. " in bodies[3 - 1] and "2. " in bodies[3 - 1]  # the causes, numbered
    assert "1. " in bodies[5 - 1]  # the rights topics, numbered
    assert "1. " in bodies[8 - 1] and "3. " in bodies[8 - 1]  # yes / no / maybe, numbered
    db = wa_app.extensions["puente.db"]
    contact = contact_by_phone(db, phone)
    assert "gun_trafficking" in contact.tag_names
    with db.session() as session:
        answered = session.execute(select(Event.names, Rsvp.answer).join(Rsvp)).all()
    assert [(names["en"], answer) for names, answer in answered] == [("March for peace", "yes")]
