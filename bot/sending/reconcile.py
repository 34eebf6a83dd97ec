"""Reconcile: make the queue match the database, on worker start and every tick.

The database says what is left; Redis may have lost it (a restart with no
data, a worker killed mid-job). Reconcile, one run at a time across workers
(a lock in Redis), in `run`'s order:

1. starts scheduled broadcasts that are due (`start_due`);
2. fires due event reminders (`events.fire_due`);
3. settles deliveries left "sending" or "unknown" by a process that died
   during the API call: it looks for the message at Twilio (by To, since the
   claim) and never sends again what Twilio already has (`settle_unknown`);
4. queues a fan-out, or a reminder series' fan-out for its newly due contacts,
   wherever there is one to do and no job's lease (`queue_fan_outs`);
5. queues a send job for every batch with deliveries left and no lease
   (`queue_batches`);
6. marks broadcasts done when nothing is left to send or settle (`finish`);
7. runs the timeout path of conversations whose wait has expired
   (`expire_flow_waits`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from typing import Any

import redis
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from bot import conversations, phones
from bot.broadcasts import broadcast, events
from bot.broadcasts.models import (
    ACTIVE_BROADCAST_STATUSES,
    BROADCAST_OPEN,
    BROADCAST_SCHEDULED,
    BROADCAST_SENDING,
    DELIVERY_QUEUED,
    DELIVERY_SENDING,
    DELIVERY_SENT,
    DELIVERY_UNKNOWN,
    OPEN_DELIVERY_STATUSES,
    Broadcast,
    Delivery,
)
from bot.channels import twilio
from bot.contacts.models import Contact
from bot.msgs import replies
from bot.msgs.models import DIRECTION_OUT, STATUS_PENDING, Message
from bot.reports import media, retention, storage, urgent
from bot.sending import queueing
from bot.sending.process import Runtime

log = logging.getLogger(__name__)

LOCK_KEY = "puente:reconcile:lock"
LOCK_S = 120
STALLED_AFTER = dt.timedelta(seconds=60)  # a reply job normally runs within a second


def run(runtime: Runtime, connection: redis.Redis, now: dt.datetime) -> dict[str, int]:
    """One reconcile pass; returns what it did (for logs and tests)."""
    token = str(now.timestamp())
    if not connection.set(LOCK_KEY, token, nx=True, ex=LOCK_S):
        return {"skipped": 1}
    try:
        done = {"started": start_due(runtime, now)}
        done["reminders"] = events.fire_due(runtime.db, now)
        done["settled"] = settle_unknown(runtime, now)
        done["fanouts"] = queue_fan_outs(runtime, connection, now)
        done["batches"] = queue_batches(runtime, connection, now)
        done["finished"] = finish(runtime, now)
        done["flow_timeouts"] = expire_flow_waits(runtime, now)
        done["stalled_replies"] = send_stalled_replies(runtime, now)
        done["urgent_alerts"] = urgent.notify_due(
            runtime.db, runtime.sender, runtime.config["PUBLIC_URL"], now
        )
        store = storage.store_for(runtime.config)
        done["report_media"] = media.fetch_due(
            runtime.db, runtime.sender, store, int(runtime.config["MEDIA_MAX_BYTES"]), now
        )
        done["reports_purged"] = retention.purge_due(
            runtime.db,
            now,
            int(runtime.config.get("REPORT_RETENTION_DAYS") or 0),
            store=store,
            sender=runtime.sender,
        )
    finally:
        if connection.get(LOCK_KEY) == token.encode():
            connection.delete(LOCK_KEY)
    if any(done.values()):
        log.info("reconcile: %s", done)
    return done


def send_stalled_replies(runtime: Runtime, now: dt.datetime) -> int:
    """WhatsApp replies with buttons whose job was lost: sent now, in order (once)."""
    sids = replies.stalled(runtime.db, now - STALLED_AFTER)
    for sid in sids:
        replies.send_queued(runtime.db, runtime.sender, sid)
    return len(sids)


def expire_flow_waits(runtime: Runtime, now: dt.datetime) -> int:
    """Conversations whose question timed out take their timeout path (once)."""
    return conversations.expire_due(runtime.db, runtime.sender, runtime.flows, now)


def start_due(runtime: Runtime, now: dt.datetime) -> int:
    """Scheduled broadcasts whose time has come start sending."""
    with runtime.db.session() as session:
        due = session.scalars(
            select(Broadcast.id).where(
                Broadcast.status == BROADCAST_SCHEDULED, Broadcast.send_at <= now
            )
        ).all()
        for broadcast_id in due:
            broadcast.send(session, broadcast_id, now)
    return len(due)


def queue_fan_outs(runtime: Runtime, connection: redis.Redis, now: dt.datetime) -> int:
    """Fan-outs not finished (or a series to top up) with no job working on them."""
    with runtime.db.session() as session:
        rows = session.execute(
            select(Broadcast.id, Broadcast.status, Broadcast.reminder_id).where(
                or_(
                    (Broadcast.status == BROADCAST_SENDING) & Broadcast.fanout_done_at.is_(None),
                    Broadcast.status == BROADCAST_OPEN,
                )
            )
        ).all()
        series = {r.id: events.series_filters(session, r.reminder_id, now) for r in rows}
    queued = 0
    for row in rows:
        if queueing.has_lease(connection, "fanout", row.id):
            continue
        if row.status == BROADCAST_OPEN:
            filters = series[row.id]
            if filters is None:
                continue
            queueing.queue_series(connection, row.id, filters)
        else:
            queueing.queue_fan_out(connection, row.id)
        queued += 1
    return queued


def queue_batches(runtime: Runtime, connection: redis.Redis, now: dt.datetime) -> int:
    """Every batch with deliveries left and no job's lease gets a job (at its due time)."""
    with runtime.db.session() as session:
        rows = session.execute(
            select(Delivery.broadcast_id, Delivery.batch, func.min(Delivery.send_after))
            .join(Broadcast, Broadcast.id == Delivery.broadcast_id)
            .where(
                Broadcast.status.in_(ACTIVE_BROADCAST_STATUSES),
                Delivery.status.in_(OPEN_DELIVERY_STATUSES),
            )
            .group_by(Delivery.broadcast_id, Delivery.batch)
        ).all()
    queued = 0
    for broadcast_id, batch, send_after in rows:
        if queueing.has_lease(connection, "send", broadcast_id, batch):
            continue
        at = send_after if send_after is not None and send_after > now else None
        queueing.queue_batch(connection, broadcast_id, batch, at=at)
        queued += 1
    return queued


def finish(runtime: Runtime, now: dt.datetime) -> int:
    """Broadcasts with nothing left to send or settle are done."""
    with runtime.db.session() as session:
        sending = session.scalars(
            select(Broadcast).where(
                Broadcast.status == BROADCAST_SENDING, Broadcast.fanout_done_at.is_not(None)
            )
        ).all()
        return sum(broadcast.finish_if_settled(session, b, now) for b in sending)


# --- deliveries whose fate is unknown -------------------------------------------


def settle_unknown(runtime: Runtime, now: dt.datetime) -> int:
    """Settle "sending" and "unknown" deliveries old enough that no request is in flight."""
    cutoff = now - dt.timedelta(seconds=runtime.config["SETTLE_AFTER_S"])
    with runtime.db.session() as session:
        stuck = session.scalars(
            select(Delivery).where(
                Delivery.status.in_((DELIVERY_SENDING, DELIVERY_UNKNOWN)),
                Delivery.claimed_at < cutoff,
            )
        ).all()
    settled = 0
    for delivery in stuck:
        try:
            settled += settle(runtime, delivery, now)
        except Exception:  # noqa: BLE001 - one bad delivery must not stop reconcile
            log.exception("could not settle delivery %s", delivery.id)
    return settled


def settle(runtime: Runtime, delivery: Delivery, now: dt.datetime) -> int:
    """Sent if our record or Twilio has the message; otherwise safe to send again."""
    with runtime.db.session() as session:
        message = _our_message(session, delivery)
        if message is not None and message.sid:
            _mark(session, delivery.id, DELIVERY_SENT, message.id, now)
            return 1
        contact = session.get_one(Contact, delivery.contact_id)
        to = message.address if message else phones.address_for(delivery.channel, contact.phone)
        body = message.body if message else None
        # Messages to them that we know already are other sends (another broadcast, the same text).
        known = set(
            session.scalars(
                select(Message.sid).where(Message.address == to, Message.sid.is_not(None))
            )
        )
    found = find_at_twilio(runtime.sender, to, delivery.claimed_at, body, known)
    with runtime.db.session() as session:
        message = _our_message(session, delivery)
        if found is not None:
            if message is not None:
                message.sid, message.status, message.updated_at = found["sid"], found["status"], now
            _mark(session, delivery.id, DELIVERY_SENT, message.id if message else None, now)
            log.info("delivery %s: found at Twilio as %s", delivery.id, found["sid"])
        else:
            if message is not None and message.status == STATUS_PENDING:
                message.status = "failed"
                message.error_message = "never reached Twilio (the sending process stopped)"
                message.updated_at = now
            _mark(session, delivery.id, DELIVERY_QUEUED, None, now)
            log.info("delivery %s: not at Twilio, queued again", delivery.id)
    return 1


def _mark(
    session: Session, delivery_id: int, status: str, message_id: int | None, now: dt.datetime
) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if message_id is not None:
        values["message_id"] = message_id
    if status == DELIVERY_QUEUED:
        values["send_after"] = None
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def _our_message(session: Session, delivery: Delivery) -> Message | None:
    """The Message the sending module wrote for this delivery's last attempt, if any."""
    if delivery.message_id is not None:
        return session.get(Message, delivery.message_id)
    since = (delivery.claimed_at or dt.datetime.min.replace(tzinfo=dt.UTC)) - dt.timedelta(
        seconds=1
    )
    candidates = session.scalars(
        select(Message)
        .where(
            Message.contact_id == delivery.contact_id,
            Message.direction == DIRECTION_OUT,
            Message.created_at >= since,
        )
        .order_by(Message.id.desc())
    ).all()
    return next((m for m in candidates if m.extra.get("delivery_id") == delivery.id), None)


def find_at_twilio(
    sender: twilio.Sender,
    to: str,
    since: dt.datetime | None,
    body: str | None,
    known: Collection[str] = (),
) -> dict[str, str] | None:
    """A message Twilio has to ``to`` created since the claim, not one of ``known`` (None:
    never sent)."""
    since = since or dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    return twilio.find_sent(sender, to, since, body, known)
