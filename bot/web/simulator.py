"""The phone simulator (development only): text the bot from a browser.

The page asks this blueprint to sign a Twilio-shaped request, then posts it
to the real webhook, so it exercises the same path as production. Because it
signs anything it is given, it is never registered in production.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from sqlalchemy import delete, or_, select

from bot import phones
from bot.channels.twilio import compute_signature
from bot.contacts.models import Contact
from bot.db import get_session
from bot.msgs.models import STATUS_BLOCKED, STATUS_REPLIED, STATUS_REPLY_QUEUED, Message

bp = Blueprint("simulator", __name__, template_folder="templates")


@bp.get("/")
def page() -> str:
    """The simulator page."""
    return render_template(
        "simulator.html",
        sms_to=current_app.config["TWILIO_SMS_FROM"],
        whatsapp_to=current_app.config["TWILIO_WHATSAPP_FROM"],
        account_sid=current_app.config["TWILIO_ACCOUNT_SID"],
    )


@bp.post("/simulator/sign")
def sign() -> Response:
    """Sign Twilio-shaped params for /twilio/messages with the auth token."""
    params = {k: str(v) for k, v in (request.get_json(force=True) or {}).items()}
    params.setdefault("MessageSid", "SM" + secrets.token_hex(16))
    url = current_app.config["PUBLIC_URL"] + "/twilio/messages"
    signature = compute_signature(current_app.config["TWILIO_AUTH_TOKEN"], url, params)
    return jsonify(params=params, signature=signature)


@bp.post("/simulator/outbox")
def outbox() -> Response:
    """Messages sent through the API (broadcasts, reminders, and replies with WhatsApp
    buttons or a list, which TwiML cannot carry) to one address.

    A POST, so the number never appears in a URL (and so never in access logs).
    """
    asked = request.get_json(force=True) or {}
    address = str(asked.get("address", ""))
    since = int(asked.get("after", 0))
    rows = get_session().scalars(
        select(Message)
        .where(Message.address == address, Message.id > since, Message.direction == "out")
        .where(
            or_(
                Message.in_reply_to_id.is_(None),
                Message.status.not_in((STATUS_REPLIED, STATUS_BLOCKED, STATUS_REPLY_QUEUED)),
            )
        )
        .order_by(Message.id)
    )
    return jsonify([_shown(m) for m in rows])


def _shown(message: Message) -> dict[str, Any]:
    """A message as the page draws it; its buttons or list only when they went by content."""
    sent_with_buttons = message.extra.get("content_sid") and message.extra.get("interactive")
    return {
        "id": message.id,
        "body": message.body,
        "status": message.status,
        "media": message.media,
        "interactive": message.extra["interactive"] if sent_with_buttons else None,
    }


@bp.post("/simulator/reset")
def reset() -> Response:
    """Forget a test contact entirely, so the next text is a first contact."""
    raw = (request.get_json(force=True) or {}).get("phone", "")
    phone = phones.normalize_phone(raw)
    session = get_session()
    contact = session.scalar(select(Contact).where(Contact.phone == phone))
    if contact is not None:
        session.execute(delete(Message).where(Message.contact_id == contact.id))
        session.delete(contact)
    session.commit()
    return jsonify(reset=contact is not None)
