"""Status callbacks: a message's status only ever moves forward."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.msgs.models import STATUS_ORDER, Message

log = logging.getLogger(__name__)


def moves_forward(current: str, new: str) -> bool:
    """Whether ``new`` may replace ``current`` (a late "sent" never beats "delivered")."""
    return STATUS_ORDER.get(new, -1) > STATUS_ORDER.get(current, -1)


def apply_callback(
    session: Session, sid: str, status: str, error_code: int | None, now: dt.datetime
) -> Message | None:
    """Record a status callback on the message with this SID; None if unknown."""
    message = session.scalar(select(Message).where(Message.sid == sid).with_for_update())
    if message is None:
        log.info("status callback for unknown message %s", sid)
        return None
    if moves_forward(message.status, status):
        message.status = status
        message.updated_at = now
    if error_code and message.error_code is None:
        message.error_code = error_code
    return message
