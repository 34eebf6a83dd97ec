"""Finding the contact behind an address, creating them the first time.

The inbound webhook runs this for every message, so it reads and writes with
SQLAlchemy Core: one SELECT of plain rows, and at most one INSERT or UPDATE
each for the contact and their address (docs/performance.md, "Inbound
webhook"). The contact comes back as an ORM object attached to the session as
if the ORM had loaded it, so the code that handles the message changes it as
any other (consent, fields, tags, language); `save` then writes those changes
with Core, without the unit of work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Row, bindparam, case, exists, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from bot import phones
from bot.contacts.models import (
    STATUS_ACTIVE,
    STATUS_OPTED_OUT,
    Address,
    Contact,
    ContactTag,
    FlowSession,
    StoredFlow,
    Suppression,
)
from bot.contacts.suppressions import number_hash

CONTACTS = Contact.__table__
ADDRESSES = Address.__table__
TAGS = ContactTag.__table__
FLOW_SESSIONS = FlowSession.__table__
SUPPRESSIONS = Suppression.__table__


def find_by_phone(session: Session, phone: str) -> Contact | None:
    """The contact with this E.164 number, on any channel."""
    return session.scalar(select(Contact).where(Contact.phone == phone))


@dataclass(frozen=True)
class Found:
    """The contact behind an inbound message, with what the message needs of them."""

    contact: Contact
    created: bool  # this is their first message
    flow_session: StoredFlow | None  # where they are in a flow, if anywhere


def find(session: Session, phone: str) -> Found | None:
    """The contact with this E.164 number as `find_or_create` gives it, or None (one SELECT)."""
    found = _find(session, phone)
    if found is None:
        return None
    contact_row, addresses, tags, flow_session = found
    return Found(_attach(session, contact_row, addresses, tags), False, flow_session)


def find_or_create(
    session: Session,
    parsed: phones.ParsedAddress,
    language: str,
    now: dt.datetime,
    erasure_key: str | None = None,
    **new: Any,
) -> Found:
    """The contact for ``parsed`` (creating contact and address as needed).

    A new contact gets ``language`` and the columns in ``new`` (say
    ``language_source``), all in the one INSERT. Their address is written by
    `reached`, once the message is recorded.

    One SELECT loads the contact with their addresses, tags and flow session.
    One person is one contact: a WhatsApp ``+521…`` address and an SMS
    ``+52…`` address share the E.164 phone.

    A number that was erased (its hash under ``erasure_key`` is suppressed)
    comes back as a new contact who is opted out: they get nothing until they
    opt in themselves (JOIN, START), in the same INSERT.
    """
    found = _find(session, parsed.phone)
    created = found is None
    if found is None:
        hashed = number_hash(parsed.phone, erasure_key) if erasure_key else None
        found = _create(session, parsed.phone, now, language=language, _number_hash=hashed, **new)
    if found is None:  # another request created them at the same moment
        found = _find(session, parsed.phone)
        created = False
        if found is None:
            raise LookupError("a contact that was created is missing")
    contact_row, addresses, tags, flow_session = found
    return Found(_attach(session, contact_row, addresses, tags), created, flow_session)


# Built once: building a select with joins costs more Python than running it
# (docs/performance.md); the phone is bound at each execution.
_WITH_FLOW_SESSION = (
    select(
        *CONTACTS.c,
        ADDRESSES.c.id.label("address_id"),
        ADDRESSES.c.channel.label("address_channel"),
        ADDRESSES.c.address.label("address_address"),
        ADDRESSES.c.last_inbound_at.label("address_last_inbound_at"),
        ADDRESSES.c.created_at.label("address_created_at"),
        TAGS.c.tag.label("tag"),
        FLOW_SESSIONS.c.flow_id.label("flow_id"),
        FLOW_SESSIONS.c.expires_at.label("flow_expires_at"),
        FLOW_SESSIONS.c.data.label("flow_data"),
    )
    .select_from(CONTACTS)
    .outerjoin(ADDRESSES, ADDRESSES.c.contact_id == CONTACTS.c.id)
    .outerjoin(TAGS, TAGS.c.contact_id == CONTACTS.c.id)
    .outerjoin(FLOW_SESSIONS, FLOW_SESSIONS.c.contact_id == CONTACTS.c.id)
    .where(CONTACTS.c.phone == bindparam("phone"))
)
_CONTACT_COLUMNS = tuple(c.key for c in CONTACTS.c)
_ADDRESS_COLUMNS = ("id", "channel", "address", "last_inbound_at", "created_at")

# (the contact's columns, their addresses' columns, their tags, their flow session)
_Found = tuple[Row[Any], list[dict[str, Any]], list[str], StoredFlow | None]


def _find(session: Session, phone: str) -> _Found | None:
    rows = session.execute(_WITH_FLOW_SESSION, {"phone": phone}).all()
    if not rows:
        return None
    first = rows[0]
    addresses: dict[int, dict[str, Any]] = {}
    tags: dict[str, None] = {}  # in the order read, once each
    for row in rows:
        if row.address_id is not None and row.address_id not in addresses:
            addresses[row.address_id] = {
                key: getattr(row, f"address_{key}") for key in _ADDRESS_COLUMNS
            }
        if row.tag is not None:
            tags[row.tag] = None
    flow = (
        StoredFlow(first.flow_id, first.flow_expires_at, first.flow_data)
        if first.flow_id is not None
        else None
    )
    return first, list(addresses.values()), list(tags), flow


# A new contact, unless another request just created them (the phone is unique):
# no savepoint, and no row back then. One statement per dialect, built once. An
# erased number's hash in suppressions makes them opted out, in the same statement.
_NEW_STATUS = case(
    (
        exists().where(SUPPRESSIONS.c.number_hash == bindparam("_number_hash")),
        STATUS_OPTED_OUT,
    ),
    else_=STATUS_ACTIVE,
)
_CREATE: dict[str, Insert] = {
    name: dialect.insert(CONTACTS)
    .values(status=_NEW_STATUS)
    .on_conflict_do_nothing()
    .returning(*CONTACTS.c)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _create(session: Session, phone: str, now: dt.datetime, **columns: Any) -> _Found | None:
    """A new contact; None when another request created them first (the phone is unique)."""
    facts = phones.facts(phone)
    statement = _CREATE[session.get_bind().dialect.name]
    values = {
        "phone": phone,
        "country": facts.country,
        "region": facts.region,
        "timezone": facts.timezone,
        "fields": {},
        "created_at": now,
        **columns,
    }
    row = session.execute(statement, values).first()
    return None if row is None else (row, [], [], None)


def reached(
    session: Session, contact: Contact, parsed: phones.ParsedAddress, now: dt.datetime
) -> None:
    """The contact wrote from ``parsed`` now: their address on that channel is added, or
    its last inbound moves on (which opens the WhatsApp 24-hour window). One statement.

    WhatsApp may switch between +521 and +52: the address as sent this time is kept.
    """
    address = contact.address_for(parsed.channel)
    if address is None:
        row = session.execute(
            _ADD_ADDRESS,
            {
                "contact_id": contact.id,
                "channel": parsed.channel,
                "address": parsed.address,
                "last_inbound_at": now,
            },
        ).one()
        added = Address(
            id=row.id,
            contact_id=contact.id,
            channel=parsed.channel,
            address=parsed.address,
            last_inbound_at=now,
            created_at=row.created_at,
        )
        make_transient_to_detached(added)
        session.add(added)
        set_committed_value(contact, "addresses", [*contact.addresses, added])
        return
    changes: dict[str, Any] = {"last_inbound_at": now}
    if address.address != parsed.address:
        changes["address"] = parsed.address
    session.execute(_TOUCH_ADDRESS, {"_id": address.id, **changes})
    for key, value in changes.items():
        set_committed_value(address, key, value)


_ADD_ADDRESS = ADDRESSES.insert().returning(ADDRESSES.c.id, ADDRESSES.c.created_at)
# SET what the parameters name: last_inbound_at, and address when it changed
_TOUCH_ADDRESS = ADDRESSES.update().where(ADDRESSES.c.id == bindparam("_id"))


def _attach(
    session: Session, row: Row[Any], addresses: Sequence[dict[str, Any]], tags: Sequence[str]
) -> Contact:
    """The contact as an ORM object in ``session``, as if loaded there: no statement.

    Later changes to it (or its tags) are written at the session's flush, as usual.
    """
    contact = Contact(
        **{key: row._mapping[key] for key in _CONTACT_COLUMNS},
        addresses=[Address(contact_id=row.id, **a) for a in addresses],
        tags=[ContactTag(contact_id=row.id, tag=tag) for tag in tags],
    )
    for item in (*contact.addresses, *contact.tags, contact):
        make_transient_to_detached(item)  # what it holds is what the database holds
    session.add(contact)
    return contact


_SAVE_CONTACT = CONTACTS.update().where(CONTACTS.c.id == bindparam("_id"))  # SET: what changed
_REMOVE_TAGS = TAGS.delete().where(
    TAGS.c.contact_id == bindparam("_contact_id"),
    TAGS.c.tag.in_(bindparam("_tags", expanding=True)),
)


def save(session: Session, contact: Contact) -> None:
    """Write what was changed of ``contact`` (from `find_or_create`), then detach it.

    One UPDATE of the changed columns (none when nothing changed), and the tags
    added or removed, with Core: the session's flush at commit then has nothing
    of the contact to work out (for most messages, nothing at all). The contact
    leaves the session (with their addresses and tags): change them no more.
    """
    state = inspect(contact)
    changed = {
        key: getattr(contact, key)
        for key in _CONTACT_COLUMNS
        if state.attrs[key].history.has_changes()
    }
    if changed:
        session.execute(_SAVE_CONTACT, {"_id": contact.id, **changed})
    tags = state.attrs.tags.history
    if tags.deleted:  # first: a tag removed and added again is there in the end
        removed = [t.tag for t in tags.deleted]
        session.execute(_REMOVE_TAGS, {"_contact_id": contact.id, "_tags": removed})
    if tags.added:
        added = [{"contact_id": contact.id, "tag": t.tag} for t in tags.added]
        session.execute(TAGS.insert(), added)
    session.expunge(contact)
