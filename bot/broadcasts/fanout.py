"""Fan-out: one delivery row per (broadcast, contact), written in batches.

The audience is read in keyset pages and each page is written in its own
short transaction with INSERT … ON CONFLICT DO NOTHING on the unique
(broadcast, contact) key, so memory stays flat, webhooks are never locked out
for long, and running fan-out again (after a crash) adds only who is missing.
Each batch of deliveries is handed to ``on_batch`` (the job that sends it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.broadcasts import audiences
from bot.broadcasts.audiences import Filters
from bot.broadcasts.models import ACTIVE_BROADCAST_STATUSES, DELIVERY_PENDING, Broadcast, Delivery
from bot.broadcasts.variants import FULL_SHARE, variant_of
from bot.db import Database

# A contact's variant of the broadcast ("A", "B"; None: held back for the winner).
Split = Callable[[int], str | None]


def insert_deliveries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert delivery rows, skipping any (broadcast, contact) already there."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Delivery).on_conflict_do_nothing(
        index_elements=["broadcast_id", "contact_id"]
    )
    session.execute(statement, rows)


def next_batch(session: Session, broadcast_id: int) -> int:
    """The first batch number not used yet by this broadcast."""
    last = session.scalar(
        select(func.max(Delivery.batch)).where(Delivery.broadcast_id == broadcast_id)
    )
    return 0 if last is None else last + 1


def fan_out(
    db: Database,
    broadcast_id: int,
    now: dt.datetime,
    batch_size: int,
    on_batch: Callable[[int], None],
    filters: Filters | None = None,
) -> int:
    """Write the broadcast's deliveries; returns how many contacts the audience had.

    ``filters`` replaces the broadcast's own (a reminder series narrows it to
    the contacts now due). Stops early if the broadcast is no longer active.
    """
    with db.session() as session:
        broadcast = session.get_one(Broadcast, broadcast_id)
        if broadcast.status not in ACTIVE_BROADCAST_STATUSES:
            return 0
        filters = (filters or Filters.from_dict(broadcast.filters)).scoped(
            broadcast.organization_id
        )
        channels = list(broadcast.channels)
        batch = next_batch(session, broadcast_id)
        split = split_of(broadcast)
    seen, last_id = 0, 0
    while True:
        with db.session() as session:
            page = audiences.page(session, filters, channels, now, last_id)
            batches = _write_page(session, broadcast_id, page, batch, batch_size, now, split)
        for number in batches:
            on_batch(number)
        if not page:
            return seen
        seen += len(page)
        last_id = page[-1][0]
        batch += len(batches)


def split_of(broadcast: Broadcast) -> Split | None:
    """The A/B split of the broadcast's audience (bot.broadcasts.variants), or None.

    It depends on (seed, contact) only, so a fan-out run again gives each
    contact the variant it had.
    """
    if not broadcast.variant_texts or broadcast.split_seed is None:
        return None
    seed, share = broadcast.split_seed, broadcast.test_share or FULL_SHARE
    return lambda contact_id: variant_of(seed, share, contact_id)


def _write_page(
    session: Session,
    broadcast_id: int,
    page: list[tuple[int, str]],
    first_batch: int,
    batch_size: int,
    now: dt.datetime,
    split: Split | None = None,
) -> list[int]:
    """Insert one page of deliveries in batches; returns the batch numbers used.

    In an A/B test each delivery carries its contact's variant, and the
    contacts held back for the winner get no delivery.
    """
    targets = [(c, ch, split(c) if split else None) for c, ch in page]
    if split is not None:
        targets = [row for row in targets if row[2] is not None]
    numbers = []
    for start in range(0, len(targets), batch_size):
        number = first_batch + len(numbers)
        rows = [
            {
                "broadcast_id": broadcast_id,
                "contact_id": contact_id,
                "channel": channel,
                "batch": number,
                "status": DELIVERY_PENDING,
                "attempts": 0,
                "updated_at": now,
                "variant": variant,
            }
            for contact_id, channel, variant in targets[start : start + batch_size]
        ]
        insert_deliveries(session, rows)
        numbers.append(number)
    return numbers


def mark_done(db: Database, broadcast_id: int, now: dt.datetime) -> None:
    """Fan-out finished: from now on the broadcast may be marked done when settled."""
    with db.session() as session:
        broadcast = session.get_one(Broadcast, broadcast_id)
        if broadcast.fanout_done_at is None:
            broadcast.fanout_done_at = now
