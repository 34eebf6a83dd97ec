"""WhatsApp questions with buttons and lists, through the real webhook, database, queue
(a real redis-server) and the fake Twilio's Messages and Content APIs.

The webhook answers a WhatsApp turn that has buttons or a list with empty TwiML and
queues its replies; the job (run here in the test's process) sends them in order, the
question by its content; SMS keeps TwiML and numbered text.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot import create_app, queue
from bot.broadcasts.models import Rsvp
from bot.channels.fake_twilio import FakeTwilio, Rule
from bot.contacts.identity import find_by_phone
from bot.msgs import replies
from bot.msgs.models import Message, WhatsAppContent
from bot.msgs.sending import sender_from_config
from tests.factories import contact_by_phone, create_event
from tests.settings import settings_for
from tests.twilio_requests import inbound_params, post_signed, reply_bodies

MX_WA = "whatsapp:+5215555550101"
MX = "+525555550101"
US_WA = "whatsapp:+12135550142"
US_WA_2 = "whatsapp:+12135550143"


@pytest.fixture
def wa_app(database_url, fake_twilio_server, fake_twilio: FakeTwilio, redis_url) -> Iterator[Flask]:
    fake_twilio.clear_contents()
    app = create_app(settings_for(database_url, fake_twilio_server[1], REDIS_URL=redis_url))
    create_event(app.extensions["puente.db"])  # CUMBRE / SUMMIT take its RSVPs
    yield app
    app.extensions["puente.db"].engine.dispose()
    connection = app.extensions.get("puente.replies_queue")
    if connection is not None:
        connection.close()


def say(app: Flask, sender: str, body: str, **extra: str) -> tuple[str, list[str]]:
    """Text the bot: (the inbound MessageSid, the TwiML reply bodies)."""
    params = inbound_params(sender, body, **extra)
    response = post_signed(app.test_client(), "/twilio/messages", params)
    assert response.status_code == 200, response.data
    return params["MessageSid"], reply_bodies(response.data)


def tap(app: Flask, sender: str, title: str, payload: str) -> tuple[str, list[str]]:
    """Tap a quick-reply button, as WhatsApp reports it."""
    return say(app, sender, title, ButtonText=title, ButtonPayload=payload, MessageType="button")


def run_job(app: Flask, sid: str) -> None:
    """What the worker does with the queued job."""
    db = app.extensions["puente.db"]
    replies.send_queued(db, sender_from_config(app.config), sid)


def test_rsvp_goes_as_buttons_and_a_tap_answers_it_in_spanish(wa_app, redis_url, fake_twilio):
    sid, twiml = say(wa_app, MX_WA, "CUMBRE")
    assert twiml == []  # the question goes by the REST API, with its buttons
    assert queue.is_alive(queue.connect(redis_url), f"replies-{sid}")
    run_job(wa_app, sid)
    [question] = fake_twilio.outbox()
    assert question["to"] == MX_WA and question["content_sid"].startswith("HX")
    buttons = question["content"]["twilio/quick-reply"]["actions"]
    assert [b["title"] for b in buttons] == ["Sí, ahí estaré", "No puedo", "Tal vez"]
    assert "1. Sí, ahí estaré" in question["content"]["twilio/text"]["body"]  # other channels

    _, twiml = tap(wa_app, MX_WA, "Tal vez", buttons[2]["id"])
    assert "Gracias" in twiml[0]  # no buttons: TwiML as always
    db = wa_app.extensions["puente.db"]
    contact = contact_by_phone(db, MX)
    with db.session() as session:
        assert session.scalars(select(Rsvp.answer)).all() == ["maybe"]
    assert contact.language == "es"


def test_one_content_is_made_for_two_contacts(wa_app, fake_twilio):
    for sender in (US_WA, US_WA_2):
        sid, _ = say(wa_app, sender, "SUMMIT")
        run_job(wa_app, sid)
    first, second = fake_twilio.outbox()
    assert first["content_sid"] == second["content_sid"]
    assert len(fake_twilio.contents) == 1  # one create call
    with wa_app.extensions["puente.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(WhatsAppContent)) == 1


def test_a_confirmation_then_a_list_arrive_in_order(wa_app, fake_twilio):
    sid, twiml = say(wa_app, MX_WA, "DERECHOS")
    assert twiml == []
    run_job(wa_app, sid)
    intro, menu = fake_twilio.outbox()
    assert intro["content_sid"] is None and "Conoce tus derechos" in intro["body"]
    picker = menu["content"]["twilio/list-picker"]
    assert picker["button"] == "Elegir" and len(picker["items"]) == 9
    assert picker["items"][0] == {
        "id": "menu/door",
        "item": "Agentes en tu puerta",
        "description": "Agentes de inmigración en tu puerta",
    }
    _, twiml = say(wa_app, MX_WA, "Agentes en tu puerta", ListId="menu/door",
                   ListTitle="Agentes en tu puerta", MessageType="interactive")  # fmt: skip
    assert twiml == []  # the topic, then the "more" question with its buttons
    assert len(fake_twilio.outbox()) == 2


def test_when_the_content_api_fails_the_question_goes_as_numbered_text(wa_app, fake_twilio):
    fake_twilio.add_rule(Rule(to="content", code=20500, http_status=500, times=None))
    sid, _ = say(wa_app, US_WA, "SUMMIT")
    run_job(wa_app, sid)
    [question] = fake_twilio.outbox()
    assert question["content_sid"] is None
    assert "1. Yes, I'll be there" in question["body"] and "3. Maybe" in question["body"]
    _, twiml = say(wa_app, US_WA, "1")  # typed: the conversation goes on
    assert "How many people" in twiml[0]


def test_a_refused_send_by_content_goes_as_text(wa_app, fake_twilio):
    fake_twilio.add_rule(Rule(to="*", code=21655, times=1))  # the send with the ContentSid
    sid, _ = say(wa_app, US_WA, "SUMMIT")
    run_job(wa_app, sid)
    [question] = fake_twilio.outbox()
    assert question["content_sid"] is None and "2. No, I can't" in question["body"]


def test_a_job_run_twice_sends_once(wa_app, fake_twilio):
    sid, _ = say(wa_app, US_WA, "SUMMIT")
    run_job(wa_app, sid)
    run_job(wa_app, sid)
    assert len(fake_twilio.outbox()) == 1


def test_a_stop_before_the_job_runs_sends_nothing(wa_app, fake_twilio):
    sid, _ = say(wa_app, US_WA, "SUMMIT")
    db = wa_app.extensions["puente.db"]
    with db.session() as session:
        find_by_phone(session, "+12135550142").status = "opted_out"
    run_job(wa_app, sid)
    assert fake_twilio.outbox() == []
    with db.session() as session:
        statuses = session.scalars(select(Message.status).where(Message.direction == "out"))
        assert list(statuses) == ["blocked"]


def test_a_retried_webhook_queues_and_sends_nothing_more(wa_app, fake_twilio):
    params = inbound_params(US_WA, "SUMMIT")
    client = wa_app.test_client()
    post_signed(client, "/twilio/messages", params)
    again = post_signed(client, "/twilio/messages", params)
    assert reply_bodies(again.data) == []
    run_job(wa_app, params["MessageSid"])
    assert len(fake_twilio.outbox()) == 1


def test_without_a_queue_the_buttons_question_goes_back_as_twiml_text(
    database_url, fake_twilio_server, fake_twilio
):
    app = create_app(settings_for(database_url, fake_twilio_server[1], REDIS_URL=""))
    create_event(app.extensions["puente.db"])
    try:
        _, twiml = say(app, US_WA, "SUMMIT")
        assert "1. Yes, I'll be there" in twiml[0]
        with app.extensions["puente.db"].session() as session:
            statuses = session.scalars(select(Message.status).where(Message.direction == "out"))
            assert list(statuses) == ["replied"]
    finally:
        app.extensions["puente.db"].engine.dispose()


def test_sms_keeps_twiml_and_numbered_text_with_a_queue(wa_app, fake_twilio):
    _, twiml = say(wa_app, "+12135550144", "SUMMIT")
    assert "1. Yes, I'll be there" in twiml[0]
    assert fake_twilio.outbox() == []


def test_replies_whose_job_was_lost_are_sent_by_the_reconcile_pass(wa_app, fake_twilio, redis_url):
    import datetime as dt

    import redis

    from bot.db import utcnow
    from bot.sending import process, reconcile

    say(wa_app, US_WA, "SUMMIT")  # queued; the job never runs (a worker killed)
    runtime = process.build(wa_app.config, redis.Redis.from_url(redis_url))
    try:
        assert reconcile.run(runtime, runtime.redis, utcnow())["stalled_replies"] == 0  # not yet
        later = utcnow() + dt.timedelta(minutes=2)
        assert reconcile.run(runtime, runtime.redis, later)["stalled_replies"] == 1
        assert reconcile.run(runtime, runtime.redis, later)["stalled_replies"] == 0  # once
    finally:
        runtime.close()
    [question] = fake_twilio.outbox()
    assert question["to"] == US_WA and question["content_sid"].startswith("HX")
