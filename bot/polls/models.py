"""A broadcast's poll and each person's answer to it (the latest one counts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, utcnow


class Poll(Base):
    """The choices a broadcast asks its recipients to pick from."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), unique=True
    )
    # In order (their numbers 1..n): [{"value": "si", "es": "SÍ", "en": "YES"}, …]
    choices: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def choice(self, value: str) -> dict[str, Any] | None:
        return next((c for c in self.choices if c["value"] == value), None)

    @staticmethod
    def label(choice: dict[str, Any], language: str) -> str:
        return str(choice.get(language) or choice.get("es") or choice.get("en") or "")


class PollAnswer(Base):
    """One person's answer: unique per (poll, contact), so a new answer replaces the old one
    and ``changed_from`` keeps what it was."""

    __tablename__ = "poll_answers"
    __table_args__ = (UniqueConstraint("poll_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    # NULL once the contact is erased: the answer still counts, with nobody behind it.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    choice: Mapped[str] = mapped_column(String(64))  # the choice's value
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str | None] = mapped_column(String(16))
    # The partner who brought the contact (answers by partner); NULL: the coalition.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_from: Mapped[str | None] = mapped_column(String(64))  # the answer before, if any
    message_sid: Mapped[str | None] = mapped_column(String(64))
