"""The broadcast jobs the workers run, and how they are queued.

Every job is idempotent: the database says what is left to do. A job holds a
lease in Redis while it is queued or running (``puente:lease:…``); reconcile
queues again any batch or fan-out with work left and no lease, which covers a
worker killed mid-job (its lease runs out) and a Redis that lost everything
(every lease is gone).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import sys

import redis

from bot import queue
from bot.broadcasts import broadcast, deliveries, fanout, runtime
from bot.broadcasts.audiences import Filters
from bot.broadcasts.models import Broadcast
from bot.broadcasts.runtime import Runtime
from bot.db import utcnow

log = logging.getLogger(__name__)

RUNNING_LEASE_S = 20  # renewed each second by a running job; a killed one loses it
QUEUED_LEASE_S = 3600  # a queued job keeps its lease until it starts (Redis keeps the job)
SEND_JOB = "bot.broadcasts.jobs.send_batch"
FANOUT_JOB = "bot.broadcasts.jobs.fan_out"
RECONCILE_JOB = "bot.broadcasts.jobs.reconcile"
SWITCH_INTERVAL_S = 0.0005
BATCH_SECONDS = 5  # a batch holds about this many seconds of sending at the sender's rate


def _lease_key(*parts: object) -> str:
    return "puente:lease:" + ":".join(str(p) for p in parts)


def has_lease(connection: redis.Redis, *parts: object) -> bool:
    return bool(connection.exists(_lease_key(*parts)))


def _take_lease(connection: redis.Redis, seconds: float, *parts: object) -> None:
    connection.set(_lease_key(*parts), "1", px=max(int(seconds * 1000), 1000))


def _drop_lease(connection: redis.Redis, *parts: object) -> None:
    connection.delete(_lease_key(*parts))


def queue_batch(
    connection: redis.Redis, broadcast_id: int, batch: int, at: dt.datetime | None = None
) -> None:
    """Queue the send job for one batch (at ``at``, for quiet hours and backoff)."""
    delay = max((at - utcnow()).total_seconds(), 0) if at else 0
    _take_lease(connection, delay + QUEUED_LEASE_S, "send", broadcast_id, batch)
    queue.enqueue(connection, queue.QUEUE_LOW, SEND_JOB, broadcast_id, batch, at=at)


def queue_fan_out(connection: redis.Redis, broadcast_id: int) -> None:
    """Queue the fan-out of a broadcast."""
    _take_lease(connection, QUEUED_LEASE_S, "fanout", broadcast_id)
    queue.enqueue(connection, queue.QUEUE_LOW, FANOUT_JOB, broadcast_id, timeout_s=3600)


def queue_series(connection: redis.Redis, broadcast_id: int, filters: Filters) -> None:
    """Queue a reminder series' fan-out for the contacts due now."""
    _take_lease(connection, QUEUED_LEASE_S, "fanout", broadcast_id)
    queue.enqueue(
        connection, queue.QUEUE_LOW, FANOUT_JOB, broadcast_id, filters.to_dict(), timeout_s=3600
    )


def kick(connection: redis.Redis | None, broadcast_id: int) -> bool:
    """Start a broadcast the CLI or dashboard just set sending, if the queue is reachable.

    Without a queue nothing is lost: the worker's next reconcile starts it.
    """
    if connection is None:
        return False
    try:
        queue_fan_out(connection, broadcast_id)
    except redis.RedisError:
        log.warning("queue unreachable: broadcast %s starts at the next reconcile", broadcast_id)
        return False
    return True


def batch_size(rt: Runtime, channels: list[str]) -> int:
    """Deliveries per batch: the setting, or more for a fast sender."""
    rate = max(rt.limit(channel).rate_per_s for channel in channels)
    return max(int(rt.config.get("BROADCAST_BATCH_SIZE", 500)), math.ceil(rate * BATCH_SECONDS))


def fan_out(broadcast_id: int, filters: dict | None = None) -> int:
    """Job: write a broadcast's deliveries and queue a send job per batch."""
    rt = runtime.current()
    connection = _connection(rt)
    with rt.db.session() as session:
        channels = list(broadcast.get(session, broadcast_id).channels)
    size = batch_size(rt, channels)

    _take_lease(connection, RUNNING_LEASE_S, "fanout", broadcast_id)

    def on_batch(number: int) -> None:
        _take_lease(connection, RUNNING_LEASE_S, "fanout", broadcast_id)  # still alive
        queue_batch(connection, broadcast_id, number)

    narrowed = Filters.from_dict(filters) if filters else None
    seen = fanout.fan_out(rt.db, broadcast_id, utcnow(), size, on_batch, narrowed)
    if narrowed is None:
        fanout.mark_done(rt.db, broadcast_id, utcnow())
    _drop_lease(connection, "fanout", broadcast_id)
    log.info("broadcast %s: fan-out read %s contacts", broadcast_id, seen)
    return seen


def send_batch(broadcast_id: int, batch: int) -> dict[str, int]:
    """Job: send one batch for a slice of time, then queue what is left."""
    rt = runtime.current()
    connection = _connection(rt)
    # The sending loop woken for a throttle slot must get the GIL at once, not
    # after the database thread's 5 ms turn: late requests could crowd a second.
    sys.setswitchinterval(SWITCH_INTERVAL_S)

    def heartbeat() -> None:
        _take_lease(connection, RUNNING_LEASE_S, "send", broadcast_id, batch)

    heartbeat()
    result = deliveries.send_batch(rt, broadcast_id, batch, heartbeat=heartbeat)
    if result.left:
        queue_batch(connection, broadcast_id, batch)
    elif result.next_at is not None:
        queue_batch(connection, broadcast_id, batch, at=result.next_at)
    else:
        _drop_lease(connection, "send", broadcast_id, batch)
        with rt.db.session() as session:
            found = session.get(Broadcast, broadcast_id)
            if found is not None:
                broadcast.finish_if_settled(session, found, utcnow())
    return result.statuses


def reconcile() -> dict[str, int]:
    """Job: rebuild the queue from the database (see bot.broadcasts.reconcile)."""
    from bot.broadcasts import reconcile as reconciling

    rt = runtime.current()
    return reconciling.run(rt, _connection(rt), utcnow())


def _connection(rt: Runtime) -> redis.Redis:
    if rt.redis is None:
        raise RuntimeError("broadcast jobs need Redis (REDIS_URL)")
    return rt.redis
