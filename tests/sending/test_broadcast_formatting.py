"""A broadcast with WhatsApp's *bold*: WhatsApp contacts get the marks, SMS contacts the
same words without them, each in their language; the rows store what was sent, and
the throttle books the segments of the text SMS gets."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.broadcasts.models import Delivery
from bot.db import utcnow
from bot.msgs.models import Message
from bot.msgs.sending import Draft, prepare_many
from bot.sending import batches, deliveries
from tests.factories import create_broadcast, create_contact
from tests.workers import in_process, worker_env

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)

TEXTS = {
    "es": "*Marcha* el _sábado_ a las 10. Firma: https://puente.example.org/p/mi_peticion",
    "en": "*March* on _Saturday_ at 10. Sign: https://puente.example.org/p/mi_peticion",
}
SMS_TEXTS = {
    "es": "Marcha el sábado a las 10. Firma: https://puente.example.org/p/mi_peticion",
    "en": "March on Saturday at 10. Sign: https://puente.example.org/p/mi_peticion",
}


@pytest.fixture
def env(database_url, redis_url, fake_twilio_server, fake_twilio):
    return worker_env(
        database_url, redis_url, fake_twilio_server[1], SMS_RATE_PER_S="40", SETTLE_AFTER_S="60"
    )


def test_each_channel_gets_the_broadcast_as_it_shows_it(database, env, fake_twilio):
    from bot.broadcasts import fanout

    runtime = in_process(env)
    now = utcnow()
    sms_es = create_contact(database, "+525555550101", "es", ("sms",))
    sms_en = create_contact(database, "+12135550101", "en", ("sms",))
    wa_es = create_contact(database, "+525555550102", "es", ("whatsapp",), last_inbound_at=now)
    wa_en = create_contact(database, "+12135550102", "en", ("whatsapp",), last_inbound_at=now)
    broadcast_id = create_broadcast(database, TEXTS, track_links=False)  # the URL as written
    fanout.fan_out(runtime.db, broadcast_id, now, 500, lambda _batch: None)

    result = batches.send_batch(runtime, broadcast_id, 0)

    assert result.statuses == {"sent": 4}
    received = {m["to"]: m["body"] for m in fake_twilio.outbox()}
    assert received == {
        "+525555550101": SMS_TEXTS["es"],
        "+12135550101": SMS_TEXTS["en"],
        "whatsapp:+525555550102": TEXTS["es"],
        "whatsapp:+12135550102": TEXTS["en"],
    }
    with database.session() as session:
        stored = dict(
            session.execute(
                select(Delivery.contact_id, Message.body)
                .join(Message, Message.id == Delivery.message_id)
                .where(Delivery.broadcast_id == broadcast_id)
            ).all()
        )
    assert stored == {
        sms_es: SMS_TEXTS["es"],
        sms_en: SMS_TEXTS["en"],
        wa_es: TEXTS["es"],
        wa_en: TEXTS["en"],
    }


def test_the_throttle_books_the_segments_sms_gets(database):
    """162 characters as written (two segments), 156 as sent (one)."""
    contact = create_contact(database, "+12135550103", "en", ("sms",))
    words = "*Rally* _today_ ~now~ " + "a" * 140
    with database.session() as session:
        [made] = prepare_many(session, [Draft(contact, "sms", words)], utcnow())
    assert made.draft.body == "Rally today now " + "a" * 140
    assert deliveries.weight_of(made.draft) == 1
    assert deliveries.weight_of(Draft(contact, "sms", words)) == 2  # what it would have cost
