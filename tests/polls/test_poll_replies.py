"""Polls on broadcasts (issue 12, item 3): replies matched forgivingly, the latest answer
counts, unmatched replies stay in the inbox, tallies per language, channel and partner.

The broadcast is sent by one send job in this process against the local fake Twilio
API; the replies go through the real webhook with a valid signature; on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.broadcasts import fanout
from bot.contacts.models import Contact
from bot.db import utcnow
from bot.msgs.models import DIRECTION_IN, Message
from bot.polls import polls, tally
from bot.polls.models import Poll, PollAnswer
from bot.sending import batches
from tests.factories import contact_by_phone, create_broadcast, create_contact, create_partner
from tests.twilio_requests import inbound_params, post_signed, reply_bodies, text
from tests.workers import in_process, worker_env

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
POLL = "SÍ|YES,NO,TAL VEZ|MAYBE"
TEXTS = {
    "es": "¿Vienes a la marcha del sábado? Responde SÍ, NO o TAL VEZ.",
    "en": "Coming to Saturday's march? Reply YES, NO or MAYBE.",
}


@pytest.fixture
def env(database_url, redis_url, fake_twilio_server, fake_twilio):
    return worker_env(database_url, redis_url, fake_twilio_server[1], SETTLE_AFTER_S="60")


def poll_broadcast(db, spec=POLL):
    """A broadcast with a poll, created (as the CLI does) and set to send."""
    from bot.broadcasts import broadcast

    broadcast_id = create_broadcast(db, TEXTS, send=False)
    with db.session() as session:
        polls.attach(session, broadcast.get(session, broadcast_id), polls.parse_choices(spec))
        broadcast.send(session, broadcast_id, utcnow())
    return broadcast_id


def send(env, broadcast_id):
    runtime = in_process(env)
    fanout.fan_out(runtime.db, broadcast_id, utcnow(), 500, lambda _batch: None)
    batches.send_batch(runtime, broadcast_id, 0)


def answers(db, broadcast_id):
    """contact phone -> (choice, changed_from, language, channel)."""
    with db.session() as session:
        poll = polls.for_broadcast(session, broadcast_id)
        rows = session.execute(
            select(
                Contact.phone,
                PollAnswer.choice,
                PollAnswer.changed_from,
                PollAnswer.language,
                PollAnswer.channel,
            )
            .join(Contact, Contact.id == PollAnswer.contact_id)
            .where(PollAnswer.poll_id == poll.id)
        )
        return {phone: tuple(rest) for phone, *rest in rows}


def last_inbound_handled_by(db, phone):
    contact = contact_by_phone(db, phone)
    with db.session() as session:
        return session.scalars(
            select(Message.handled_by)
            .where(Message.contact_id == contact.id, Message.direction == DIRECTION_IN)
            .order_by(Message.id.desc())
            .limit(1)
        ).one()


REPLIES = [
    ("si", "es", "si", "Anotado: SÍ. ¡Gracias!"),
    ("Sí", "es", "si", "Anotado: SÍ. ¡Gracias!"),
    ("1", "en", "si", "Got it: YES. Thanks!"),
    ("yes", "en", "si", "Got it: YES. Thanks!"),
    ("YES!!", "es", "si", "Anotado: SÍ. ¡Gracias!"),
    ("no", "en", "no", "Got it: NO. Thanks!"),
    ("2", "es", "no", "Anotado: NO. ¡Gracias!"),
    ("tal vez", "es", "tal_vez", "Anotado: TAL VEZ. ¡Gracias!"),
    ("quizás", "es", "tal_vez", "Anotado: TAL VEZ. ¡Gracias!"),  # a maybe: a synonym
    ("maybe", "en", "tal_vez", "Got it: MAYBE. Thanks!"),
    ("no sé", "en", "tal_vez", "Got it: MAYBE. Thanks!"),  # "I don't know" is not NO
]


def test_replies_are_matched_to_the_choices_and_confirmed_in_the_contacts_language(
    client, db, env, fake_twilio
):
    phones = [f"+1213555{n:04d}" for n in range(1, len(REPLIES) + 1)]
    for phone, (_reply, language, _value, _confirmation) in zip(phones, REPLIES, strict=True):
        create_contact(db, phone, language)
    broadcast_id = poll_broadcast(db)
    send(env, broadcast_id)
    assert sorted(m["to"] for m in fake_twilio.outbox()) == phones

    for phone, (reply, _language, _value, confirmation) in zip(phones, REPLIES, strict=True):
        assert text(client, phone, reply) == [confirmation], reply
        assert last_inbound_handled_by(db, phone) == "flow:poll"
    recorded = answers(db, broadcast_id)
    assert {phone: row[0] for phone, row in recorded.items()} == {
        phone: value for phone, (_r, _l, value, _c) in zip(phones, REPLIES, strict=True)
    }
    assert all(row[1] is None and row[3] == "sms" for row in recorded.values())


def test_the_latest_answer_counts_and_the_change_is_shown(client, db, env):
    create_contact(db, "+12135550001", "es")
    broadcast_id = poll_broadcast(db)
    send(env, broadcast_id)

    assert text(client, "+12135550001", "sí") == ["Anotado: SÍ. ¡Gracias!"]
    assert text(client, "+12135550001", "mejor no") == ["Cambiado a NO."]
    assert answers(db, broadcast_id) == {"+12135550001": ("no", "si", "es", "sms")}
    assert text(client, "+12135550001", "2") == ["Anotado: NO. ¡Gracias!"]  # the same: no change
    assert answers(db, broadcast_id) == {"+12135550001": ("no", "si", "es", "sms")}
    with db.session() as session:
        found = tally.tally(session, polls.for_broadcast(session, broadcast_id))
    assert [(c.value, c.total, c.changed) for c in found.choices] == [
        ("si", 0, 0), ("no", 1, 1), ("tal_vez", 0, 0),
    ]  # fmt: skip


def test_an_unmatched_reply_stays_in_the_inbox_with_no_reask(client, db, env):
    create_contact(db, "+12135550001", "es")
    broadcast_id = poll_broadcast(db)
    send(env, broadcast_id)

    assert text(client, "+12135550001", "¿a qué hora es la marcha?") == []
    assert last_inbound_handled_by(db, "+12135550001") is None
    assert text(client, "+12135550001", "7") == []  # not a choice's number
    assert last_inbound_handled_by(db, "+12135550001") is None
    assert answers(db, broadcast_id) == {}
    # Still waiting: the answer after the question counts.
    assert text(client, "+12135550001", "tal vez") == ["Anotado: TAL VEZ. ¡Gracias!"]


def test_stop_still_stops_and_an_opted_out_answer_is_not_counted(client, db, env):
    create_contact(db, "+12135550001", "en")
    create_contact(db, "+12135550002", "en")
    broadcast_id = poll_broadcast(db)
    send(env, broadcast_id)

    text(client, "+12135550001", "STOP")
    assert contact_by_phone(db, "+12135550001").status == "opted_out"
    assert text(client, "+12135550001", "yes") == []  # recorded, never answered
    assert answers(db, broadcast_id) == {}
    assert text(client, "+12135550002", "yes") == ["Got it: YES. Thanks!"]


def test_tallies_are_exact_per_language_channel_and_partner(client, db, env):
    frontera = create_partner(db, "frontera", "FRONTERA", "BORDER", "Frontera Unida", "Border")
    sierra = create_partner(db, "sierra", "SIERRA", "MOUNTAIN", "Sierra Viva", "Living Sierra")
    people = [  # phone, language, brought by, reply
        ("+12135550001", "es", frontera, "sí"),
        ("+12135550002", "es", frontera, "no"),
        ("+12135550003", "en", frontera, "yes"),
        ("+12135550004", "en", sierra, "1"),
        ("+12135550005", "en", sierra, "maybe"),
        ("+12135550006", "es", None, "tal vez"),
        ("+12135550007", "es", None, "hola, ¿qué es esto?"),  # unmatched: not counted
        ("+12135550008", "en", None, None),  # no reply
    ]
    for phone, language, partner, _reply in people:
        contact_id = create_contact(db, phone, language)
        with db.session() as session:
            session.execute(
                update(Contact).where(Contact.id == contact_id).values(joined_via_id=partner)
            )
    broadcast_id = poll_broadcast(db)
    send(env, broadcast_id)
    for phone, _language, _partner, reply in people:
        if reply:
            text(client, phone, reply)
    text(client, "+12135550002", "sí")  # changed from NO: counted once, as SÍ

    with db.session() as session:
        found = tally.tally(session, polls.for_broadcast(session, broadcast_id))
        in_frontera = tally.tally(session, polls.for_broadcast(session, broadcast_id), {frontera})
    by_value = {c.value: c for c in found.choices}
    assert found.total == 6 and found.changed == 1
    assert by_value["si"].total == 4
    assert dict(by_value["si"].by_language) == {"es": 2, "en": 2}
    assert dict(by_value["si"].by_partner) == {"frontera": 3, "sierra": 1}
    assert dict(by_value["si"].by_channel) == {"sms": 4}
    assert by_value["no"].total == 0 and not by_value["no"].by_language
    assert dict(by_value["tal_vez"].by_language) == {"en": 1, "es": 1}
    assert dict(by_value["tal_vez"].by_partner) == {"sierra": 1, tally.DIRECT: 1}
    assert found.keys("partner") == ["frontera", "sierra", tally.DIRECT]
    assert found.partners["frontera"] == {"es": "Frontera Unida", "en": "Border"}
    assert [(c.value, c.total) for c in in_frontera.choices] == [
        ("si", 3), ("no", 0), ("tal_vez", 0),
    ]  # fmt: skip


def test_a_retried_reply_counts_once_and_is_no_change(client, db, env):
    create_contact(db, "+12135550001", "en")
    broadcast_id = poll_broadcast(db)
    send(env, broadcast_id)
    params = inbound_params("+12135550001", "maybe")
    first = reply_bodies(post_signed(client, "/twilio/messages", params).data)
    again = reply_bodies(post_signed(client, "/twilio/messages", params).data)
    assert first == again == ["Got it: MAYBE. Thanks!"]
    assert answers(db, broadcast_id) == {"+12135550001": ("tal_vez", None, "en", "sms")}


def test_a_whatsapp_answer_is_tallied_on_whatsapp(client, db, env, fake_twilio):
    create_contact(db, "+12135550001", "es", ("whatsapp",), last_inbound_at=utcnow())
    create_contact(db, "+12135550002", "en")
    broadcast_id = poll_broadcast(db)
    send(env, broadcast_id)
    assert sorted(m["to"] for m in fake_twilio.outbox()) == [
        "+12135550002", "whatsapp:+12135550001",
    ]  # fmt: skip
    assert text(client, "whatsapp:+12135550001", "Sí") == ["Anotado: SÍ. ¡Gracias!"]
    assert text(client, "+12135550002", "yes") == ["Got it: YES. Thanks!"]
    with db.session() as session:
        found = tally.tally(session, polls.for_broadcast(session, broadcast_id))
    assert dict(found.choices[0].by_channel) == {"whatsapp": 1, "sms": 1}
    assert dict(found.choices[0].by_language) == {"es": 1, "en": 1}


def test_the_poll_is_stored_with_its_choices(db):
    broadcast_id = poll_broadcast(db)
    with db.session() as session:
        poll = session.scalar(select(Poll).where(Poll.broadcast_id == broadcast_id))
        assert poll.choices == [
            {"value": "si", "es": "SÍ", "en": "YES"},
            {"value": "no", "es": "NO", "en": "NO"},
            {"value": "tal_vez", "es": "TAL VEZ", "en": "MAYBE"},
        ]
        assert poll.choice("no") == {"value": "no", "es": "NO", "en": "NO"}
