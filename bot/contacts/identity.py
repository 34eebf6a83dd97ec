"""Finding the contact behind an address, creating them the first time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from bot import phones
from bot.contacts.models import Address, Contact, FlowSession


def find_by_phone(session: Session, phone: str) -> Contact | None:
    """The contact with this E.164 number, on any channel."""
    return session.scalar(select(Contact).where(Contact.phone == phone))


@dataclass(frozen=True)
class Found:
    """The contact behind an inbound message, with what the message needs of them."""

    contact: Contact
    created: bool  # this is their first message
    flow_session: FlowSession | None  # where they are in a flow, if anywhere


def find_or_create(
    session: Session,
    parsed: phones.ParsedAddress,
    language: str,
    now: dt.datetime,
    **new: Any,
) -> Found:
    """The contact for ``parsed`` (creating contact and address as needed).

    A new contact gets ``language`` and the columns in ``new`` (say
    ``language_source``), all in the one INSERT.

    One SELECT loads the contact with their addresses, tags and flow session.
    One person is one contact: a WhatsApp ``+521…`` address and an SMS
    ``+52…`` address share the E.164 phone.
    """
    contact, flow_session = _find_with_flow_session(session, parsed.phone)
    created = contact is None
    if contact is None:
        contact = _create(session, parsed.phone, now, language=language, **new)
    if contact is None:  # another request created them at the same moment
        contact, flow_session = _find_with_flow_session(session, parsed.phone)
        created = False
        if contact is None:
            raise LookupError("a contact that was created is missing")
    address = contact.address_for(parsed.channel)
    if address is None:
        contact.addresses.append(Address(channel=parsed.channel, address=parsed.address))
    elif address.address != parsed.address:
        address.address = parsed.address  # WhatsApp may switch between +521 and +52
    return Found(contact, created, flow_session)


# Built once: building a select with joins and loader options costs more Python
# than running it (docs/performance.md); the phone is bound at each execution.
_WITH_FLOW_SESSION = (
    select(Contact, FlowSession)
    .outerjoin(FlowSession, FlowSession.contact_id == Contact.id)
    .where(Contact.phone == bindparam("phone"))
    .options(joinedload(Contact.addresses), joinedload(Contact.tags))
)


def _find_with_flow_session(
    session: Session, phone: str
) -> tuple[Contact | None, FlowSession | None]:
    row = session.execute(_WITH_FLOW_SESSION, {"phone": phone}).unique().first()
    return (row[0], row[1]) if row else (None, None)


def _create(session: Session, phone: str, now: dt.datetime, **columns: Any) -> Contact | None:
    """A new contact, flushed for its id; None when another request created them first."""
    facts = phones.facts(phone)
    contact = Contact(
        phone=phone,
        country=facts.country,
        region=facts.region,
        timezone=facts.timezone,
        fields={},
        created_at=now,
        addresses=[],  # known to be empty: no query to load them
        tags=[],
        **columns,
    )
    try:
        with session.begin_nested():  # another request may create them at the same moment
            session.add(contact)
            session.flush()
    except IntegrityError:
        return None
    return contact
