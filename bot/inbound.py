"""One inbound message, start to finish: record, dedupe, contact, compliance, reply.

`receive` runs inside one database transaction. The inbound message row is
inserted first, with Twilio's MessageSid unique: a Twilio retry (or a second
copy arriving at the same moment) fails that insert and gets the replies that
were stored the first time, so nothing happens twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import phones
from bot.compliance import replies
from bot.compliance.keywords import Intent, classify
from bot.compliance.language import guess_language
from bot.contacts import consent
from bot.contacts.identity import find_or_create
from bot.contacts.models import STATUS_OPTED_OUT, Contact
from bot.conversations import LoadedFlows, converse, is_joining
from bot.db import Database
from bot.flows import engine
from bot.msgs.models import (
    DIRECTION_IN,
    DIRECTION_OUT,
    STATUS_BLOCKED,
    STATUS_RECEIVED,
    STATUS_REPLIED,
    Message,
)

log = logging.getLogger(__name__)

_EXTRA_KEYS = (
    "MessageType", "ButtonText", "ButtonPayload", "Latitude", "Longitude", "Address",
    "Label", "OriginalRepliedMessageSid", "WaId", "OptOutType", "NumSegments",
)  # fmt: skip


# When Twilio's own opt-out handling matched (including keywords configured in
# the Twilio console, and YES), its verdict stands.
_TWILIO_OPT_OUT_TYPES = {"STOP": Intent.OPT_OUT, "START": Intent.OPT_IN, "HELP": Intent.HELP}


@dataclass(frozen=True)
class Inbound:
    """The parts of Twilio's webhook that Puente uses (unknown keys are ignored)."""

    sid: str
    sender: str  # Twilio "From"
    recipient: str  # Twilio "To"
    body: str
    media: list[dict[str, str]] = field(default_factory=list)
    profile_name: str | None = None
    opt_out_type: str | None = None  # STOP/START/HELP when Twilio already answered
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Inbound:
        count = int(params.get("NumMedia") or 0)
        media = [
            {"url": params.get(f"MediaUrl{i}", ""), "type": params.get(f"MediaContentType{i}", "")}
            for i in range(count)
        ]
        return cls(
            sid=params.get("MessageSid") or params.get("SmsMessageSid") or params["SmsSid"],
            sender=params["From"],
            recipient=params.get("To", ""),
            body=params.get("Body", ""),
            media=media,
            profile_name=params.get("ProfileName") or None,
            opt_out_type=(params.get("OptOutType") or "").upper() or None,
            extra={k: params[k] for k in _EXTRA_KEYS if params.get(k)},
        )

    @property
    def text(self) -> str:
        """What the contact said: a quick-reply button's payload counts as text."""
        return self.body or self.extra.get("ButtonPayload") or self.extra.get("ButtonText") or ""


@dataclass(frozen=True)
class Reply:
    body: str
    media_urls: tuple[str, ...] = ()


def receive(
    db: Database,
    inbound: Inbound,
    settings: Mapping[str, Any],
    now: dt.datetime,
    flows: LoadedFlows | None = None,
) -> list[Reply]:
    """Handle one inbound message and return the replies for the TwiML response."""
    try:
        with db.session() as session:
            return _receive(session, inbound, settings, now, flows)
    except IntegrityError:
        # The same MessageSid was handled already (a retry, or a concurrent copy).
        with db.session() as session:
            return stored_replies(session, inbound.sid)


def stored_replies(session: Session, sid: str) -> list[Reply]:
    """The replies given the first time this MessageSid was handled."""
    original = session.scalar(select(Message).where(Message.sid == sid))
    if original is None:
        raise LookupError("duplicate MessageSid with no stored message")
    rows = session.scalars(
        select(Message)
        .where(Message.in_reply_to_id == original.id, Message.status == STATUS_REPLIED)
        .order_by(Message.id)
    )
    return [Reply(m.body, tuple(x["url"] for x in m.media)) for m in rows]


def _receive(
    session: Session,
    inbound: Inbound,
    settings: Mapping[str, Any],
    now: dt.datetime,
    flows: LoadedFlows | None,
) -> list[Reply]:
    parsed = phones.parse_address(inbound.sender)
    message = Message(
        direction=DIRECTION_IN,
        channel=parsed.channel,
        address=parsed.address,
        body=inbound.body,
        media=inbound.media,
        extra=inbound.extra,
        sid=inbound.sid,
        status=STATUS_RECEIVED,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    session.flush()  # the unique MessageSid: a duplicate stops here
    guessed = guess_language(inbound.text)
    first_language = guessed or ("es" if parsed.phone.startswith("+52") else None)
    contact, created = find_or_create(
        session, parsed, first_language or settings["DEFAULT_LANGUAGE"], now
    )
    message.contact_id = contact.id
    _touch(contact, parsed.channel, inbound, now)
    if guessed and not contact.language_chosen:
        contact.language = guessed  # they write in it, until they choose one explicitly
    turn = Turn(session, contact, message, inbound, settings, now, created, first_language, flows)
    texts = _respond(turn)
    log.info(
        "inbound %s from %s handled by %s",
        inbound.sid,
        phones.mask(parsed.address),
        message.handled_by,
    )
    return _record_replies(session, contact, message, texts, now)


@dataclass
class Turn:
    """Everything about the message being handled."""

    session: Session
    contact: Contact
    message: Message
    inbound: Inbound
    settings: Mapping[str, Any]
    now: dt.datetime
    created: bool  # this is the contact's first message
    first_language: str | None  # what the first message told us, if anything
    flows: LoadedFlows | None

    def say(self, msgid: str) -> Reply:
        return _say(msgid, self.contact, self.settings)


def _touch(contact: Contact, channel: str, inbound: Inbound, now: dt.datetime) -> None:
    contact.last_seen_at = now
    if inbound.profile_name:
        contact.profile_name = inbound.profile_name
    address = contact.address_for(channel)
    if address is not None:
        address.last_inbound_at = now  # opens the WhatsApp 24-hour window


def _respond(turn: Turn) -> list[Reply]:
    """Compliance keywords first, whatever else is going on; then the conversation."""
    session, contact, message, inbound, now = (
        turn.session, turn.contact, turn.message, turn.inbound, turn.now,
    )  # fmt: skip
    intent = _TWILIO_OPT_OUT_TYPES.get(inbound.opt_out_type or "") or classify(inbound.text)
    how = {"channel": message.channel, "words": inbound.text[:500], "message_sid": inbound.sid}
    message.handled_by = intent.value if intent is not Intent.NONE else None
    if intent is Intent.OPT_OUT:
        was_out = contact.status == STATUS_OPTED_OUT
        consent.opt_out(session, contact, now, source="keyword", **how)
        if inbound.opt_out_type == "STOP" or was_out:
            return []  # Twilio already confirmed (or we did before): say nothing more
        return [turn.say(replies.OPT_OUT_CONFIRMATION)]
    if intent is Intent.OPT_IN:
        consent.opt_in(session, contact, now, source="keyword", **how)
        if inbound.opt_out_type == "START":
            return []
        return [turn.say(replies.OPT_IN_CONFIRMATION)]
    if contact.status == STATUS_OPTED_OUT and not _joining_again(turn):
        message.handled_by = "opted_out"
        return []  # recorded, never answered, until they opt back in
    if intent is Intent.HELP:
        consent.help_requested(session, contact, now, source="keyword", **how)
        return [] if inbound.opt_out_type == "HELP" else [turn.say(replies.HELP)]
    if intent in (Intent.LANGUAGE_ES, Intent.LANGUAGE_EN):
        contact.language = "es" if intent is Intent.LANGUAGE_ES else "en"
        contact.language_chosen = True
        return [turn.say(replies.LANGUAGE_SET)]
    if intent is Intent.LANGUAGE_ASK:
        return [turn.say(replies.LANGUAGE_ASK)]
    return _converse(turn)


def _joining_again(turn: Turn) -> bool:
    """Texting the join keyword is an opt-in, also after STOP."""
    if turn.flows is None:
        return False
    return is_joining(turn.flows.flowset, turn.inbound.text, turn.contact.language)


def _converse(turn: Turn) -> list[Reply]:
    """Anything that is not a compliance keyword: conversation flows, or a welcome."""
    if turn.flows is not None:
        how = {
            "channel": turn.message.channel,
            "words": turn.inbound.text[:500],
            "message_sid": turn.inbound.sid,
        }
        result = converse(
            turn.session,
            turn.flows,
            turn.contact,
            turn.message.channel,
            turn.inbound.text,
            turn.now,
            how,
        )
        if result.outputs or result.handled:
            flow_id = result.session.flow_id if result.session else _ended_flow(result)
            turn.message.handled_by = f"flow:{flow_id}"
            return [_reply_for(turn, output) for output in result.outputs]
    if turn.created and turn.first_language is None:
        turn.message.handled_by = "language_ask"
        return [turn.say(replies.LANGUAGE_ASK)]
    if turn.created:
        turn.message.handled_by = "welcome"
        return [turn.say(replies.WELCOME)]
    return []  # unhandled: it waits in the organizers' inbox


def _ended_flow(result: engine.Result) -> str:
    ended = [e.flow_id for e in result.effects if isinstance(e, engine.FlowEnded)]
    return ended[-1] if ended else "unknown"


def _reply_for(turn: Turn, output: engine.Output) -> Reply:
    """A flow's output as a reply; MMS does not reach Mexican phones, so send the link."""
    if not output.media_url:
        return Reply(output.text)
    if turn.message.channel == "sms" and turn.contact.phone.startswith("+52"):
        return Reply(f"{output.text}\n{output.media_url}")
    return Reply(output.text, (output.media_url,))


def _say(msgid: str, contact: Contact, settings: Mapping[str, Any]) -> Reply:
    return Reply(replies.text(msgid, contact.language, settings))


def _record_replies(
    session: Session,
    contact: Contact,
    inbound_message: Message,
    texts: list[Reply],
    now: dt.datetime,
) -> list[Reply]:
    """Record every reply; only a contact who may receive gets them."""
    allowed = consent.can_receive(contact) or inbound_message.handled_by == Intent.OPT_OUT.value
    for reply in texts:
        session.add(
            Message(
                contact_id=contact.id,
                direction=DIRECTION_OUT,
                channel=inbound_message.channel,
                address=inbound_message.address,
                body=reply.body,
                media=[{"url": u} for u in reply.media_urls],
                in_reply_to_id=inbound_message.id,
                status=STATUS_REPLIED if allowed else STATUS_BLOCKED,
                created_at=now,
                updated_at=now,
            )
        )
    return texts if allowed else []
