"""Building signed requests the way Twilio sends them, for the webhook tests."""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bot.channels.twilio import compute_signature
from tests import paths
from tests.settings import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SMS_FROM, WHATSAPP_FROM

FIXTURES = paths.FIXTURES / "twilio"


def fixture(name: str) -> dict[str, str]:
    """A saved, real-shaped Twilio payload."""
    return json.loads((FIXTURES / name).read_text())


def new_sid() -> str:
    return "SM" + secrets.token_hex(16)


def inbound_params(sender: str, body: str, **extra: str) -> dict[str, str]:
    """Params of an inbound SMS (or WhatsApp when sender starts with whatsapp:)."""
    whatsapp = sender.startswith("whatsapp:")
    params = {
        "MessageSid": new_sid(),
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": WHATSAPP_FROM if whatsapp else SMS_FROM,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }
    if whatsapp:
        params.update(ProfileName="Ana", WaId=sender.removeprefix("whatsapp:+"), MessageType="text")
    params.update(extra)
    return params


def post_signed(
    client: FlaskClient,
    path: str,
    params: dict[str, Any],
    *,
    signed_url: str | None = None,
    base_url: str = "http://localhost",
    token: str = AUTH_TOKEN,
) -> TestResponse:
    """POST form params with Twilio's signature over the public URL."""
    url = signed_url or PUBLIC_URL + path
    signature = compute_signature(token, url, params)
    return client.post(
        path, data=params, headers={"X-Twilio-Signature": signature}, base_url=base_url
    )


def text(client: FlaskClient, sender: str, body: str, **extra: str) -> list[str]:
    """Text the bot; returns the reply bodies from the TwiML answer."""
    response = post_signed(client, "/twilio/messages", inbound_params(sender, body, **extra))
    assert response.status_code == 200, response.data
    return reply_bodies(response.data)


def reply_bodies(xml: bytes) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    bodies = []
    for message in root.iter("Message"):
        body = message.find("Body")
        bodies.append(body.text if body is not None else (message.text or ""))
    return bodies
