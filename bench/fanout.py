"""Fan-out of a broadcast into queued deliveries, beside a raw Redis pipeline, in one run.

    .venv/bin/python bench/fanout.py --contacts 100000

Prints wall time and peak Python memory (tracemalloc) of each, and the ratio.
Needs redis-server on PATH (started here on a free port) and a SQLite file DB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from bot import queue  # noqa: E402
from bot.broadcasts import broadcast, fanout  # noqa: E402
from bot.broadcasts.audiences import Filters  # noqa: E402
from bot.contacts.models import Address, Contact  # noqa: E402
from bot.db import Database, upgrade  # noqa: E402
from bot.sending import queueing  # noqa: E402
from tests.services import RedisServer  # noqa: E402

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def seed(db: Database, count: int) -> None:
    with db.session() as session:
        for start in range(0, count, 10000):
            ids = range(start + 1, min(start + 10001, count + 1))
            session.execute(insert(Contact), [
                {"id": i, "phone": f"+1213{i:07d}", "language": "es" if i % 2 else "en",
                 "status": "active", "opted_in_at": NOW, "country": "US", "fields": {},
                 "created_at": NOW, "language_chosen": True} for i in ids])  # fmt: skip
            session.execute(insert(Address), [
                {"contact_id": i, "channel": "sms", "address": f"+1213{i:07d}", "created_at": NOW}
                for i in ids])  # fmt: skip


def measure(label: str, work) -> tuple[float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label}: {wall:.2f} s, peak {peak / 1e6:.1f} MB", flush=True)
    return wall, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()
    server = RedisServer()
    folder = Path(tempfile.mkdtemp(prefix="puente-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    seed(db, args.contacts)
    connection = queue.connect(server.url)

    def raw() -> None:
        pipe = connection.pipeline(transaction=False)
        for i in range(args.contacts):
            pipe.hset(f"bench:job:{i}", mapping={"contact": i, "broadcast": 1})
            pipe.rpush("bench:queue", i)
            if i % 10000 == 9999:
                pipe.execute()
        pipe.execute()

    with db.session() as session:
        created = broadcast.create(
            session, "bench", {"en": "hi"}, Filters(), channels=["sms"], now=NOW
        )
        broadcast.send(session, created.id, NOW)
        broadcast_id = created.id

    def ours() -> None:
        fanout.fan_out(
            db, broadcast_id, NOW, 500, lambda n: queueing.queue_batch(connection, broadcast_id, n)
        )

    baseline, base_peak = measure("raw Redis pipeline (HSET + RPUSH)", raw)
    wall, peak = measure("Puente fan-out (deliveries + batch jobs)", ours)
    print(f"ratio wall: {wall / baseline:.2f}x the raw pipeline (target <= 5x)")
    print(f"queued jobs: {queue.counts(connection)}")
    server.stop()


if __name__ == "__main__":
    main()
