"""Sending a message to a contact: the rules first, then Twilio, then the record.

Every send in Puente goes through `send_to_contact`: it refuses an opted-out
or invalid contact (recorded as blocked, never sent), refuses free-form
WhatsApp outside the 24-hour window, and applies what Twilio's answer means
(21610 opts the contact out; 21211/21614/30006 mark the number invalid).
The API call happens outside any database transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot import phones
from bot.channels import twilio
from bot.channels.errors import Effect, classify_error
from bot.contacts import consent
from bot.contacts.models import CHANNEL_WHATSAPP, Contact
from bot.db import Database, utcnow
from bot.defaults import WHATSAPP_WINDOW_HOURS
from bot.msgs.models import DIRECTION_OUT, STATUS_BLOCKED, STATUS_PENDING, Message
from bot.msgs.status import apply_callback, apply_early_callbacks

log = logging.getLogger(__name__)

STATUS_SKIPPED_WINDOW = "skipped_window"  # WhatsApp, outside 24 h, no template given


@dataclass(frozen=True)
class Outcome:
    message_id: int
    status: str
    sid: str | None = None
    error_code: int | None = None
    effect: Effect = Effect.NONE
    retryable: bool = False


def sender_from_config(config: Mapping[str, Any]) -> twilio.Sender:
    """The Twilio sender described by the app's settings."""
    return twilio.Sender(
        account_sid=config["TWILIO_ACCOUNT_SID"],
        auth_token=config["TWILIO_AUTH_TOKEN"],
        api_url=config["TWILIO_API_URL"] or None,
        messaging_service_sid=config["TWILIO_MESSAGING_SERVICE_SID"] or None,
        sms_from=config["TWILIO_SMS_FROM"] or None,
        whatsapp_from=config["TWILIO_WHATSAPP_FROM"] or None,
        status_callback_url=config["PUBLIC_URL"] + "/twilio/status",
    )


def in_whatsapp_window(contact: Contact, now: dt.datetime) -> bool:
    """Whether free-form WhatsApp messages may reach this contact now."""
    address = contact.address_for(CHANNEL_WHATSAPP)
    if address is None or address.last_inbound_at is None:
        return False
    return now - address.last_inbound_at < dt.timedelta(hours=WHATSAPP_WINDOW_HOURS)


def send_to_contact(
    db: Database,
    sender: twilio.Sender,
    contact_id: int,
    channel: str,
    body: str | None,
    *,
    media_urls: Sequence[str] = (),
    content_sid: str | None = None,
    content_variables: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
    before_api_call: Callable[[], None] | None = None,
) -> Outcome:
    """Send one message to a contact on ``channel``, if the rules allow it.

    ``before_api_call`` runs just before Twilio is called (the broadcast
    throttle waits for its slot there, after the database work).
    """
    now = now or utcnow()
    with db.session() as session:
        message, address = _prepare(
            session, contact_id, channel, body, media_urls, content_sid, extra, now
        )
        if message.status != STATUS_PENDING:
            return Outcome(message.id, message.status)
    if before_api_call is not None:
        before_api_call()
    result = twilio.send(
        sender,
        address,
        body,
        list(media_urls),
        content_sid=content_sid,
        content_variables=dict(content_variables) if content_variables else None,
    )
    with db.session() as session:
        return record_result(session, message.id, result, utcnow())


def _prepare(
    session: Session,
    contact_id: int,
    channel: str,
    body: str | None,
    media_urls: Sequence[str],
    content_sid: str | None,
    extra: Mapping[str, Any] | None,
    now: dt.datetime,
) -> tuple[Message, str]:
    contact = session.get_one(Contact, contact_id)
    address = contact.address_for(channel)
    target = address.address if address else phones.address_for(channel, contact.phone)
    message = Message(
        contact_id=contact.id,
        direction=DIRECTION_OUT,
        channel=channel,
        address=target,
        body=body or "",
        media=[{"url": u} for u in media_urls],
        extra=dict(extra or {}, **({"content_sid": content_sid} if content_sid else {})),
        status=STATUS_PENDING,
        created_at=now,
        updated_at=now,
    )
    if not consent.can_receive(contact):
        message.status = STATUS_BLOCKED  # recorded so organizers see it, never sent
        message.error_message = f"contact is {contact.status}"
    elif channel == CHANNEL_WHATSAPP and not content_sid and not in_whatsapp_window(contact, now):
        message.status = STATUS_SKIPPED_WINDOW
        message.error_message = "outside the WhatsApp 24-hour window and no template"
    session.add(message)
    session.flush()
    return message, target


def record_result(
    session: Session, message_id: int, result: twilio.SendResult, now: dt.datetime
) -> Outcome:
    """Store Twilio's answer on the message and apply what it means to the contact."""
    message = session.get_one(Message, message_id)
    message.sid = result.sid
    message.status = result.status or ("pending" if result.retryable else "failed")
    message.error_code = result.error_code
    message.error_message = result.error_message
    message.updated_at = now
    late_codes = apply_early_callbacks(session, message, now)
    if message.contact_id is not None:
        if result.effect is not Effect.NONE:  # most sends: nothing to change on the contact
            apply_effect(session, message.contact_id, result.effect, result.error_code, now)
        for code in late_codes:
            apply_effect(session, message.contact_id, classify_error(code, None)[0], code, now)
    if result.error_code:
        log.warning(
            "send to %s failed: %s %s",
            phones.mask(message.address),
            result.error_code,
            result.effect,
        )
    return Outcome(
        message.id, message.status, result.sid, result.error_code, result.effect, result.retryable
    )


def apply_effect(
    session: Session, contact_id: int, effect: Effect, error_code: int | None, now: dt.datetime
) -> None:
    """What an error tells us about the contact: opted out at the carrier, or a bad number."""
    contact = session.get_one(Contact, contact_id)
    if effect is Effect.OPTED_OUT and contact.status != "opted_out":
        consent.opt_out(session, contact, now, source=f"carrier:{error_code}")
    elif effect is Effect.INVALID_NUMBER:
        consent.mark_invalid(contact)


def apply_status_callback(
    db: Database, sid: str, status: str, error_code: int | None, now: dt.datetime
) -> None:
    """A status callback: move the message forward and apply any error's effect."""
    with db.session() as session:
        message = apply_callback(session, sid, status, error_code, now)
        if message is not None and error_code and message.contact_id is not None:
            effect, _retry = classify_error(error_code, None)
            apply_effect(session, message.contact_id, effect, error_code, now)
