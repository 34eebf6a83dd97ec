"""Joining and leaving a partner, each written to the consent log for that partner.

The coalition's own consent is the contact's opt-in (`bot.contacts.consent`);
a partner's is a `Membership` row plus consent lines with its
``organization_id``. STOP is not here: it ends everything from every number
(see README, "What STOP means").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.contacts.consent import log
from bot.contacts.models import CONSENT_OPT_IN, CONSENT_OPT_OUT, CONSENT_RE_OPT_IN, Contact
from bot.partners.models import LEFT, MEMBER, Membership, Organization


def membership(session: Session, contact: Contact, partner: Organization) -> Membership | None:
    return session.get(Membership, (contact.id, partner.id))


def join(
    session: Session,
    contact: Contact,
    partner: Organization,
    now: dt.datetime,
    *,
    source: str,
    first_time: bool,
    new_contact: bool = False,
    **how: str | None,
) -> str:
    """Make the contact a member of ``partner``; returns the consent kind logged.

    ``first_time``: this is how they came to the coalition, so the partner is
    recorded as who brought them (`Contact.joined_via_id`, never changed after).
    ``new_contact``: made by this message, so a member of nothing yet (no lookup).
    """
    row = None if new_contact else membership(session, contact, partner)
    kind = CONSENT_OPT_IN
    if row is None:
        session.add(
            Membership(
                contact_id=contact.id,
                organization_id=partner.id,
                status=MEMBER,
                source=source,
                joined_at=now,
                extra={},
            )
        )
    elif row.status == LEFT:
        row.status, row.left_at, kind = MEMBER, None, CONSENT_RE_OPT_IN
    if first_time and contact.joined_via_id is None:
        contact.joined_via_id = partner.id
    entry = log(session, contact, kind, now, source=source, **how)  # type: ignore[arg-type]
    entry.organization_id = partner.id
    return kind


def leave(
    session: Session, contact: Contact, partner: Organization, now: dt.datetime, **how: str | None
) -> bool:
    """The contact leaves ``partner`` only; False when they were not a member."""
    row = membership(session, contact, partner)
    if row is None or row.status != MEMBER:
        return False
    row.status, row.left_at = LEFT, now
    entry = log(session, contact, CONSENT_OPT_OUT, now, source="leave", **how)  # type: ignore[arg-type]
    entry.organization_id = partner.id
    return True


def partners_of(session: Session, contact_id: int) -> list[Organization]:
    """The partners the contact is a member of now."""
    return list(
        session.scalars(
            select(Organization)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.contact_id == contact_id, Membership.status == MEMBER)
            .order_by(Organization.slug)
        )
    )


def import_member(
    session: Session,
    contact: Contact,
    partner_id: int,
    consented_at: dt.datetime,
    *,
    source: str,
    channel: str | None,
) -> Membership | None:
    """A list row names a partner: the contact becomes its member, with a consent line for it.

    The row's own consent (source and date) is the partner's consent. A list
    never undoes a leave, as it never undoes a STOP: one who left stays out
    (None is returned then).
    """
    row = session.get(Membership, (contact.id, partner_id))
    if row is not None:
        return None if row.status == LEFT else row
    row = Membership(
        contact_id=contact.id, organization_id=partner_id, status=MEMBER,
        source="import", joined_at=consented_at, extra={},
    )  # fmt: skip
    session.add(row)
    if contact.joined_via_id is None and contact.opted_in_at == consented_at:
        contact.joined_via_id = partner_id  # the list is how they came to the coalition
    entry = log(
        session, contact, CONSENT_OPT_IN, consented_at, source=f"import:{source}"[:64],
        channel=channel, words=source[:500],
    )  # fmt: skip
    entry.organization_id = partner_id
    return row
