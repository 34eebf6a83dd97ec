"""Referral kits: visits of a partner's join link, and who joined through it.

A visit of ``/j/<slug>`` adds one to a daily counter per partner, language and
channel. Nothing else is kept: no IP address, no user agent, no phone number,
no time finer than the day, so a row cannot be tied to a person. Joins are not
counted here: they are the partner's memberships (``Membership.source``,
``joined_at``), made when the keyword is texted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Date, ForeignKey, String, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.contacts.models import Contact
from bot.db import Base
from bot.partners.models import MEMBER, Membership, OrganizationKeyword

CHANNELS = ("sms", "whatsapp")
ANY_CHANNEL = "any"  # the link named no channel: the page offered both
KEYWORD_SOURCE = "keyword"  # Membership.source of a join by text: "keyword:FRONTERA"
RECENT_DAYS = 30


class ReferralVisit(Base):
    """How many times a partner's join page was opened on one day, per language and channel."""

    __tablename__ = "referral_visits"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # UTC
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)  # sms, whatsapp, any
    visits: Mapped[int] = mapped_column(default=0)


def count_visit(
    session: Session, organization_id: int, language: str, channel: str, now: dt.datetime
) -> None:
    """Add one visit; concurrent visits add up (one upsert, no read first)."""
    values = {
        "organization_id": organization_id,
        "day": now.astimezone(dt.UTC).date(),
        "language": language,
        "channel": channel if channel in CHANNELS else ANY_CHANNEL,
        "visits": 1,
    }
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(ReferralVisit).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["organization_id", "day", "language", "channel"],
        set_={"visits": ReferralVisit.visits + 1},
    )
    session.execute(statement)


@dataclass
class PartnerCounts:
    """What the partners page shows of one partner's growth."""

    members: int = 0  # members now
    joined_recently: int = 0  # memberships started in the last RECENT_DAYS days
    visits: dict[str, int] = field(default_factory=dict)  # language -> link visits
    visits_by_channel: dict[tuple[str, str], int] = field(default_factory=dict)
    keyword_joins: dict[str, int] = field(default_factory=dict)  # keyword's language -> joins


def counts(session: Session, now: dt.datetime) -> dict[int, PartnerCounts]:
    """Counts for every organization that has any, by organization id (grouped queries)."""
    found: dict[int, PartnerCounts] = defaultdict(PartnerCounts)
    members = session.execute(
        select(Membership.organization_id, func.count())
        .where(Membership.status == MEMBER)
        .group_by(Membership.organization_id)
    )
    for organization_id, n in members:
        found[organization_id].members = n
    recent = session.execute(
        select(Membership.organization_id, func.count())
        .where(Membership.joined_at >= now - dt.timedelta(days=RECENT_DAYS))
        .group_by(Membership.organization_id)
    )
    for organization_id, n in recent:
        found[organization_id].joined_recently = n
    # A join by text is recorded as "keyword:<FORM>"; the keyword's own language counts it
    # (the contact's language when the keyword is no longer the partner's).
    languages = {
        (k.organization_id, k.keyword): k.language
        for k in session.scalars(
            select(OrganizationKeyword).where(
                OrganizationKeyword.petition_id.is_(None), OrganizationKeyword.event_id.is_(None)
            )
        )
    }
    by_keyword = session.execute(
        select(Membership.organization_id, Membership.source, Contact.language, func.count())
        .join(Contact, Contact.id == Membership.contact_id)
        .where(Membership.source.like(f"{KEYWORD_SOURCE}:%"))
        .group_by(Membership.organization_id, Membership.source, Contact.language)
    )
    for organization_id, source, contact_language, n in by_keyword:
        form = source.removeprefix(f"{KEYWORD_SOURCE}:")
        language = languages.get((organization_id, form), contact_language)
        joins = found[organization_id].keyword_joins
        joins[language] = joins.get(language, 0) + n
    visits = session.execute(
        select(
            ReferralVisit.organization_id,
            ReferralVisit.language,
            ReferralVisit.channel,
            func.sum(ReferralVisit.visits),
        ).group_by(ReferralVisit.organization_id, ReferralVisit.language, ReferralVisit.channel)
    )
    for organization_id, language, channel, n in visits:
        partner = found[organization_id]
        partner.visits[language] = partner.visits.get(language, 0) + int(n)
        partner.visits_by_channel[(language, channel)] = int(n)
    return dict(found)
