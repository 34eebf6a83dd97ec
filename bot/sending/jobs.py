"""The jobs the workers run: fan-out, send a batch, reconcile, and the replies that carry
WhatsApp buttons (RQ calls them by path).

Each builds nothing of its own: it takes this process's runtime
(`bot.sending.process`), does its work and queues what is left
(`bot.sending.queueing`, which also says how leases make every job safe to
run twice).
"""

from __future__ import annotations

import logging
import math
import sys

import redis

from bot.broadcasts import broadcast, fanout
from bot.broadcasts.audiences import Filters
from bot.broadcasts.models import Broadcast
from bot.db import utcnow
from bot.msgs import replies
from bot.sending import batches, process
from bot.sending import reconcile as reconciling
from bot.sending.process import Runtime
from bot.sending.queueing import RUNNING_LEASE_S, drop_lease, queue_batch, take_lease

log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.0005
BATCH_SECONDS = 5  # a batch holds about this many seconds of sending at the sender's rate


def batch_size(runtime: Runtime, channels: list[str]) -> int:
    """Deliveries per batch: the setting, or more for a fast sender."""
    rate = max(runtime.limit(channel).rate_per_s for channel in channels)
    return max(runtime.config["BROADCAST_BATCH_SIZE"], math.ceil(rate * BATCH_SECONDS))


def fan_out(broadcast_id: int, filters: dict | None = None) -> int:
    """Job: write a broadcast's deliveries and queue a send job per batch."""
    runtime = process.current()
    connection = _connection(runtime)
    with runtime.db.session() as session:
        channels = list(broadcast.get(session, broadcast_id).channels)
    size = batch_size(runtime, channels)

    take_lease(connection, RUNNING_LEASE_S, "fanout", broadcast_id)

    def on_batch(number: int) -> None:
        take_lease(connection, RUNNING_LEASE_S, "fanout", broadcast_id)  # still alive
        queue_batch(connection, broadcast_id, number)

    narrowed = Filters.from_dict(filters) if filters else None
    seen = fanout.fan_out(runtime.db, broadcast_id, utcnow(), size, on_batch, narrowed)
    if narrowed is None:
        fanout.mark_done(runtime.db, broadcast_id, utcnow())
    drop_lease(connection, "fanout", broadcast_id)
    log.info("broadcast %s: fan-out read %s contacts", broadcast_id, seen)
    return seen


def send_batch(broadcast_id: int, batch: int) -> dict[str, int]:
    """Job: send one batch for a slice of time, then queue what is left."""
    runtime = process.current()
    connection = _connection(runtime)
    # The sending loop woken for a throttle slot must get the GIL at once, not
    # after the database thread's 5 ms turn: late requests could crowd a second.
    sys.setswitchinterval(SWITCH_INTERVAL_S)

    def heartbeat() -> None:
        take_lease(connection, RUNNING_LEASE_S, "send", broadcast_id, batch)

    heartbeat()
    result = batches.send_batch(runtime, broadcast_id, batch, heartbeat=heartbeat)
    if result.left:
        queue_batch(connection, broadcast_id, batch)
    elif result.next_at is not None:
        queue_batch(connection, broadcast_id, batch, at=result.next_at)
    else:
        drop_lease(connection, "send", broadcast_id, batch)
        with runtime.db.session() as session:
            found = session.get(Broadcast, broadcast_id)
            if found is not None:
                broadcast.finish_if_settled(session, found, utcnow())
    return result.statuses


def send_replies(inbound_sid: str) -> int:
    """Job: the replies to one WhatsApp message that carry buttons or a list, in order
    (bot.msgs.replies); how many were sent or refused."""
    runtime = process.current()
    return len(replies.send_queued(runtime.db, runtime.sender, inbound_sid))


def reconcile() -> dict[str, int]:
    """Job: rebuild the queue from the database (see bot.sending.reconcile)."""
    runtime = process.current()
    return reconciling.run(runtime, _connection(runtime), utcnow())


def _connection(runtime: Runtime) -> redis.Redis:
    if runtime.redis is None:
        raise RuntimeError("broadcast jobs need Redis (REDIS_URL)")
    return runtime.redis
