"""Broadcasts, their deliveries, saved audiences, events, RSVPs and reminders.

The database is the source of truth for every broadcast: a delivery row per
(broadcast, contact), unique, says what happened to that contact. Redis only
holds the jobs that move deliveries forward; losing it loses no message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, utcnow


def _organization() -> ForeignKey:
    """Whose row it is: a partner's, or NULL for the coalition's."""
    return ForeignKey("organizations.id", ondelete="RESTRICT")


# Broadcast.status
BROADCAST_DRAFT = "draft"  # being written; nothing queued
BROADCAST_SCHEDULED = "scheduled"  # starts at send_at (the worker's reconcile starts it)
BROADCAST_SENDING = "sending"  # fan-out and sending in progress
BROADCAST_PAUSED = "paused"  # jobs stop; resume re-queues what is left
BROADCAST_CANCELED = "canceled"  # what was not sent never will be
BROADCAST_DONE = "done"  # every delivery reached a final state
BROADCAST_OPEN = "open"  # a reminder series: new contacts keep being added
ACTIVE_BROADCAST_STATUSES = (BROADCAST_SENDING, BROADCAST_OPEN)

# Delivery.status: the engine's state; Twilio's later statuses live on the Message.
DELIVERY_PENDING = "pending"  # written by fan-out, not yet tried
DELIVERY_QUEUED = "queued"  # waiting: quiet hours, a retry backoff or a paused sender
DELIVERY_SENDING = "sending"  # claimed; the API call may be in flight (set before it)
DELIVERY_SENT = "sent"  # Twilio accepted it (message_id has the SID)
DELIVERY_UNKNOWN = "unknown"  # the API call's fate is unknown: reconcile asks Twilio
DELIVERY_FAILED = "failed"  # Twilio refused it for good (21610, 21211, retries exhausted)
DELIVERY_BLOCKED = "blocked"  # the sending module refused: opted out or invalid
DELIVERY_SKIPPED_OPTED_OUT = "skipped_opted_out"  # opted out or invalid before sending
DELIVERY_SKIPPED_NO_CONSENT = "skipped_no_consent"  # no opt-in on record
DELIVERY_SKIPPED_WINDOW = "skipped_window"  # WhatsApp outside 24 h and no template
DELIVERY_SKIPPED_EXPIRED = "skipped_expired"  # its quiet-hours window came too late
DELIVERY_SKIPPED_CANCELED = "skipped_canceled"  # the broadcast was canceled first
OPEN_DELIVERY_STATUSES = (DELIVERY_PENDING, DELIVERY_QUEUED)
UNSETTLED_DELIVERY_STATUSES = (
    DELIVERY_PENDING,
    DELIVERY_QUEUED,
    DELIVERY_SENDING,
    DELIVERY_UNKNOWN,
)

# Reminder.kind
REMINDER_EVENT = "event"  # offset from an event's start, to contacts who RSVP'd yes
REMINDER_JOINED = "joined"  # offset from each contact's join date (a welcome series)

RSVP_YES = "yes"
RSVP_NO = "no"
RSVP_MAYBE = "maybe"  # gets reminders too: the RSVP flow promises one
RSVP_ANSWERS = (RSVP_YES, RSVP_NO, RSVP_MAYBE)


class Audience(Base):
    """A saved set of filters (see bot.broadcasts.audiences.Filters)."""

    __tablename__ = "audiences"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    organization_id: Mapped[int | None] = mapped_column(_organization(), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Broadcast(Base):
    """One message to an audience, in each contact's language."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=BROADCAST_DRAFT, index=True)
    # Whose broadcast: a partner's goes to its members, from its sender, with its name.
    organization_id: Mapped[int | None] = mapped_column(_organization(), index=True)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)  # copied from the audience
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id"))
    texts: Mapped[dict[str, str]] = mapped_column(JSON)  # language -> text
    default_language: Mapped[str] = mapped_column(String(8))
    channels: Mapped[list[str]] = mapped_column(JSON)  # in order of preference
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Its http(s) URLs become per-recipient short links (bot.links); off: sent as written.
    track_links: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    content_sid: Mapped[str | None] = mapped_column(String(64))  # WhatsApp template
    content_variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    flow_id: Mapped[str | None] = mapped_column(String(64))  # replies go to this flow
    # The petition it carries: replying YES signs it (flow_id is then "petition").
    petition_id: Mapped[int | None] = mapped_column(ForeignKey("petitions.id", ondelete="SET NULL"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"), unique=True)
    send_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # e.g. the event start
    fanout_done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An A/B test (bot.broadcasts.variants): ``texts`` is variant A, these are B.
    variant_texts: Mapped[dict[str, str] | None] = mapped_column(JSON)  # language -> text
    test_share: Mapped[int | None] = mapped_column(Integer)  # percent tested; the rest waits
    split_seed: Mapped[int | None] = mapped_column(Integer)  # the split is (seed, contact)
    # The winner of an A/B test, sent to the rest of its audience.
    winner_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="SET NULL"), index=True
    )
    winner_variant: Mapped[str | None] = mapped_column(String(1))  # "A" or "B"


class Delivery(Base):
    """One broadcast to one contact: the unique key is what makes it once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "contact_id"),
        Index("ix_deliveries_broadcast_batch_status", "broadcast_id", "batch", "status"),
        Index("ix_deliveries_status_claimed", "status", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    batch: Mapped[int] = mapped_column(Integer)  # one send job handles one batch
    status: Mapped[str] = mapped_column(String(24), default=DELIVERY_PENDING)
    send_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # quiet hours, backoff
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # set before the API call
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    error_code: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    variant: Mapped[str | None] = mapped_column(String(1))  # "A"/"B" in an A/B test, else None


class Event(Base):
    """A meeting, march or clinic, named in both languages."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    names: Mapped[dict[str, str]] = mapped_column(JSON)  # language -> name
    organization_id: Mapped[int | None] = mapped_column(_organization(), index=True)
    places: Mapped[dict[str, str]] = mapped_column(JSON)  # language -> place
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64))  # where it happens
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rsvp(Base):
    """One person's answer to one event (by its keyword, the RSVP flow or the CLI)."""

    __tablename__ = "rsvps"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    answer: Mapped[str] = mapped_column(String(8))  # yes / no / maybe: the latest counts
    guests: Mapped[int | None] = mapped_column(Integer)  # coming with them, when they said
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reminder(Base):
    """A message at an offset: before an event, or after each contact joined.

    An event reminder becomes one broadcast when it is due (Broadcast.reminder_id
    is unique, so it fires once). A "joined" reminder owns one open broadcast
    that gains a delivery for each contact as they become due.
    """

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    offset_s: Mapped[int] = mapped_column(Integer)  # negative: before the event
    texts: Mapped[dict[str, str]] = mapped_column(JSON)  # may use {name} {place} {when}
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # joined: who
    name: Mapped[str] = mapped_column(String(128), default="")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
