"""Organizations (the coalition and its partners), their keywords and members.

The deploying organization is the coalition: the root, one row with no
parent, made by the migration. Every partner has the coalition as parent. A
contact who texts a partner's keyword becomes a member of both: the coalition
through their opt-in (`Contact.opted_in_at`), the partner through a
`Membership` row. Rows that belong to an organization (broadcasts, audiences,
events, reports) carry ``organization_id``; NULL there means the coalition's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, UTCDateTime, utcnow

ROOT_SLUG = "coalition"  # the root's slug, made by migration 0006

# Membership.status
MEMBER = "member"
LEFT = "left"  # LEAVE <KEYWORD>: no longer gets this partner's broadcasts


class Organization(Base):
    """The coalition (``parent_id`` NULL) or one of its partners."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)  # in URLs: /j/<slug>
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    name_es: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    country: Mapped[str | None] = mapped_column(String(2))  # "US", "MX"
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO 3166-2: "MX-BCN"
    # Its own sender, for a partner with its own registration (else the coalition's).
    sender: Mapped[str | None] = mapped_column(String(20))  # E.164 Twilio number
    messaging_service_sid: Mapped[str | None] = mapped_column(String(34))  # MG…
    help_contact: Mapped[str | None] = mapped_column(Text)  # in its HELP reply
    legal_help: Mapped[str | None] = mapped_column(Text)  # in its rights flows
    archived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Its join keywords (its petitions' and events' keywords are theirs).
    keywords: Mapped[list[OrganizationKeyword]] = relationship(
        primaryjoin="and_(Organization.id == OrganizationKeyword.organization_id, "
        "OrganizationKeyword.petition_id.is_(None), OrganizationKeyword.event_id.is_(None))",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="OrganizationKeyword.keyword",
    )

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    def name(self, language: str) -> str:
        return self.name_es if language == "es" else self.name_en

    def keywords_for(self, language: str) -> list[str]:
        return [k.keyword for k in self.keywords if k.language == language]


class OrganizationKeyword(Base):
    """A keyword, in one language, unique across the coalition: a partner's join keyword,
    a petition's signing keyword (``petition_id`` set) or an event's RSVP keyword
    (``event_id`` set), owned by that organization."""

    __tablename__ = "organization_keywords"

    keyword: Mapped[str] = mapped_column(String(40), primary_key=True)  # normalized, upper
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(8))
    petition_id: Mapped[int | None] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )


class Membership(Base):
    """A contact belongs to a partner (the coalition's membership is the opt-in itself).

    The ``contact_*`` and ``has_*`` columns are copies of what a partner's
    audience count reads (the contact's status, opt-in, language, country and
    channels), so that count reads one range of ``ix_memberships_reach``
    instead of probing contacts spread over the whole coalition. Database
    triggers (migration 0011) keep them equal to the contact and its addresses
    in the same transaction as every change to them; nothing in the code
    writes them. Read them only through `bot.broadcasts.audiences`.
    """

    __tablename__ = "memberships"
    __table_args__ = (
        Index("ix_memberships_org_status_contact", "organization_id", "status", "contact_id"),
        Index(
            "ix_memberships_reach",
            "organization_id",
            "status",
            "contact_status",
            "contact_opted_in",
            "has_whatsapp",
            "has_sms",
            "contact_language",
            "contact_country",
        ),
    )

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(8), default=MEMBER)
    source: Mapped[str] = mapped_column(String(64))  # "keyword", "import", "link"…
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Copies kept by triggers (see above); never set them here.
    contact_status: Mapped[str | None] = mapped_column(String(16))
    contact_opted_in: Mapped[bool | None] = mapped_column()
    contact_language: Mapped[str | None] = mapped_column(String(8))
    contact_country: Mapped[str | None] = mapped_column(String(2))
    has_sms: Mapped[bool | None] = mapped_column()
    has_whatsapp: Mapped[bool | None] = mapped_column()
