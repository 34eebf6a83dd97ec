"""Broadcasts and reply rates per organization, for the coalition's roll-up: one query.

A broadcast counts for the weeks when at least one of its messages was handed
to Twilio in them. The reply rate is the share of the contacts sent a
broadcast message who sent an inbound message within `REPLY_WINDOW` after it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Interval, case, exists, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from bot.broadcasts.models import Broadcast, Delivery
from bot.msgs.models import DIRECTION_IN, DIRECTION_OUT, Message

REPLY_WINDOW = dt.timedelta(hours=72)
NOT_SENT = ("pending", "blocked", "skipped_window")  # recorded, never handed to Twilio


@dataclass(frozen=True)
class Reach:
    broadcasts: int = 0  # broadcasts with a message sent in the period
    sent_to: int = 0  # distinct contacts sent one of them
    replied: int = 0  # of those, who wrote back within REPLY_WINDOW of one

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.sent_to if self.sent_to else None


def _after_window(session: Session, column: ColumnElement[dt.datetime]) -> ColumnElement:
    """``column`` + REPLY_WINDOW, in the database's own date arithmetic."""
    hours = int(REPLY_WINDOW.total_seconds() // 3600)
    if session.get_bind().dialect.name == "sqlite":
        # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff"; datetime() answers in that order.
        return func.strftime("%Y-%m-%d %H:%M:%f", column, f"+{hours} hours")
    return column + literal_column(f"interval '{hours} hours'", Interval)


def reach(session: Session, since: dt.datetime) -> dict[int | None, Reach]:
    """Organization id (None: the coalition's own) -> its broadcasts' reach since ``since``."""
    sent = aliased(Message)
    reply = aliased(Message)
    replied = exists().where(
        reply.contact_id == sent.contact_id,
        reply.direction == DIRECTION_IN,
        reply.created_at > sent.created_at,
        reply.created_at <= _after_window(session, sent.created_at),
    )
    query = (
        select(
            Broadcast.organization_id,
            func.count(Broadcast.id.distinct()),
            func.count(sent.contact_id.distinct()),
            func.count(case((replied, sent.contact_id)).distinct()),
        )
        .select_from(Delivery)
        .join(Broadcast, Broadcast.id == Delivery.broadcast_id)
        .join(sent, sent.id == Delivery.message_id)
        .where(
            sent.direction == DIRECTION_OUT,
            sent.status.not_in(NOT_SENT),
            sent.created_at >= since,
        )
        .group_by(Broadcast.organization_id)
    )
    return {org: Reach(*counts) for org, *counts in session.execute(query)}
