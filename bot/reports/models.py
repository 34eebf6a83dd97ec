"""Incident reports, their notes, and where each one stands on the reporting desk.

A report is restricted by default: the reporter (``contact_id``) and the exact
place (``latitude``/``longitude``) are for admins and verifiers only; everyone
else sees the municipality or the place snapped to a grid of about 1 km
(``bot.reports.privacy``). Only a published report leaves the desk.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, utcnow

# Report.status: the verification workflow (bot.reports.workflow moves a report along it).
REPORT_NEW = "new"  # nobody has looked at it yet
REPORT_TRIAGED = "triaged"  # read, categorized, given a place and an assignee
REPORT_VERIFYING = "verifying"  # someone is checking it
REPORT_VERIFIED = "verified"  # checked and confirmed
REPORT_NOT_VERIFIED = "not_verified"  # checked; could not be confirmed
REPORT_DUPLICATE = "duplicate"  # the same incident as another report (duplicate_of_id)
REPORT_PUBLISHED = "published"  # verified and shown outside the desk
REPORT_ARCHIVED = "archived"  # closed; kept for the record until retention purges it
REPORT_STATUSES = (
    REPORT_NEW,
    REPORT_TRIAGED,
    REPORT_VERIFYING,
    REPORT_VERIFIED,
    REPORT_NOT_VERIFIED,
    REPORT_DUPLICATE,
    REPORT_PUBLISHED,
    REPORT_ARCHIVED,
)


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The reporter; NULL when they chose to report anonymously, or were erased.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    flow_id: Mapped[str] = mapped_column(String(64))
    # The partner whose desk it goes to (the place's, or the reporter's); NULL: the coalition's.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # the flow's answers, as given
    status: Mapped[str] = mapped_column(String(16), default=REPORT_NEW, index=True)
    category: Mapped[str | None] = mapped_column(String(64), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where: what the reporter wrote, an exact pin (admins and verifiers only), and
    # the place it resolved to: ISO 3166-2 state (MX-BCN, US-TX) and municipality.
    place_text: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    adm1: Mapped[str | None] = mapped_column(String(8), index=True)
    adm2: Mapped[str | None] = mapped_column(String(128))
    outside_area: Mapped[bool] = mapped_column(Boolean, default=False)  # a pin abroad: flagged
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("reports.id", ondelete="SET NULL")
    )
    # Split duties: whoever verified a report cannot also publish it.
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # personal fields gone
    # An urgent report's alert to the desk's on-call organizer: when, and what happened.
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    notify_result: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def answers(self) -> dict[str, Any]:
        """The flow's answers (``data`` also says which flow step kind, language, channel)."""
        answers = (self.data or {}).get("answers")
        return dict(answers) if isinstance(answers, dict) else {}


class OnCall(Base):
    """Who gets urgent reports' alerts at once, per desk (a partner, or NULL: the coalition)."""

    __tablename__ = "report_on_call"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportNote(Base):
    """A desk member's note on a report (what was checked, with whom, what is left)."""

    __tablename__ = "report_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# ReportMedia.status: a file the reporter sent, on its way from Twilio into Puente's storage.
MEDIA_PENDING = "pending"  # at Twilio still; the worker fetches it (and retries)
MEDIA_STORED = "stored"  # in Puente's storage (``key``); deleted from Twilio
MEDIA_REFUSED = "refused"  # too large or of a type not kept; deleted from Twilio, reporter told
MEDIA_FAILED = "failed"  # could not be fetched after every attempt; the report is kept without it


class ReportMedia(Base):
    """A photo, audio or video the reporter sent during the report flow (restricted)."""

    __tablename__ = "report_media"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    # Where it came from, only until it is handled: the inbound message (to forget
    # Twilio's URL there) and the reporter (to tell them about a refused file, even
    # when they report anonymously). Both are cleared once the file is handled.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    twilio_url: Mapped[str | None] = mapped_column(Text)  # cleared once deleted from Twilio
    content_type: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=MEDIA_PENDING, index=True)
    key: Mapped[str | None] = mapped_column(String(64), unique=True)  # the file's name in storage
    size: Mapped[int | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(200))  # why refused or failed (no content)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
