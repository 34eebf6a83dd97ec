"""One inbound message, start to finish: record, dedupe, contact, compliance, reply.

`receive` runs inside one database transaction of a handful of statements
(docs/performance.md): the message, its replies, the contact's address and
flow session are written with Core, and so is what it changed of the contact
(consent, fields, tags, language); the flush at commit writes the rest.
Twilio's MessageSid is unique: a Twilio retry (or a second copy arriving at
the same moment) fails the inbound message's insert, the whole transaction
with every effect is rolled back, and the retry gets the replies stored the
first time, so nothing happens twice.

Every field of the webhook is length-capped and a value that cannot be
parsed counts as absent, so no signed request can get a 5xx or grow memory.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from bot import erasure, formatting, phones
from bot.broadcasts import events
from bot.broadcasts.models import Event
from bot.compliance import replies
from bot.compliance.keywords import Intent, asks_erasure, classify
from bot.compliance.language import clear_switch, guess_language
from bot.contacts import consent, suppressions
from bot.contacts.identity import Found, find, find_or_create, reached, save
from bot.contacts.models import (
    CHANNEL_SMS,
    CHANNEL_WHATSAPP,
    LANGUAGE_DEFAULT,
    LANGUAGE_FROM_MESSAGE,
    LANGUAGE_FROM_NUMBER,
    LANGUAGE_SWITCHED,
    STATUS_OPTED_OUT,
    Contact,
    choose_language,
)
from bot.conversations import (
    LoadedFlows,
    converse,
    is_joining,
    joining_flow,
    rsvp_any,
    start_petition,
    start_rsvp,
)
from bot.db import Database
from bot.exceptions import InvalidWebhook
from bot.flows import engine
from bot.flows.turn import Interactive
from bot.msgs import contents
from bot.msgs.models import (
    DIRECTION_IN,
    DIRECTION_OUT,
    STATUS_BLOCKED,
    STATUS_RECEIVED,
    STATUS_REPLIED,
    STATUS_REPLY_QUEUED,
    Message,
)
from bot.partners import membership, organizations
from bot.partners.models import Organization
from bot.petitions import petitions
from bot.petitions.models import Petition
from bot.text import normalize

log = logging.getLogger(__name__)

_EXTRA_KEYS = (
    "MessageType", "ButtonText", "ButtonPayload", "Latitude", "Longitude", "Address",
    "Label", "OriginalRepliedMessageSid", "WaId", "OptOutType", "NumSegments", "ListId",
    "ListTitle",
)  # fmt: skip

# Caps on what a webhook may carry: Twilio's own values fit well inside them, and
# anything longer is cut, so no input can grow memory or overflow a column.
MAX_MEDIA = 10  # Twilio sends at most 10 media items per message
MEDIA_TEXT = "[media]"  # a message of files only, as the flows read it
MAX_BODY = 4096  # WhatsApp's longest message; SMS bodies stop at 1600
MAX_SID = 64  # the messages.sid column
MAX_ADDRESS = 40  # the messages.address column
MAX_FIELD = 256  # profile names, button texts, coordinates, extra fields
MAX_URL = 1024
SID = re.compile(r"[A-Za-z0-9_-]{2,64}")

# When Twilio's own opt-out handling matched (including keywords configured in
# the Twilio console, and YES), its verdict stands.
_TWILIO_OPT_OUT_TYPES = {"STOP": Intent.OPT_OUT, "START": Intent.OPT_IN, "HELP": Intent.HELP}
# Asking to erase one's data or to see it: answered the same whether or not the
# number is known (bot.erasure), so the answers tell nobody who is a contact.
_ERASURE_INTENTS = (Intent.ERASE_REQUEST, Intent.ERASE_CONFIRM, Intent.MY_DATA)
# Replies that go even to a contact who is opted out: what they just asked for.
_ANSWERED_WHEN_OUT = (Intent.OPT_OUT.value, Intent.ERASE_REQUEST.value, Intent.MY_DATA.value)


def clean(value: str | None, limit: int) -> str:
    """A webhook value cut to ``limit`` characters, without NUL (PostgreSQL refuses it)."""
    return (value or "")[: limit * 2].replace("\x00", "")[:limit]


def media_count(raw: str | None) -> int:
    """Twilio's NumMedia as a number of items, 0 to MAX_MEDIA; anything else counts as 0."""
    text = clean(raw, 12).strip()
    if text.isascii() and text.isdigit():
        return min(int(text), MAX_MEDIA)  # "99999999999" media are still at most ten
    return 0


def number(raw: str | None) -> int | None:
    """A webhook value as a non-negative integer that fits a column, or None.

    ASCII digits only ("٣" is a digit to Python), at most 9 of them: Twilio's
    counts and error codes are far shorter, and PostgreSQL's integer is 32-bit.
    """
    text = clean(raw, 12).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def geo_uri(latitude: str | None, longitude: str | None) -> str | None:
    """A WhatsApp location as text the flows keep (``geo:lat,lon``); None if it is not one."""
    try:
        lat, lon = float(latitude or ""), float(longitude or "")
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return f"geo:{_decimal(lat)},{_decimal(lon)}"


def _decimal(value: float) -> str:
    """Six decimals at most (about 10 cm), no trailing zeros: 32.5312, -117.0421."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


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
        """The message in Twilio's form fields; raises InvalidWebhook without sender or SID.

        Every value is length-capped and a value that cannot be parsed counts as absent.
        """
        sid = clean(
            params.get("MessageSid") or params.get("SmsMessageSid") or params.get("SmsSid"),
            MAX_SID + 1,
        )
        sender = clean(params.get("From"), MAX_FIELD).strip()
        if not SID.fullmatch(sid) or not sender:
            raise InvalidWebhook("an inbound message needs From and a MessageSid")
        media = [
            {
                "url": clean(params.get(f"MediaUrl{i}"), MAX_URL),
                "type": clean(params.get(f"MediaContentType{i}"), MAX_FIELD),
            }
            for i in range(media_count(params.get("NumMedia")))
            if params.get(f"MediaUrl{i}")
        ]
        extra = {k: clean(params.get(k), MAX_FIELD) for k in _EXTRA_KEYS}
        opt_out = clean(params.get("OptOutType"), 16).upper()
        return cls(
            sid=sid,
            sender=sender,
            recipient=clean(params.get("To"), MAX_ADDRESS),
            body=clean(params.get("Body"), MAX_BODY),
            media=media,
            profile_name=clean(params.get("ProfileName"), 128) or None,
            opt_out_type=opt_out if opt_out in _TWILIO_OPT_OUT_TYPES else None,
            extra={k: v for k, v in extra.items() if v},
        )

    @property
    def text(self) -> str:
        """What the contact said: a tapped button's or list row's payload counts as text,
        a shared location as a geo URI (``geo:32.5312,-117.0421``, RFC 5870), and a
        photo, audio or video without words as ``[media]`` (the report flow waits for
        more of them; the files themselves stay in ``media``)."""
        return (
            self.body
            or self.extra.get("ButtonPayload")
            or self.extra.get("ButtonText")
            or self.extra.get("ListId")
            or geo_uri(self.extra.get("Latitude"), self.extra.get("Longitude"))
            or (MEDIA_TEXT if self.media else "")
        )

    @property
    def payload(self) -> str | None:
        """The id of a tapped WhatsApp button (``ButtonPayload``) or list row (``ListId``)."""
        return self.extra.get("ButtonPayload") or self.extra.get("ListId") or None


@dataclass(frozen=True)
class Reply:
    body: str
    media_urls: tuple[str, ...] = ()
    interactive: Interactive | None = None  # WhatsApp buttons or a list (``body``: as text)
    queued: bool = False  # recorded for the REST API (bot.msgs.replies), not for TwiML


def receive(
    db: Database,
    inbound: Inbound,
    settings: Mapping[str, Any],
    now: dt.datetime,
    flows: LoadedFlows | None = None,
) -> list[Reply]:
    """Handle one inbound message and return the replies for the TwiML response.

    A unique key that fails is a MessageSid handled already (a retry, or a
    concurrent copy): its stored replies are the answer. Any other (a row that
    a concurrent message wrote first) is settled by handling it once more, and
    so is a database connection that broke (pooled connections are not pinged
    on every request: bot.db).
    """
    tries = 2
    while True:
        tries -= 1
        try:
            with db.session() as session:
                return _receive(session, inbound, settings, now, flows)
        except IntegrityError:
            with db.session() as session:
                stored = stored_replies(session, inbound.sid)
            if stored is not None:
                return stored
            if not tries:
                raise
        except DBAPIError as error:
            if not error.connection_invalidated or not tries:
                raise
            log.warning("inbound %s: the database connection broke, trying again", inbound.sid)


def stored_replies(session: Session, sid: str) -> list[Reply] | None:
    """The replies given the first time this MessageSid was handled; None if it was not."""
    original = session.scalar(select(Message.id).where(Message.sid == sid))
    if original is None:
        return None
    rows = session.scalars(
        select(Message)
        .where(Message.in_reply_to_id == original, Message.status == STATUS_REPLIED)
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
    try:
        parsed = phones.parse_address(inbound.sender)
    except phones.InvalidNumber:
        _record_unsupported(session, inbound, now)
        return []
    guessed = guess_language(inbound.text)
    first_language = guessed or ("es" if parsed.phone.startswith("+52") else None)
    intent = _intent(inbound)
    known: Found | None = None
    if intent in _ERASURE_INTENTS:
        known = find(session, parsed.phone)
        if known is None:  # nothing held: the same answer as a contact's, nothing stored
            answer = _erasure_answer(intent, inbound, first_language, settings)
            return [_as_sent(answer, parsed.channel)]
        if intent is Intent.ERASE_CONFIRM:
            if erasure.confirms_now(known.contact, now):
                answer = _erase(session, known.contact, inbound, settings, now)
                return [_as_sent(answer, parsed.channel)]
            intent = Intent.NONE  # BORRAR with no request just before: an ordinary message
    message = _inbound_message(inbound, parsed.channel, parsed.address, now)
    # The message, its replies, the address, the flow session and the contact's
    # changes are Core statements; the flush at commit writes the rest (consent
    # lines, memberships, reports).
    with session.no_autoflush:
        source = (
            LANGUAGE_FROM_MESSAGE if guessed else LANGUAGE_FROM_NUMBER if first_language
            else LANGUAGE_DEFAULT
        )  # fmt: skip
        found = known or find_or_create(
            session,
            parsed,
            first_language or settings["DEFAULT_LANGUAGE"],
            now,
            suppressions.key_of(settings),
            language_source=source,
            last_seen_at=now,
            profile_name=inbound.profile_name,
        )
        contact = found.contact
        message.contact_id = contact.id
        _touch(contact, inbound, now)
        turn = Turn(
            session, contact, message, inbound, settings, now, found, first_language, flows, intent
        )
        texts = _respond(turn)
        # The unique MessageSid: a retry (or a concurrent copy) fails here, and the whole
        # transaction, with every effect of this message, is rolled back.
        _insert_message(session, message)
        reached(session, contact, parsed, now)
        replies_given = _record_replies(session, contact, message, texts, now)
        save(session, contact)
    log.info(
        "inbound %s from %s handled by %s",
        inbound.sid,
        phones.mask(parsed.address),
        message.handled_by,
    )
    return replies_given


def _intent(inbound: Inbound) -> Intent:
    """What the message asks for; an opt-out that also asks to erase is an erase request.

    An erase request stops messages at once, as STOP does ("delete my information").
    """
    if inbound.opt_out_type:
        return _TWILIO_OPT_OUT_TYPES[inbound.opt_out_type]  # Twilio answered: its verdict stands
    intent = classify(inbound.text)
    if intent is Intent.OPT_OUT and asks_erasure(inbound.text):
        return Intent.ERASE_REQUEST
    return intent


def _erasure_answer(
    intent: Intent, inbound: Inbound, fallback: str | None, settings: Mapping[str, Any]
) -> Reply:
    """The answer to an erase request, its confirmation or MY DATA from a number not held.

    Byte for byte what a contact gets for the request and the confirmation.
    """
    language = erasure.language_of(inbound.text) or fallback or settings["DEFAULT_LANGUAGE"]
    if intent is Intent.ERASE_REQUEST:
        return _erase_ask(language, settings)
    if intent is Intent.ERASE_CONFIRM:
        return Reply(replies.text(replies.ERASED, language, settings))
    return Reply(replies.text(replies.MY_DATA_NONE, language, settings))


def _erase_ask(language: str, settings: Mapping[str, Any]) -> Reply:
    minutes = str(int(erasure.CONFIRM_WITHIN.total_seconds() // 60))
    return Reply(replies.text(replies.ERASE_ASK, language, settings, minutes=minutes))


def _erase(
    session: Session,
    contact: Contact,
    inbound: Inbound,
    settings: Mapping[str, Any],
    now: dt.datetime,
) -> Reply:
    """BORRAR / DELETE right after their request: erase them, and say so in their language.

    Neither this message nor the reply is stored: no row may keep their number
    or point to them. A retry of it finds the number unknown and gets the same
    answer (`_erasure_answer`).
    """
    language = erasure.language_of(inbound.text) or contact.language
    erasure.erase(session, contact.id, suppressions.key_of(settings), now, config=settings)
    log.info("inbound %s: a contact erased at their request", inbound.sid)
    return Reply(replies.text(replies.ERASED, language, settings))


def _as_sent(reply: Reply, channel: str) -> Reply:
    """A reply that is not recorded, as its channel gets it (as `_record_replies` does)."""
    return replace(reply, body=formatting.for_channel(reply.body, channel))


def _inbound_message(inbound: Inbound, channel: str, address: str, now: dt.datetime) -> Message:
    return Message(
        direction=DIRECTION_IN,
        channel=channel,
        address=address,
        body=inbound.body,
        media=inbound.media,
        extra=inbound.extra,
        sid=inbound.sid,
        status=STATUS_RECEIVED,
        created_at=now,
        updated_at=now,
    )


# Messages are written with Core, not through the session's unit of work: each
# inbound message writes itself and its replies (docs/performance.md). The
# `Message` objects of the inbound path never join the session.
MESSAGES = Message.__table__
_MESSAGE_COLUMNS = (
    "contact_id", "direction", "channel", "address", "body", "media", "extra", "sid",
    "in_reply_to_id", "status", "handled_by", "created_at", "updated_at",
)  # fmt: skip
_INSERT_MESSAGE = MESSAGES.insert().returning(MESSAGES.c.id)


def _insert_message(session: Session, message: Message) -> None:
    """INSERT the message now (its id is set): a MessageSid handled before fails here."""
    values = {key: getattr(message, key) for key in _MESSAGE_COLUMNS}
    message.id = session.execute(_INSERT_MESSAGE, values).scalar_one()


def _record_unsupported(session: Session, inbound: Inbound, now: dt.datetime) -> None:
    """A sender that is not a phone number (a short code, ``messenger:…``): kept, not answered.

    It waits in the organizers' inbox, shown as an unsupported sender; Puente
    cannot reply to it, so the webhook answers with empty TwiML.
    """
    scheme, colon, _ = inbound.sender.partition(":")
    channel = scheme.lower()[:16] if colon and scheme.isalpha() else CHANNEL_SMS
    # the unique MessageSid: a duplicate stops here
    _insert_message(session, _inbound_message(inbound, channel, inbound.sender[:MAX_ADDRESS], now))
    log.info("inbound %s from an unsupported sender %s", inbound.sid, phones.mask(inbound.sender))


@dataclass
class Turn:
    """Everything about the message being handled."""

    session: Session
    contact: Contact
    message: Message
    inbound: Inbound
    settings: Mapping[str, Any]
    now: dt.datetime
    found: Found  # the contact, whether they are new, their flow session
    first_language: str | None  # what the first message told us, if anything
    flows: LoadedFlows | None
    intent: Intent  # what it asks for (compliance keywords, erasure)
    # The partner whose join keyword the whole message is, and its language (looked up once).
    partner_keyword: tuple[Organization, str] | None = None
    partner_looked_up: bool = False

    @property
    def created(self) -> bool:
        """This is the contact's first message."""
        return self.found.created

    def say(self, msgid: str) -> Reply:
        return _say(msgid, self.contact.language, self.settings)

    def answer_keyword(self, msgid: str) -> Reply:
        """A compliance reply in the language the keyword was written in, when that is clear.

        BAJA or AYUDA get Spanish, whatever the contact's language; STOP (no
        language of its own) gets theirs. The contact's language is unchanged.
        """
        return _say(
            msgid, guess_language(self.inbound.text) or self.contact.language, self.settings
        )


def _touch(contact: Contact, inbound: Inbound, now: dt.datetime) -> None:
    """Seen now (their address's last inbound, which opens the WhatsApp 24-hour window,
    is written by `reached`)."""
    contact.last_seen_at = now
    if inbound.profile_name:
        contact.profile_name = inbound.profile_name


def _respond(turn: Turn) -> list[Reply]:
    """Compliance keywords first, whatever else is going on; then the conversation."""
    session, contact, message, inbound, now = (
        turn.session, turn.contact, turn.message, turn.inbound, turn.now,
    )  # fmt: skip
    intent = turn.intent
    how = {"channel": message.channel, "words": inbound.text[:500], "message_sid": inbound.sid}
    message.handled_by = intent.value if intent is not Intent.NONE else None
    if intent is Intent.OPT_OUT:
        was_out = contact.status == STATUS_OPTED_OUT
        consent.opt_out(session, contact, now, source="keyword", **how)
        if inbound.opt_out_type == "STOP" or was_out:
            return []  # Twilio already confirmed (or we did before): say nothing more
        return [turn.answer_keyword(replies.OPT_OUT_CONFIRMATION)]
    if intent is Intent.OPT_IN:
        consent.opt_in(session, contact, now, source="keyword", **how)
        if inbound.opt_out_type == "START":
            return []
        return [turn.answer_keyword(replies.OPT_IN_CONFIRMATION)]
    if intent is Intent.ERASE_REQUEST:
        return [_erase_request(turn, how)]
    if intent is Intent.MY_DATA:
        language = erasure.language_of(inbound.text) or contact.language
        return [Reply(erasure.summary(session, contact, language, turn.settings))]
    if contact.status == STATUS_OPTED_OUT and not _joining_again(turn):
        message.handled_by = "opted_out"
        return []  # recorded, never answered, until they opt back in
    if intent is Intent.HELP:
        consent.help_requested(session, contact, now, source="keyword", **how)
        return [] if inbound.opt_out_type == "HELP" else [_help(turn)]
    if intent in (Intent.LANGUAGE_ES, Intent.LANGUAGE_EN):
        choose_language(contact, "es" if intent is Intent.LANGUAGE_ES else "en")
        return [turn.say(replies.LANGUAGE_SET)]
    if intent is Intent.LANGUAGE_ASK:
        return [turn.say(replies.LANGUAGE_ASK)]
    leaving = _leave_request(turn)
    if leaving is not None:
        return [_leave_partner(turn, leaving)]
    joining = _partner_keyword(turn)
    if joining is not None:
        return _join_partner(turn, *joining)
    signing = _petition_keyword(turn)
    if signing is not None:
        return _sign_petition(turn, *signing)
    answering = _event_keyword(turn)
    if answering is not None:
        return _rsvp_event(turn, *answering)
    if _asks_rsvp(turn):
        return _rsvp_any(turn)
    if _follow_language(turn):
        return [turn.say(replies.LANGUAGE_SWITCHED), *_converse(turn)]
    return _converse(turn)


def _erase_request(turn: Turn, how: dict[str, str]) -> Reply:
    """BORRAR MIS DATOS: no more messages from now on (as STOP), and the confirming word
    (BORRAR / DELETE, their very next message) will erase everything."""
    contact = turn.contact
    if contact.status != STATUS_OPTED_OUT:
        consent.opt_out(turn.session, contact, turn.now, source="erase_request", **how)
    contact.erasure_asked_at = turn.now
    language = erasure.language_of(turn.inbound.text) or contact.language
    return _erase_ask(language, turn.settings)


def _follow_language(turn: Turn) -> bool:
    """The language rules for a message that is no keyword; True when it switched.

    A contact's language was set by their first message (or their +52 number)
    or chosen. An answer to a flow question never changes it: names and places
    carry accents. A free message switches only a language we guessed, and only
    when it is clearly written in the other one (`clear_switch`); the reply
    then says so and how to switch back.
    """
    contact, text = turn.contact, turn.inbound.text
    if turn.created or contact.language_chosen or _in_flow(turn):
        return False
    if contact.language_source == LANGUAGE_DEFAULT:  # nothing told us yet, so we asked
        guessed = guess_language(text)
        if guessed:
            contact.language, contact.language_source = guessed, LANGUAGE_FROM_MESSAGE
        return False
    switched = clear_switch(text, contact.language)
    if switched is None:
        return False
    contact.language, contact.language_source = switched, LANGUAGE_SWITCHED
    return True


def _in_flow(turn: Turn) -> bool:
    """Whether the contact is answering a flow's question."""
    stored = turn.found.flow_session
    return stored is not None and stored.expires_at > turn.now


def _joining_again(turn: Turn) -> bool:
    """Texting the join keyword, or a partner's, is an opt-in, also after STOP."""
    if _partner_keyword(turn) is not None:
        return True
    if turn.flows is None:
        return False
    return is_joining(turn.flows.flowset, turn.inbound.text, turn.contact.language)


def _may_be_keyword(text: str) -> bool:
    """Only a short message can be a partner's keyword: others cost no lookup."""
    words = text.split()
    return 0 < len(words) <= 4 and len(text) <= 60


def _partner_keyword(turn: Turn) -> tuple[Organization, str] | None:
    """(partner, keyword's language) when the message is an active partner's join keyword."""
    if not turn.partner_looked_up:
        turn.partner_looked_up = True
        text = turn.inbound.text
        trigger = turn.flows is not None and turn.flows.flowset.keyword_languages(text)
        if _may_be_keyword(text) and not trigger:  # a flow's keyword is never a partner's
            turn.partner_keyword = organizations.by_keyword(turn.session, text)
    return turn.partner_keyword


def _petition_keyword(turn: Turn) -> tuple[Petition, str] | None:
    """(petition, keyword's language) when the message is a petition's keyword (FIRMO, SIGN)."""
    text = turn.inbound.text
    trigger = turn.flows is not None and turn.flows.flowset.keyword_languages(text)
    if not _may_be_keyword(text) or trigger:
        return None
    return petitions.by_keyword(turn.session, text)


def _sign_petition(turn: Turn, petition: Petition, language: str) -> list[Reply]:
    """A petition's keyword: ask only what is missing (name, ZIP), sign once, say the number.

    Signing is no opt-in to broadcasts: the replies to it are all they get,
    unless they join.
    """
    contact = turn.contact
    if turn.created or contact.language_source == LANGUAGE_DEFAULT:
        contact.language, contact.language_source = language, LANGUAGE_FROM_MESSAGE
        turn.first_language = language
    turn.message.handled_by = f"petition:{petition.slug}"
    if turn.flows is None:
        return []
    result = start_petition(
        turn.session, turn.flows, contact, turn.message.channel, petition, turn.now,
        _how(turn), turn.found.flow_session,
    )  # fmt: skip
    return [_reply_for(turn, output) for output in result.outputs]


def _event_keyword(turn: Turn) -> tuple[Event, str] | None:
    """(event, keyword's language) when the message is an event's keyword (CUMBRE, MARCH)."""
    text = turn.inbound.text
    if turn.flows is None or turn.flows.flowset.get(events.FLOW_ID) is None:
        return None
    if not _may_be_keyword(text) or turn.flows.flowset.keyword_languages(text):
        return None
    return events.by_keyword(turn.session, text)


def _asks_rsvp(turn: Turn) -> bool:
    """Whether the message is the RSVP flow's own keyword (RSVP): which event is for us."""
    if turn.flows is None:
        return False
    flow = turn.flows.flowset.flow_for_keyword(normalize(turn.inbound.text), turn.contact.language)
    return flow is not None and flow.id == events.FLOW_ID


def _rsvp_event(turn: Turn, event: Event, language: str) -> list[Reply]:
    """An event's keyword: its RSVP (yes / no / maybe), or that it is over."""
    contact = turn.contact
    if turn.created or contact.language_source == LANGUAGE_DEFAULT:
        contact.language, contact.language_source = language, LANGUAGE_FROM_MESSAGE
        turn.first_language = language
    turn.message.handled_by = f"event:{event.id}"
    assert turn.flows is not None
    result = start_rsvp(
        turn.session, turn.flows, contact, turn.message.channel, event, turn.now,
        _how(turn), turn.found.flow_session,
    )  # fmt: skip
    return [_reply_for(turn, output) for output in result.outputs]


def _rsvp_any(turn: Turn) -> list[Reply]:
    """RSVP: the one open event's RSVP, a numbered choice among several, or none is open."""
    assert turn.flows is not None
    turn.message.handled_by = f"flow:{events.FLOW_ID}"
    result = rsvp_any(
        turn.session, turn.flows, turn.contact, turn.message.channel, turn.now, _how(turn),
        turn.found.flow_session,
    )  # fmt: skip
    return [_reply_for(turn, output) for output in result.outputs]


def _leave_request(turn: Turn) -> tuple[Organization, str] | None:
    text = turn.inbound.text
    if not _may_be_keyword(text) and len(text) > 160:
        return None
    if not organizations.mentions_leaving(text):
        return None
    return organizations.leave_request(turn.session, text)


def _how(turn: Turn) -> dict[str, str | None]:
    return {
        "channel": turn.message.channel,
        "words": turn.inbound.text[:500],
        "message_sid": turn.inbound.sid,
    }


def _join_partner(turn: Turn, partner: Organization, language: str) -> list[Reply]:
    """A partner's keyword: a member of the coalition and of that partner, in one turn.

    The consent log gets a line for each: the joining flow's opt-in for the
    coalition, and the membership's for the partner. The confirmation names both.
    """
    contact = turn.contact
    if turn.created or contact.language_source == LANGUAGE_DEFAULT:
        contact.language, contact.language_source = language, LANGUAGE_FROM_MESSAGE
        turn.first_language = language
    first_time = turn.created or (contact.opted_in_at is None and contact.joined_via_id is None)
    form = organizations.keyword_form(turn.inbound.text)
    how = _how(turn)
    membership.join(
        turn.session, contact, partner, turn.now, source=f"keyword:{form}",
        first_time=first_time, new_contact=turn.created, **how,
    )  # fmt: skip
    turn.message.handled_by = f"partner:{partner.slug}"
    both = replies.text(
        replies.PARTNER_AND_COALITION, contact.language, turn.settings,
        partner=partner.name(contact.language),
    )  # fmt: skip
    joining = joining_flow(turn.flows.flowset, contact.language) if turn.flows else None
    if joining is None:  # no join flow configured: the CTIA confirmation, naming both
        consent.opt_in(turn.session, contact, turn.now, source=f"keyword:{form}", **how)
        return [Reply(replies.text(replies.OPT_IN_CONFIRMATION, contact.language,
                                   {**turn.settings, "ORG_NAME": both}))]  # fmt: skip
    assert turn.flows is not None
    _flow_id, trigger = joining
    result = converse(
        turn.session, turn.flows, contact, turn.message.channel, trigger, turn.now, how,
        turn.found.flow_session, {"org_name": both, **_partner_variables(turn)},
    )  # fmt: skip
    return [_reply_for(turn, output) for output in result.outputs]


def _leave_partner(turn: Turn, leaving: tuple[Organization, str]) -> Reply:
    """LEAVE BORDER / SALIR FRONTERA: that partner only; the coalition's messages go on."""
    partner, language = leaving
    left = membership.leave(turn.session, turn.contact, partner, turn.now, **_how(turn))
    turn.message.handled_by = f"leave:{partner.slug}"
    answer_in = guess_language(turn.inbound.text) or language or turn.contact.language
    return Reply(
        replies.text(
            replies.PARTNER_LEFT if left else replies.PARTNER_NOT_MEMBER,
            answer_in if answer_in in ("es", "en") else turn.contact.language,
            turn.settings,
            partner=partner.name(answer_in),
        )
    )


def _partner_of_number(turn: Turn) -> Organization | None:
    """The partner whose own number (or WhatsApp sender) the message was sent to."""
    to = turn.inbound.recipient.removeprefix("whatsapp:")
    if not to.startswith("+"):
        return None
    return organizations.by_sender(turn.session, to)


def _help(turn: Turn) -> Reply:
    """HELP: on a partner's own number, that partner's help contact; else the coalition's."""
    partner = _partner_of_number(turn)
    language = guess_language(turn.inbound.text) or turn.contact.language
    if partner is None or not partner.help_contact:
        return turn.answer_keyword(replies.HELP)
    return Reply(
        replies.text(
            replies.PARTNER_HELP,
            language,
            turn.settings,
            partner=partner.name(language),
            partner_contact=partner.help_contact,
        )  # fmt: skip
    )


def _partner_variables(turn: Turn) -> dict[str, str]:
    """The legal help of the partner who brought the contact, when it has its own.

    Migrants in Tijuana need a Tijuana legal aid, not one number for the border.
    """
    via = turn.contact.joined_via_id
    if via is None:
        return {}
    partner = turn.session.get(Organization, via)
    if partner is None or partner.archived_at is not None or not partner.legal_help:
        return {}
    return {"legal_help": partner.legal_help}


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
            turn.found.flow_session,
            _partner_variables(turn),
            payload=turn.inbound.payload,
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
        return Reply(output.text, interactive=output.interactive)
    if turn.message.channel == "sms" and turn.contact.phone.startswith("+52"):
        return Reply(f"{output.text}\n{output.media_url}")
    return Reply(output.text, (output.media_url,))


def _say(msgid: str, language: str, settings: Mapping[str, Any]) -> Reply:
    return Reply(replies.text(msgid, language, settings))


def _record_replies(
    session: Session,
    contact: Contact,
    inbound_message: Message,
    texts: list[Reply],
    now: dt.datetime,
) -> list[Reply]:
    """Record every reply, as its channel gets it; only a contact who may receive gets them.

    On SMS a reply loses WhatsApp's formatting marks (*bold*, _italic_): the row
    stores what was sent, so a retried MessageSid gets the same text. A WhatsApp
    turn with buttons or a list is recorded for the REST API, every reply of it, so
    that they arrive in order (bot.msgs.replies).
    """
    allowed = consent.can_receive(contact) or inbound_message.handled_by in _ANSWERED_WHEN_OUT
    channel = inbound_message.channel
    texts = [replace(r, body=formatting.for_channel(r.body, channel)) for r in texts]
    queued = (
        allowed
        and channel == CHANNEL_WHATSAPP
        and any(r.interactive for r in texts)
    )  # fmt: skip
    status = STATUS_REPLY_QUEUED if queued else STATUS_REPLIED if allowed else STATUS_BLOCKED
    rows = [
        {
            "contact_id": contact.id,
            "direction": DIRECTION_OUT,
            "channel": inbound_message.channel,
            "address": inbound_message.address,
            "body": reply.body,
            "media": [{"url": u} for u in reply.media_urls],
            "extra": _reply_extra(reply, contact) if queued else {},
            "in_reply_to_id": inbound_message.id,
            "status": status,
            "created_at": now,
            "updated_at": now,
        }
        for reply in texts
    ]
    if rows:  # one INSERT … VALUES (…), (…): with RETURNING, SQLAlchemy's insertmanyvalues
        session.execute(_INSERT_MESSAGE, rows)  # (an executemany would be a psycopg pipeline)
    if queued:
        return [replace(reply, queued=True) for reply in texts]
    return texts if allowed else []


def _reply_extra(reply: Reply, contact: Contact) -> dict[str, Any]:
    """What the REST job needs besides the text: the buttons or list, in whose language."""
    if reply.interactive is None:
        return {}
    return {"interactive": contents.to_json(reply.interactive), "language": contact.language}
