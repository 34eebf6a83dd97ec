"""Sending a message to a contact: the rules first, then Twilio, then the record.

Every send in Puente goes through `send_to_contact` (or `send_recorded`, for a
row written earlier: a reply with WhatsApp buttons): it refuses an opted-out
or invalid contact (recorded as blocked, never sent), refuses free-form
WhatsApp outside the 24-hour window, and applies what Twilio's answer means
(21610 opts the contact out; 21211/21614/30006 mark the number invalid).
On SMS the text is sent, and stored, without WhatsApp's formatting marks (`as_sent`).
The API call happens outside any database transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, lazyload

from bot import formatting, phones
from bot.channels import twilio
from bot.channels.errors import Consequence, classify_error
from bot.contacts import consent
from bot.contacts.models import CHANNEL_WHATSAPP, Contact, Recipient
from bot.db import Database, update_by_id, utcnow
from bot.defaults import WHATSAPP_WINDOW_HOURS
from bot.msgs.models import DIRECTION_OUT, STATUS_BLOCKED, STATUS_PENDING, EarlyCallback, Message
from bot.msgs.status import apply_callback, apply_early_callbacks

log = logging.getLogger(__name__)

STATUS_SKIPPED_WINDOW = "skipped_window"  # WhatsApp, outside 24 h, no template given
# Rows per INSERT … RETURNING statement. psycopg parses a statement's placeholders
# in Python, and caches that only up to 50 parameters: a 125-row statement took
# ~100 ms of parsing that held up the sending loop. 4 rows x 11 columns are cached.
INSERT_PAGE_ROWS = 4


@dataclass(frozen=True)
class Outcome:
    message_id: int
    status: str
    sid: str | None = None
    error_code: int | None = None
    consequence: Consequence = Consequence.NONE
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


def in_whatsapp_window(contact: Contact | Recipient, now: dt.datetime) -> bool:
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
    draft = as_sent(Draft(contact_id, channel, body, tuple(media_urls), content_sid, extra=extra))
    with db.session() as session:
        message, address = _prepare(session, draft, now)
        if message.status != STATUS_PENDING:
            return Outcome(message.id, message.status)
    if before_api_call is not None:
        before_api_call()
    result = twilio.send(
        sender,
        address,
        draft.body,
        list(draft.media_urls),
        content_sid=content_sid,
        content_variables=dict(content_variables) if content_variables else None,
    )
    with db.session() as session:
        return record_result(session, message.id, result, utcnow())


# A send by content that fails for these reasons would fail as text too: no second try.
_NO_TEXT_RETRY = (Consequence.OPTED_OUT, Consequence.INVALID_NUMBER, Consequence.UNKNOWN_FATE)


def send_recorded(
    db: Database, sender: twilio.Sender, message_id: int, content_sid: str | None = None
) -> Outcome:
    """Send a message row recorded earlier as pending (a reply queued with its buttons).

    The rules are applied again now: a STOP that arrived since is respected (the row
    is then blocked, never sent). With ``content_sid`` the buttons or list go; when
    Twilio refuses that, the row's text goes instead, so the conversation goes on.
    """
    with db.session() as session:
        message = session.get_one(Message, message_id)
        contact = session.get_one(Contact, message.contact_id)
        if message.status != STATUS_PENDING:
            return Outcome(message.id, message.status)
        if not consent.status_can_receive(contact.status):
            message.status, message.error_message = STATUS_BLOCKED, f"contact is {contact.status}"
            return Outcome(message.id, message.status)
        if message.channel == CHANNEL_WHATSAPP and not in_whatsapp_window(contact, utcnow()):
            message.status = STATUS_SKIPPED_WINDOW  # a session message, the session is over
            message.error_message = "outside the WhatsApp 24-hour window"
            return Outcome(message.id, message.status)
        address, body = message.address, message.body
    result = None
    if content_sid:
        result = twilio.send(sender, address, None, content_sid=content_sid)
        if not result.ok and result.consequence not in _NO_TEXT_RETRY:
            log.warning("message %s: its content was refused, sending its text", message_id)
            result = None
    if result is None:
        result = twilio.send(sender, address, body)
        content_sid = None
    with db.session() as session:
        if content_sid:
            message = session.get_one(Message, message_id)
            message.extra = {**message.extra, "content_sid": content_sid}
        return record_result(session, message_id, result, utcnow())


def _prepare(session: Session, draft: Draft, now: dt.datetime) -> tuple[Message, str]:
    contact = session.get_one(Contact, draft.contact_id)
    message = Message(**_message_row(contact, draft, now))
    session.add(message)
    session.flush()
    return message, message.address


@dataclass(frozen=True)
class Draft:
    """One message a caller wants to send (a broadcast sends many at once)."""

    contact_id: int
    channel: str
    body: str | None
    media_urls: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: Mapping[str, str] | None = None
    extra: Mapping[str, Any] | None = None


def as_sent(draft: Draft) -> Draft:
    """The draft as its channel gets it: on SMS, WhatsApp's *bold* and _italic_ marks
    removed (bot.formatting); WhatsApp keeps them. The message row stores this text.
    """
    if not draft.body:
        return draft
    body = formatting.for_channel(draft.body, draft.channel)
    return draft if body == draft.body else replace(draft, body=body)


@dataclass(frozen=True)
class Prepared:
    """A draft's message row: send it when ``status`` is pending, else it was refused.

    ``draft`` is the one to send (`as_sent`: its text as the channel gets it).
    """

    draft: Draft
    message_id: int
    address: str
    status: str


def _message_row(
    contact: Contact | Recipient, draft: Draft, now: dt.datetime, status: str | None = None
) -> dict[str, Any]:
    """The outbound Message row for ``draft``, with the rules applied to its status.

    ``status`` is the contact's status read just now, when ``contact`` was loaded earlier.
    """
    status = status or contact.status
    address = contact.address_for(draft.channel)
    target = address.address if address else phones.address_for(draft.channel, contact.phone)
    extra = dict(draft.extra or {})
    if draft.content_sid:
        extra["content_sid"] = draft.content_sid
    row: dict[str, Any] = {
        "contact_id": contact.id,
        "direction": DIRECTION_OUT,
        "channel": draft.channel,
        "address": target,
        "body": draft.body or "",
        "media": [{"url": u} for u in draft.media_urls],
        "extra": extra,
        "status": STATUS_PENDING,
        "error_message": None,
        "created_at": now,
        "updated_at": now,
    }
    if not consent.status_can_receive(status):
        row["status"] = STATUS_BLOCKED  # recorded so organizers see it, never sent
        row["error_message"] = f"contact is {status}"
    elif (
        draft.channel == CHANNEL_WHATSAPP
        and not draft.content_sid
        and not in_whatsapp_window(contact, now)
    ):
        row["status"] = STATUS_SKIPPED_WINDOW
        row["error_message"] = "outside the WhatsApp 24-hour window and no template"
    return row


def prepare_many(
    session: Session,
    drafts: Sequence[Draft],
    now: dt.datetime,
    known: Mapping[int, Contact | Recipient] | None = None,
) -> list[Prepared]:
    """The rules and the message rows for many sends, in the caller's transaction.

    Each contact's status is read again here, in the transaction that writes
    the rows, so a STOP that arrived since the caller looked is respected.
    ``known`` are the contacts the caller already loaded (with their
    addresses): then only their statuses are read, not whole contacts.
    """
    if not drafts:
        return []
    drafts = [as_sent(d) for d in drafts]
    ids = {d.contact_id for d in drafts}
    if known is None:
        query = select(Contact).where(Contact.id.in_(ids)).options(lazyload(Contact.tags))
        contacts = {c.id: c for c in session.scalars(query)}
        rows = [_message_row(contacts[d.contact_id], d, now) for d in drafts]
    else:
        statuses = select(Contact.id, Contact.status).where(Contact.id.in_(ids))
        fresh = {row.id: row.status for row in session.execute(statuses)}
        rows = [_message_row(known[d.contact_id], d, now, fresh[d.contact_id]) for d in drafts]
    ids_out = session.scalars(
        insert(Message)
        .returning(Message.id, sort_by_parameter_order=True)
        .execution_options(insertmanyvalues_page_size=INSERT_PAGE_ROWS),
        rows,
    ).all()
    return [
        Prepared(draft, message_id, row["address"], row["status"])
        for draft, message_id, row in zip(drafts, ids_out, rows, strict=True)
    ]


def record_many(
    session: Session,
    results: Sequence[tuple[int, int | None, twilio.SendResult]],
    now: dt.datetime,
) -> list[Outcome]:
    """`record_result` for many sends: (message id, contact id, Twilio's answer) each.

    One UPDATE for all the messages; early status callbacks and what an error
    means for a contact (opted out, bad number) are applied one by one, as
    they are rare.
    """
    if not results:
        return []
    values = [
        {
            "id": message_id,
            "sid": result.sid,
            "status": _status_of(result),
            "error_code": result.error_code,
            "error_message": result.error_message,
            "updated_at": now,
        }
        for message_id, _contact_id, result in results
    ]
    update_by_id(session, Message, values)
    statuses = {v["id"]: v["status"] for v in values}
    sids = [r.sid for _m, _c, r in results if r.sid]
    early = select(EarlyCallback.id).where(EarlyCallback.sid.in_(sids)).limit(1)
    if sids and session.scalar(early) is not None:
        for message_id, contact_id, _result in results:
            # populate_existing: the UPDATE above bypassed any copy this session holds
            message = session.get_one(Message, message_id, populate_existing=True)
            for code in apply_early_callbacks(session, message, now):
                if contact_id is not None:
                    apply_consequence(session, contact_id, classify_error(code, None)[0], code, now)
            statuses[message_id] = message.status
    outcomes = []
    for message_id, contact_id, result in results:
        if contact_id is not None and result.consequence is not Consequence.NONE:
            apply_consequence(session, contact_id, result.consequence, result.error_code, now)
        outcomes.append(_outcome(message_id, statuses[message_id], result))
    return outcomes


def _status_of(result: twilio.SendResult) -> str:
    return result.status or ("pending" if result.retryable else "failed")


def _outcome(message_id: int, status: str, result: twilio.SendResult) -> Outcome:
    return Outcome(
        message_id, status, result.sid, result.error_code, result.consequence, result.retryable
    )


def record_result(
    session: Session, message_id: int, result: twilio.SendResult, now: dt.datetime
) -> Outcome:
    """Store Twilio's answer on the message and apply what it means to the contact."""
    contact_id = session.scalar(select(Message.contact_id).where(Message.id == message_id))
    return record_many(session, [(message_id, contact_id, result)], now)[0]


def apply_consequence(
    session: Session,
    contact_id: int,
    consequence: Consequence,
    error_code: int | None,
    now: dt.datetime,
) -> None:
    """What an error tells us about the contact: opted out at the carrier, or a bad number."""
    contact = session.get_one(Contact, contact_id)
    if consequence is Consequence.OPTED_OUT and contact.status != "opted_out":
        consent.opt_out(session, contact, now, source=f"carrier:{error_code}")
    elif consequence is Consequence.INVALID_NUMBER:
        consent.mark_invalid(contact)


def apply_status_callback(
    db: Database, sid: str, status: str, error_code: int | None, now: dt.datetime
) -> None:
    """A status callback: move the message forward and apply any error's consequence."""
    with db.session() as session:
        message = apply_callback(session, sid, status, error_code, now)
        if message is not None and error_code and message.contact_id is not None:
            consequence, _retry = classify_error(error_code, None)
            apply_consequence(session, message.contact_id, consequence, error_code, now)
