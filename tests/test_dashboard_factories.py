"""Factories for the dashboard tests: contacts, conversations, reports (no tests here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from bot import phones
from bot.contacts.models import Address, ConsentEvent, Contact, ContactTag
from bot.db import Database, utcnow
from bot.msgs.models import Message
from bot.reports import Report

# Numbers that must never reach a masked role, in every way they could be written.
US_PHONE = "+12135550123"
MX_PHONE = "+525512345678"
WA_US_PHONE = "+13125550188"
PHONE_SPELLINGS = {
    US_PHONE: ("+12135550123", "12135550123", "2135550123", "213-555-0123", "(213) 555-0123",
               "213 555 0123", "+1 213-555-0123", "+1 213 555 0123"),
    MX_PHONE: ("+525512345678", "525512345678", "5512345678", "+5215512345678", "5215512345678",
               "55 1234 5678", "+52 55 1234 5678"),
    WA_US_PHONE: ("+13125550188", "13125550188", "3125550188", "312-555-0188", "(312) 555-0188"),
}  # fmt: skip


def create_contact(
    db: Database,
    phone: str = US_PHONE,
    language: str = "es",
    channels: Iterable[str] = ("sms",),
    *,
    name: str | None = None,
    tags: Iterable[str] = (),
    opted_in: bool = True,
    status: str = "active",
    created_at: dt.datetime | None = None,
    last_inbound_at: dt.datetime | None = None,
    fields: dict[str, str] | None = None,
) -> int:
    """A contact with addresses, tags and (by default) an opt-in on record."""
    now = created_at or utcnow()
    facts = phones.facts(phone)
    with db.session() as session:
        contact = Contact(
            phone=phone, language=language, language_chosen=True, status=status,
            country=facts.country, region=facts.region, timezone=facts.timezone,
            profile_name=name, fields=fields or {}, created_at=now, last_seen_at=now,
            opted_in_at=now if opted_in else None,
        )  # fmt: skip
        for channel in channels:
            contact.addresses.append(
                Address(
                    channel=channel,
                    address=phones.address_for(channel, phone),
                    last_inbound_at=last_inbound_at,
                    created_at=now,
                )
            )
        session.add(contact)
        session.flush()
        for tag in tags:
            session.add(ContactTag(contact_id=contact.id, tag=tag))
        if opted_in:
            session.add(
                ConsentEvent(
                    contact_id=contact.id, kind="opt_in", channel="sms", words="UNIRME",
                    source="flow:join", created_at=now,
                )
            )  # fmt: skip
        return contact.id


def create_message(
    db: Database,
    contact_id: int,
    body: str,
    direction: str = "in",
    channel: str = "sms",
    *,
    status: str | None = None,
    handled_by: str | None = None,
    created_at: dt.datetime | None = None,
) -> int:
    """One message in a contact's conversation (inbound: unhandled, so in the inbox)."""
    now = created_at or utcnow()
    with db.session() as session:
        contact = session.get_one(Contact, contact_id)
        message = Message(
            contact_id=contact_id, direction=direction, channel=channel,
            address=phones.address_for(channel, contact.phone), body=body,
            status=status or ("received" if direction == "in" else "delivered"),
            handled_by=handled_by, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(message)
        session.flush()
        return message.id


def create_report(db: Database, contact_id: int, **data: str) -> int:
    with db.session() as session:
        report = Report(contact_id=contact_id, flow_id="report", data=data, created_at=utcnow())
        session.add(report)
        session.flush()
        return report.id
