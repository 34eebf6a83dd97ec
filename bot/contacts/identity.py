"""Finding the contact behind an address, creating them the first time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import phones
from bot.contacts.models import Address, Contact


def find_by_phone(session: Session, phone: str) -> Contact | None:
    """The contact with this E.164 number, on any channel."""
    return session.scalar(select(Contact).where(Contact.phone == phone))


def find_or_create(
    session: Session, parsed: phones.ParsedAddress, language: str, now: dt.datetime
) -> tuple[Contact, bool]:
    """The contact for ``parsed`` (creating contact and address as needed).

    Returns (contact, created). One person is one contact: a WhatsApp
    ``+521…`` address and an SMS ``+52…`` address share the E.164 phone.
    """
    contact = find_by_phone(session, parsed.phone)
    created = False
    if contact is None:
        contact, created = _create(session, parsed.phone, language, now)
    address = contact.address_for(parsed.channel)
    if address is None:
        contact.addresses.append(Address(channel=parsed.channel, address=parsed.address))
    elif address.address != parsed.address:
        address.address = parsed.address  # WhatsApp may switch between +521 and +52
    return contact, created


def _create(session: Session, phone: str, language: str, now: dt.datetime) -> tuple[Contact, bool]:
    facts = phones.facts(phone)
    contact = Contact(
        phone=phone,
        language=language,
        country=facts.country,
        region=facts.region,
        timezone=facts.timezone,
        fields={},
        created_at=now,
    )
    try:
        with session.begin_nested():  # another request may create them at the same moment
            session.add(contact)
            session.flush()
    except IntegrityError:
        existing = find_by_phone(session, phone)
        if existing is None:
            raise
        return existing, False
    return contact, True
