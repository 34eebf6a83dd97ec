"""Status callbacks: a message's status only ever moves forward."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.msgs.models import STATUS_ORDER, EarlyCallback, Message

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
        # Twilio can call back before our record of the send is committed: keep it.
        session.add(EarlyCallback(sid=sid, status=status, error_code=error_code, received_at=now))
        log.info("status callback before its send was recorded: %s kept", sid)
        return None
    _move(message, status, error_code, now)
    return message


def _move(message: Message, status: str, error_code: int | None, now: dt.datetime) -> None:
    if moves_forward(message.status, status):
        message.status = status
        message.updated_at = now
    if error_code and message.error_code is None:
        message.error_code = error_code


def apply_early_callbacks(session: Session, message: Message, now: dt.datetime) -> list[int]:
    """Apply callbacks that beat the record of this send; returns their error codes."""
    if not message.sid:
        return []
    early = session.scalars(select(EarlyCallback).where(EarlyCallback.sid == message.sid)).all()
    for callback in early:
        _move(message, callback.status, callback.error_code, now)
        session.delete(callback)
    return [c.error_code for c in early if c.error_code]
