"""Contacts: one person, their addresses, their consent log, tags and flow session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from bot.db import Base, UTCDateTime, utcnow

# Contact.status
STATUS_ACTIVE = "active"  # may receive replies; broadcasts only with an opt-in
STATUS_OPTED_OUT = "opted_out"  # said STOP: receives nothing until they opt back in
STATUS_INVALID = "invalid"  # the number cannot receive messages (21211/21614/30006)
STATUSES = (STATUS_ACTIVE, STATUS_OPTED_OUT, STATUS_INVALID)

# Contact.language_source: what set the contact's language (see bot.inbound)
LANGUAGE_DEFAULT = "default"  # nothing yet: DEFAULT_LANGUAGE, and we asked them to choose
LANGUAGE_FROM_NUMBER = "number"  # a +52 number, with no words to go on
LANGUAGE_FROM_MESSAGE = "message"  # the words of their first message
LANGUAGE_CHOSEN = "chosen"  # ESPAÑOL / ENGLISH, or a flow's language question: final
LANGUAGE_SWITCHED = "switched"  # a later message clearly in the other language (confirmed)

# Address.channel
CHANNEL_SMS = "sms"
CHANNEL_WHATSAPP = "whatsapp"
CHANNELS = (CHANNEL_SMS, CHANNEL_WHATSAPP)

# ConsentEvent.kind
CONSENT_OPT_IN = "opt_in"  # first agreement to receive messages
CONSENT_OPT_OUT = "opt_out"  # STOP, a sentence asking to stop, or a carrier 21610
CONSENT_RE_OPT_IN = "re_opt_in"  # START / ALTA / joining again after an opt-out
CONSENT_HELP = "help"  # asked for HELP (kept as part of the compliance record)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    language: Mapped[str] = mapped_column(String(8))
    language_chosen: Mapped[bool] = mapped_column(default=False)  # asked or said
    language_source: Mapped[str | None] = mapped_column(String(16))  # LANGUAGE_*; None: older
    status: Mapped[str] = mapped_column(String(16), default=STATUS_ACTIVE, index=True)
    opted_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    opted_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    country: Mapped[str | None] = mapped_column(String(2), index=True)  # "US", "MX"
    region: Mapped[str | None] = mapped_column(String(64), index=True)  # state
    timezone: Mapped[str | None] = mapped_column(String(64))
    profile_name: Mapped[str | None] = mapped_column(String(128))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    # The partner they first came through (NULL: the coalition itself); never changes.
    joined_via_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    # When they last asked to erase their data (BORRAR MIS DATOS): the confirming word
    # erases only if it is their very next message, within bot.erasure's time limit.
    erasure_asked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    addresses: Mapped[list[Address]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", lazy="selectin"
    )
    tags: Mapped[list[ContactTag]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def tag_names(self) -> frozenset[str]:
        return frozenset(t.tag for t in self.tags)

    def address_for(self, channel: str) -> Address | None:
        return next((a for a in self.addresses if a.channel == channel), None)


def choose_language(contact: Contact, language: str) -> None:
    """The contact chose their language: only another choice changes it."""
    contact.language = language
    contact.language_chosen = True
    contact.language_source = LANGUAGE_CHOSEN


class Address(Base):
    """How to reach a contact on one channel ("+1555…" or "whatsapp:+521…")."""

    __tablename__ = "addresses"
    __table_args__ = (
        UniqueConstraint("contact_id", "channel"),
        # who is inside the WhatsApp window, for a partner's audience count
        Index("ix_addresses_channel_last_inbound_at", "channel", "last_inbound_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(40), unique=True)  # as Twilio sends it
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="addresses")


@dataclass(frozen=True)
class Reach:
    """An address as the sending rules read it (see `Recipient`)."""

    channel: str
    address: str
    last_inbound_at: dt.datetime | None


@dataclass(frozen=True)
class Recipient:
    """A contact as a broadcast send reads it: plain columns, read without the ORM.

    A broadcast reads thousands of contacts a minute; building ORM objects for
    them cost more CPU than the sends (docs/performance.md). Same names as
    `Contact`, so the sending rules read either.
    """

    id: int
    phone: str
    status: str
    opted_in_at: dt.datetime | None
    language: str
    timezone: str | None
    country: str | None
    addresses: tuple[Reach, ...]

    def address_for(self, channel: str) -> Reach | None:
        return next((a for a in self.addresses if a.channel == channel), None)


def recipients(session: Session, ids: Iterable[int]) -> dict[int, Recipient]:
    """The contacts with these ids, as `Recipient`s (two SELECTs)."""
    wanted = list(ids)
    reach: dict[int, list[Reach]] = {}
    for row in session.execute(
        select(Address.contact_id, Address.channel, Address.address, Address.last_inbound_at).where(
            Address.contact_id.in_(wanted)
        )
    ):
        reach.setdefault(row.contact_id, []).append(
            Reach(row.channel, row.address, row.last_inbound_at)
        )
    columns = (
        Contact.id,
        Contact.phone,
        Contact.status,
        Contact.opted_in_at,
        Contact.language,
        Contact.timezone,
        Contact.country,
    )
    return {
        row.id: Recipient(*row, addresses=tuple(reach.get(row.id, ())))
        for row in session.execute(select(*columns).where(Contact.id.in_(wanted)))
    }


class ConsentEvent(Base):
    """One line of a contact's consent log; never edited, never deleted."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16))
    words: Mapped[str | None] = mapped_column(Text)  # what they wrote, or the source
    message_sid: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))  # "keyword", "flow:join", "import"…
    # Whose consent: a partner's, or NULL for the coalition's (STOP ends both).
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactTag(Base):
    __tablename__ = "contact_tags"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_contact_tags_tag", "tag"),)


class FlowSession(Base):
    """Where a contact is in a conversation flow (at most one per contact)."""

    __tablename__ = "flow_sessions"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    flow_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class StoredFlow:
    """A contact's flow session as the inbound webhook reads it: a plain row, no ORM object.

    Same names as `FlowSession`, so the conversation reads either.
    """

    flow_id: str
    expires_at: dt.datetime
    data: dict[str, Any]


class Suppression(Base):
    """A number whose person was erased: never texted, never imported again.

    Only a keyed hash of the E.164 number is kept (bot.contacts.suppressions),
    never the number: a leaked database does not say who was here.
    """

    __tablename__ = "suppressions"

    number_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # HMAC-SHA256, hex
    opted_out_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # when they were erased
