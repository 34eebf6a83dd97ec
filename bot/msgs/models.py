"""Every inbound and outbound message, and its delivery status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, utcnow

DIRECTION_IN = "in"
DIRECTION_OUT = "out"

# Outbound statuses in the order they can happen; callbacks only move forward.
STATUS_PENDING = "pending"  # recorded, not yet handed to Twilio
STATUS_BLOCKED = "blocked"  # not sent: contact opted out / invalid (recorded, never sent)
STATUS_REPLIED = "replied"  # sent back as TwiML in the webhook response
STATUS_REPLY_QUEUED = (
    "reply_queued"  # a reply with WhatsApp buttons: for the REST API (bot.msgs.replies)
)
STATUS_RECEIVED = "received"  # inbound
STATUS_ORDER = {
    "pending": 0,
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    "read": 6,
    # Final failures outrank anything but read/delivered confirmations.
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
    "partially_delivered": 5,
}


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    direction: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[Any]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # location, button…
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)  # Twilio MessageSid
    in_reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    status: Mapped[str] = mapped_column(String(24), index=True)
    error_code: Mapped[int | None] = mapped_column()
    error_message: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[str | None] = mapped_column(String(64))  # "stop", "flow:join", None
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EarlyCallback(Base):
    """A status callback that arrived before its send was recorded (kept, then applied)."""

    __tablename__ = "early_callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24))
    error_code: Mapped[int | None] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WhatsAppContent(Base):
    """A Content API content made for one question's buttons or list (``HX…``), made once.

    ``hash`` covers everything the content says (kind, language, text, options):
    the same question in the same language reuses its content for everyone.
    """

    __tablename__ = "whatsapp_contents"

    id: Mapped[int] = mapped_column(primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256, hex
    content_sid: Mapped[str] = mapped_column(String(34))
    kind: Mapped[str] = mapped_column(String(16))  # "quick_reply" or "list_picker"
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
