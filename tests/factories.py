"""Test factories, as RapidPro writes them: one ``create_*`` per thing a test needs.

Each writes straight to the database (no webhook, no flow) and returns the new
row's id; the keyword options say how the thing differs from the usual one.
Two look-ups read back what a test made: ``contact_by_phone`` and
``delivery_statuses``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from bot import phones
from bot.broadcasts import broadcast
from bot.broadcasts.audiences import Filters
from bot.broadcasts.models import Delivery
from bot.contacts.identity import find_by_phone
from bot.contacts.models import Address, ConsentEvent, Contact, ContactTag
from bot.db import Database, utcnow
from bot.msgs.models import Message
from bot.reports.models import Report

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

# The broadcasts' clock: created and sent at NOW unless a test says otherwise.
NOW = dt.datetime(2026, 6, 3, 18, 0, tzinfo=dt.UTC)  # 13:00 in Chicago, 12:00 in CDMX
TEMPLATE = "HX" + "b" * 32  # an approved WhatsApp template's Content SID

DASHBOARD_PASSWORD = "una frase larga y secreta"


# --- contacts ---------------------------------------------------------------------


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
    """A contact as if they had joined by text at ``created_at`` (default: now).

    Country, region and zone come from the number; one address per channel
    (``last_inbound_at``: when they last wrote on it, which opens WhatsApp's
    24-hour window); ``opted_in``: an opt-in on record at ``created_at``.
    """
    joined = created_at or utcnow()
    facts = phones.facts(phone)
    with db.session() as session:
        contact = Contact(
            phone=phone, language=language, language_chosen=True, status=status,
            country=facts.country, region=facts.region, timezone=facts.timezone,
            profile_name=name, fields=fields or {}, created_at=joined, last_seen_at=joined,
            opted_in_at=joined if opted_in else None,
        )  # fmt: skip
        for channel in channels:
            contact.addresses.append(
                Address(
                    channel=channel,
                    address=phones.address_for(channel, phone),
                    last_inbound_at=last_inbound_at,
                    created_at=joined,
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
                    source="flow:join", created_at=joined,
                )
            )  # fmt: skip
        return contact.id


def contact_by_phone(db: Database, phone: str) -> Contact | None:
    """The contact with this number, read in a session of its own (None: no such contact)."""
    with db.session() as session:
        return find_by_phone(session, phone)


# --- conversations ----------------------------------------------------------------


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


def create_report(
    db: Database, contact_id: int | None, *, columns: dict[str, Any] | None = None, **data: str
) -> int:
    """A report the contact filed through the report flow, with these answers.

    ``columns`` sets the report's own fields (status, adm1, latitude…).
    """
    with db.session() as session:
        values = {"created_at": utcnow(), **(columns or {})}
        answers = {"kind": "incident", "answers": data, "language": "es", "channel": "sms"}
        report = Report(contact_id=contact_id, flow_id="report", data=answers, **values)
        session.add(report)
        session.flush()
        return report.id


# --- broadcasts -------------------------------------------------------------------


def create_broadcast(
    db: Database,
    texts: Mapping[str, str] | None = None,
    filters: Filters | None = None,
    send: bool = True,
    **options: Any,
) -> int:
    """A broadcast created at NOW (``now=`` to change) and, unless ``send=False``, sent."""
    texts = texts or {"en": "March on Saturday", "es": "Marcha el sábado"}
    with db.session() as session:
        created = broadcast.create(
            session, "test", texts, filters or Filters(), now=options.pop("now", NOW), **options
        )
        if send:
            broadcast.send(session, created.id, NOW)
        return created.id


def delivery_statuses(db: Database, broadcast_id: int) -> dict[int, str]:
    """contact id -> the status of the broadcast's delivery to them."""
    with db.session() as session:
        rows = session.execute(
            select(Delivery.contact_id, Delivery.status).where(
                Delivery.broadcast_id == broadcast_id
            )
        ).all()
        return dict(rows)


# --- dashboard users --------------------------------------------------------------


def create_user(db: Database, role: str, language: str = "en", **fields: Any) -> int:
    """A dashboard user ``<role>@puente.example.org`` with DASHBOARD_PASSWORD (once per email)."""
    from bot.accounts import users

    email = fields.pop("email", f"{role}@puente.example.org")
    with db.session() as session:
        user = users.find_by_email(session, email) or users.create_user(
            session, email, role.title(), DASHBOARD_PASSWORD, role, language
        )
        for name, value in fields.items():
            setattr(user, name, value)
        return user.id


# --- partners ---------------------------------------------------------------------


def create_partner(
    db: Database,
    slug: str,
    keyword_es: str,
    keyword_en: str,
    name_es: str | None = None,
    name_en: str | None = None,
    **fields: Any,
) -> int:
    """A partner of the coalition with one join keyword per language; returns its id."""
    from bot.partners import organizations
    from bot.partners.organizations import PartnerFields

    with db.session() as session:
        partner = organizations.create(
            session,
            slug,
            PartnerFields(
                name_es=name_es or f"{slug.title()} ES",
                name_en=name_en or f"{slug.title()} EN",
                keywords={"es": [keyword_es], "en": [keyword_en]},
                **fields,
            ),
            None,
            utcnow(),
        )
        return partner.id


def add_member(db: Database, contact_id: int, partner_id: int, status: str = "member") -> None:
    """Make a contact a member of a partner (no consent line: the test's own setup)."""
    from bot.partners.models import Membership

    with db.session() as session:
        session.add(
            Membership(
                contact_id=contact_id, organization_id=partner_id, status=status,
                source="test", joined_at=utcnow(), extra={},
            )
        )  # fmt: skip


# --- events -------------------------------------------------------------------------


def create_event(
    db: Database,
    names: tuple[str, str] = ("Cumbre", "Summit"),
    keywords: dict[str, list[str]] | None = None,
    starts_in: dt.timedelta = dt.timedelta(days=9),
    **fields: Any,
) -> int:
    """An event (Spanish, English name) with RSVP keywords (default CUMBRE / SUMMIT); its id."""
    from bot.broadcasts import events

    with db.session() as session:
        event = events.create_event(
            session,
            {"es": names[0], "en": names[1]},
            {"es": "Ciudad Juárez", "en": "Ciudad Juárez"},
            utcnow() + starts_in,
            "America/Ojinaga",
            keywords={"es": ["CUMBRE"], "en": ["SUMMIT"]} if keywords is None else keywords,
            **fields,
        )
        return event.id
