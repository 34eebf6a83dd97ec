"""Queueing the send jobs, and the leases that say a job is queued or running.

Every job is idempotent: the database says what is left to do. A job holds a
lease in Redis while it is queued or running (``puente:lease:…``); reconcile
queues again any batch or fan-out with work left and no lease, which covers a
worker killed mid-job (its lease runs out) and a Redis that lost everything
(every lease is gone).

The jobs are named by their paths (RQ stores the string in Redis): renaming a
job function leaves the jobs already queued under the old name failing, until
reconcile queues them again from the database.
"""

from __future__ import annotations

import datetime as dt
import logging

import redis

from bot import queue
from bot.broadcasts.audiences import Filters
from bot.db import utcnow

log = logging.getLogger(__name__)

RUNNING_LEASE_S = 20  # renewed each second by a running job; a killed one loses it
QUEUED_LEASE_S = 3600  # a queued job keeps its lease until it starts (Redis keeps the job)
SEND_JOB = "bot.sending.jobs.send_batch"
FANOUT_JOB = "bot.sending.jobs.fan_out"
RECONCILE_JOB = "bot.sending.jobs.reconcile"


def _lease_key(*parts: object) -> str:
    return "puente:lease:" + ":".join(str(p) for p in parts)


def has_lease(connection: redis.Redis, *parts: object) -> bool:
    """Whether a job of ("send", broadcast, batch) or ("fanout", broadcast) is queued or running."""
    return bool(connection.exists(_lease_key(*parts)))


def take_lease(connection: redis.Redis, seconds: float, *parts: object) -> None:
    """Hold (or renew) the lease for ``seconds``."""
    connection.set(_lease_key(*parts), "1", px=max(int(seconds * 1000), 1000))


def drop_lease(connection: redis.Redis, *parts: object) -> None:
    connection.delete(_lease_key(*parts))


def queue_batch(
    connection: redis.Redis, broadcast_id: int, batch: int, at: dt.datetime | None = None
) -> None:
    """Queue the send job for one batch (at ``at``, for quiet hours and backoff)."""
    delay = max((at - utcnow()).total_seconds(), 0) if at else 0
    take_lease(connection, delay + QUEUED_LEASE_S, "send", broadcast_id, batch)
    queue.enqueue(connection, queue.QUEUE_LOW, SEND_JOB, broadcast_id, batch, at=at)


def queue_fan_out(connection: redis.Redis, broadcast_id: int) -> None:
    """Queue the fan-out of a broadcast."""
    take_lease(connection, QUEUED_LEASE_S, "fanout", broadcast_id)
    queue.enqueue(connection, queue.QUEUE_LOW, FANOUT_JOB, broadcast_id, timeout_s=3600)


def queue_series(connection: redis.Redis, broadcast_id: int, filters: Filters) -> None:
    """Queue a reminder series' fan-out for the contacts due now."""
    take_lease(connection, QUEUED_LEASE_S, "fanout", broadcast_id)
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
