"""Sending through the real twilio client to the local fake API, and status callbacks."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.channels.fake_twilio import Rule
from bot.contacts.models import ConsentEvent, Contact
from bot.db import utcnow
from bot.msgs.models import Message
from bot.msgs.sending import send_to_contact, sender_from_config
from tests.factories import contact_by_phone
from tests.settings import PUBLIC_URL
from tests.twilio_requests import post_signed, text

US = "+12135550123"


def send(app, db, channel: str = "sms", body: str = "March on Saturday", **kw):
    return send_to_contact(
        db, sender_from_config(app.config), contact_by_phone(db, US).id, channel, body, **kw
    )


def test_send_reaches_the_api_with_a_status_callback(app, client, db, fake_twilio):
    text(client, US, "Hello")
    outcome = send(app, db)
    assert outcome.status == "queued" and outcome.sid.startswith("SM")
    [sent] = fake_twilio.outbox()
    assert sent["to"] == US and sent["body"] == "March on Saturday"
    assert sent["status_callback"] == PUBLIC_URL + "/twilio/status"
    with db.session() as session:
        assert session.scalar(select(Message).where(Message.sid == outcome.sid)).status == "queued"


def test_nothing_is_sent_to_an_opted_out_contact(app, client, db, fake_twilio):
    text(client, US, "Hello")
    text(client, US, "STOP")
    outcome = send(app, db)
    assert outcome.status == "blocked"
    assert fake_twilio.outbox() == []
    with db.session() as session:
        assert session.get(Message, outcome.message_id).error_message == "contact is opted_out"


def test_whatsapp_outside_the_window_is_not_sent_free_form(app, client, db, fake_twilio):
    text(client, "whatsapp:" + US, "Hello")
    later = utcnow() + dt.timedelta(hours=25)
    assert send(app, db, "whatsapp", now=later).status == "skipped_window"
    template = send(
        app, db, "whatsapp", content_sid="HX" + "a" * 32, content_variables={"1": "x"}, now=later
    )
    assert template.status == "queued"
    assert [m["to"] for m in fake_twilio.outbox()] == ["whatsapp:" + US]


ERRORS = [
    # (error code, http status, contact status after, message status, retryable)
    (21610, 400, "opted_out", "failed", False),
    (21211, 400, "invalid", "failed", False),
    (21614, 400, "invalid", "failed", False),
    (20429, 429, "active", "pending", True),
    (20500, 500, "active", "pending", True),
]


@pytest.mark.parametrize(("code", "http", "contact_status", "status", "retryable"), ERRORS)
def test_provider_errors_are_recorded_and_applied(
    app, client, db, fake_twilio, code, http, contact_status, status, retryable
):
    text(client, US, "Hello")
    fake_twilio.add_rule(Rule(to=US, code=code, http_status=http, times=1))
    outcome = send(app, db)
    assert (outcome.error_code, outcome.retryable, outcome.status) == (code, retryable, status)
    with db.session() as session:
        assert session.get(Contact, contact_by_phone(db, US).id).status == contact_status
        assert session.get(Message, outcome.message_id).error_code == code
        if code == 21610:
            event = session.scalar(select(ConsentEvent).where(ConsentEvent.kind == "opt_out"))
            assert event.source == "carrier:21610"


def callback(client, sid: str, status: str, error_code: str | None = None):
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "1" * 32}
    if error_code:
        params["ErrorCode"] = error_code
    return post_signed(client, "/twilio/status", params)


def test_status_only_moves_forward(app, client, db):
    text(client, US, "Hello")
    sid = send(app, db).sid
    for status in ("delivered", "sent", "queued"):  # out of order, as Twilio may send them
        assert callback(client, sid, status).status_code == 204
    with db.session() as session:
        assert session.scalar(select(Message.status).where(Message.sid == sid)) == "delivered"
    callback(client, sid, "read")
    with db.session() as session:
        assert session.scalar(select(Message.status).where(Message.sid == sid)) == "read"


def test_failed_callback_with_21610_opts_the_contact_out(app, client, db):
    text(client, US, "Hello")
    sid = send(app, db).sid
    callback(client, sid, "failed", "21610")
    with db.session() as session:
        assert session.get(Contact, contact_by_phone(db, US).id).status == "opted_out"
        message = session.scalar(select(Message).where(Message.sid == sid))
        assert (message.status, message.error_code) == ("failed", 21610)


def test_callback_for_an_unknown_message_is_accepted(client):
    assert callback(client, "SM" + "f" * 32, "delivered").status_code == 204


@pytest.mark.parametrize(
    ("status", "code", "contact_status"),
    [
        ("delivered", None, "active"),
        ("failed", "21610", "opted_out"),
    ],
)
def test_a_callback_that_beats_the_record_of_its_send_is_kept_and_applied(
    app, client, db, status, code, contact_status
):
    from bot.channels.errors import Consequence
    from bot.channels.twilio import SendResult
    from bot.msgs.models import EarlyCallback
    from bot.msgs.sending import record_result

    text(client, US, "Hello")
    sid = "SM" + "a" * 32
    assert callback(client, sid, status, code).status_code == 204  # before we know the SID
    owner = contact_by_phone(db, US).id
    with db.session() as session:
        message = Message(
            contact_id=owner, direction="out", channel="sms", address=US,
            body="x", status="pending", created_at=utcnow(), updated_at=utcnow(),
        )  # fmt: skip
        session.add(message)
        session.flush()
        result = SendResult(sid, "queued", None, None, Consequence.NONE, False, 201)
        outcome = record_result(session, message.id, result, utcnow())
    assert outcome.status == status
    with db.session() as session:
        assert session.scalar(select(Message.status).where(Message.sid == sid)) == status
        assert session.scalars(select(EarlyCallback)).all() == []
        assert session.get(Contact, owner).status == contact_status
