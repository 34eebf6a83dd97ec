"""Privacy: no full phone number and no message body in logs at INFO or above."""

from __future__ import annotations

import logging

from bot.channels.fake_twilio import Rule
from bot.msgs.sending import send_to_contact, sender_from_config
from tests.factories import contact_by_phone
from tests.twilio_requests import text

US = "+12135550123"
MX_WHATSAPP = "whatsapp:+5215512345678"
SECRET = "mi hermano fue detenido ayer en la garita"


def test_logs_never_hold_numbers_or_bodies(app, client, db, fake_twilio, caplog):
    caplog.set_level(logging.INFO)
    text(client, US, "Hola")
    text(client, US, SECRET)
    text(client, MX_WHATSAPP, "REPORTAR")
    text(client, MX_WHATSAPP, SECRET)
    fake_twilio.add_rule(Rule(to=US, code=21610, http_status=400, times=1))
    contact_id = contact_by_phone(db, US).id
    send_to_contact(db, sender_from_config(app.config), contact_id, "sms", SECRET)
    text(client, US, "STOP")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert logged, "expected some logging to check"
    for secret in ("2135550123", "5512345678", SECRET, "garita"):
        assert secret not in logged


def test_settling_an_unknown_send_does_not_log_the_number(fake_twilio_server, caplog):
    """A lookup at Twilio filters by To=; twilio-python's request log must stay quiet."""
    import datetime as dt

    from bot.channels import twilio
    from tests.settings import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SMS_FROM

    caplog.set_level(logging.INFO)
    sender = twilio.Sender(
        ACCOUNT_SID, AUTH_TOKEN, fake_twilio_server[1], None, SMS_FROM, None, PUBLIC_URL + "/s"
    )
    twilio.find_sent(sender, US, dt.datetime.now(dt.UTC), None)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "2135550123" not in logged
