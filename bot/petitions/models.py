"""Petitions and their signatures.

A petition's keywords live with the partners' in ``organization_keywords``
(``petition_id`` set): one namespace, so the database itself refuses a
keyword that is already a partner's or another petition's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, utcnow

PETITION_OPEN = "open"  # signing
PETITION_CLOSED = "closed"  # delivered or ended: its keywords answer that it is closed


class Petition(Base):
    """A petition or sign-on letter, in both languages, to a US or Mexican target."""

    __tablename__ = "petitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)  # {PUBLIC_URL}/p/<slug>
    titles: Mapped[dict[str, str]] = mapped_column(JSON)  # language -> title
    texts: Mapped[dict[str, str]] = mapped_column(JSON)  # language -> what it asks
    target: Mapped[str] = mapped_column(String(256))  # "Secretaría de Relaciones Exteriores"
    target_country: Mapped[str | None] = mapped_column(String(2))  # US or MX
    goal: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default=PETITION_OPEN)
    # Whose petition: a partner's, or NULL for the coalition's.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def title(self, language: str) -> str:
        return self.titles.get(language) or next(iter(self.titles.values()), self.slug)


class Signature(Base):
    """One person's signature: the unique key is what makes it once, whatever retries."""

    __tablename__ = "signatures"
    __table_args__ = (
        UniqueConstraint("petition_id", "contact_id"),
        Index("ix_signatures_petition_created", "petition_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    # NULL once the contact is erased: the signature still counts, with nobody behind it.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    name: Mapped[str | None] = mapped_column(String(128))  # as signed, for delivery
    postal_code: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(64))  # state: "MX-BCN"
    # The partner who brought the signer (for "signatures by partner"); NULL: the coalition.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))  # "keyword:FIRMO", "broadcast:12"
    message_sid: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
