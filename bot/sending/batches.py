"""One send job's batch: what is due is triaged, claimed, paced and recorded.

A batch is a slice of a broadcast's deliveries (fan-out numbers them). A job
sends what is due in its batch (and then in the broadcast's other batches, see
`bot.sending.deliveries.more_due`) for at most ``SLICE_S``, then stops and
queues itself again (`bot.sending.jobs`), so a paused broadcast or a new
deploy never waits on a long job.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from sqlalchemy import select

from bot.broadcasts.models import DELIVERY_QUEUED, OPEN_DELIVERY_STATUSES, Delivery
from bot.db import utcnow
from bot.sending.bookkeeping import Bookkeeper
from bot.sending.deliveries import BatchResult, DueDelivery, Liveness, load_plan
from bot.sending.pacing import Pacer, run_loop
from bot.sending.process import Runtime

SLICE_S = 30.0  # a send job stops claiming after this long and queues itself again


def send_batch(
    runtime: Runtime,
    broadcast_id: int,
    batch: int,
    slice_s: float = SLICE_S,
    heartbeat: Callable[[], None] = lambda: None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> BatchResult:
    """Send what is due in one batch, until it is done or ``slice_s`` has passed.

    ``heartbeat`` is called about once a second while the job goes on;
    ``clock`` is "now" for quiet hours and the WhatsApp window (tests freeze it).
    """
    result = BatchResult()
    plan = load_plan(runtime, broadcast_id)
    if plan is None:
        return result
    if plan.sender is not None:  # a partner's own number: its own client and throttle
        runtime = runtime.sending_as(plan.sender)
    now = clock()
    with runtime.db.session() as session:
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.contact_id,
                Delivery.channel,
                Delivery.send_after,
                Delivery.variant,
            )
            .where(
                Delivery.broadcast_id == broadcast_id,
                Delivery.batch == batch,
                Delivery.status.in_(OPEN_DELIVERY_STATUSES),
            )
            .order_by(Delivery.id)
        ).all()
    due = [
        DueDelivery(r.id, r.contact_id, r.channel, r.variant)
        for r in rows
        if r.send_after is None or r.send_after <= now
    ]
    for r in rows:
        if r.send_after is not None and r.send_after > now:
            result.add(DELIVERY_QUEUED, r.send_after)
    if not due:
        return result
    bookkeeper = Bookkeeper(runtime, plan)
    try:
        liveness = Liveness(runtime, broadcast_id, time.monotonic() + slice_s, heartbeat)
        pacer = Pacer(runtime, plan, liveness, result, bookkeeper, clock)
        run_loop(lambda: pacer.run(due))
    finally:
        bookkeeper.close()
    return result
