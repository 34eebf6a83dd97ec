"""Replies that cannot go back as TwiML: a WhatsApp turn with buttons or a list.

TwiML's ``<Message>`` carries no ContentSid, so when a reply to a WhatsApp
message has buttons or a list, every reply of that turn is recorded as
``reply_queued`` and the webhook answers with empty TwiML; a job on the
``high`` queue then sends them through the REST API, one after the other in
the order they were written (a confirmation, then the question), the question
by its content (`bot.msgs.contents`), or as its numbered text when the Content
API refuses it or cannot be reached.

Each row is claimed (``reply_queued`` -> ``pending``) before it is sent, so a
job run twice sends nothing twice; replies whose job was lost are sent by the
worker's reconcile pass (``stalled``). When the queue cannot be reached, the
webhook takes the replies back (`take_back`) and answers them as TwiML text.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from bot.channels import twilio
from bot.db import Database, utcnow
from bot.msgs import contents
from bot.msgs.models import STATUS_PENDING, STATUS_REPLIED, STATUS_REPLY_QUEUED, Message
from bot.msgs.sending import Outcome, send_recorded

log = logging.getLogger(__name__)

SEND_REPLIES_JOB = "bot.sending.jobs.send_replies"


def _queued(db: Database, inbound_sid: str) -> list[int]:
    with db.session() as session:
        inbound = session.scalar(select(Message.id).where(Message.sid == inbound_sid))
        if inbound is None:
            return []
        query = (
            select(Message.id)
            .where(Message.in_reply_to_id == inbound, Message.status == STATUS_REPLY_QUEUED)
            .order_by(Message.id)
        )
        return list(session.scalars(query))


def _claim(db: Database, message_id: int, status: str) -> bool:
    """Move one queued reply to ``status``; False when someone else took it first."""
    with db.session() as session:
        claimed = session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == STATUS_REPLY_QUEUED)
            .values(status=status, updated_at=utcnow())
        )
        return claimed.rowcount == 1


def send_queued(db: Database, sender: twilio.Sender, inbound_sid: str) -> list[Outcome]:
    """Send the queued replies to one inbound message, in order (the job's work)."""
    outcomes = []
    for message_id in _queued(db, inbound_sid):
        if not _claim(db, message_id, STATUS_PENDING):
            continue
        outcomes.append(send_recorded(db, sender, message_id, _content_sid(db, sender, message_id)))
    return outcomes


def stalled(db: Database, before: dt.datetime, limit: int = 100) -> list[str]:
    """Inbound messages whose queued replies were written before ``before`` and are
    still waiting: their job was lost (a worker killed, Redis emptied). The worker's
    reconcile pass sends them, so a conversation never stalls."""
    reply = aliased(Message)
    with db.session() as session:
        query = (
            select(Message.sid)
            .join(reply, reply.in_reply_to_id == Message.id)
            .where(reply.status == STATUS_REPLY_QUEUED, reply.created_at < before)
            .group_by(Message.sid)
            .limit(limit)
        )
        return [sid for sid in session.scalars(query) if sid]


def _content_sid(db: Database, sender: twilio.Sender, message_id: int) -> str | None:
    with db.session() as session:
        message = session.get_one(Message, message_id)
        form, language, text = (
            message.extra.get("interactive"),
            message.extra.get("language"),
            message.body,
        )
    if not form:
        return None
    return contents.content_sid_for(db, sender, contents.from_json(form), text, language or "es")


def take_back(db: Database, inbound_sid: str) -> list[tuple[str, list[str]]]:
    """The queue is unreachable: the queued replies become TwiML replies (text and media)."""
    replies = []
    for message_id in _queued(db, inbound_sid):
        if _claim(db, message_id, STATUS_REPLIED):
            with db.session() as session:
                message = session.get_one(Message, message_id)
                replies.append((message.body, [m["url"] for m in message.media]))
    log.warning(
        "inbound %s: queue unreachable, %d replies sent as TwiML", inbound_sid, len(replies)
    )
    return replies
