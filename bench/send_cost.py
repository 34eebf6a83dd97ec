"""CPU per broadcast message in one process, beside twilio-python's own cost per request.

    .venv/bin/python bench/send_cost.py --messages 2000 --latency 0.2

Where bench/send_rate.py measures whole workers, this runs the sending engine
in this process against bench/async_fake_twilio.py (its own process) and a
durable PostgreSQL, and reads this process's CPU time (every thread: the
event loop and the database threads beside it). Rows:

- ``twilio.send`` alone (sync twilio-python + requests), one thread, fake
  latency 0: the old per-request cost, for reference;
- ``twilio.send_async`` alone on one ``twilio.AsyncClient``, --concurrency
  sends in flight at --latency: twilio-python async's own cost per request
  (aiohttp included), what the "x async baseline" column divides by;
- ``deliveries.send_batch`` of one batch of --messages deliveries at
  --latency, with the send job's GIL switch interval: the whole engine
  (load, triage, claim + message rows per chunk, a Redis EVALSHA per chunk,
  the sends on ``AsyncClient`` with SEND_CONNECTIONS=--connections, answers
  recorded every 0.1 s), with the SQL statements (one executemany counts
  once) and commits it issues per message.

msg/s is messages / wall time of the measured part. The sender's rate is set
far above what one process reaches, so the throttle never makes a send wait;
but a chunk's slots then fall within a few ms, the loop cannot start them all
within half the throttle margin, and a send woken later than that books a new
slot (one more EVALSHA: the notes line's evalsha/message counts them).

Before the measured batch, a smaller batch of the same broadcast is sent on
the same runtime (imports, pools, compiled statements warm); the measured
batch still pays its own start (rows, contacts, triage, event loop, HTTP
connections). A notes line gives the engine's delivery statuses, Redis calls
and the PostgreSQL server's CPU per message (not in this process's figure).

Needs redis-server on PATH and PostgreSQL binaries (as bench/send_rate.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select  # noqa: E402

from bench.send_rate import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    NOW,
    SMS_FROM,
    TEXTS,
    Databases,
    Fake,
    RedisServer,
    seed,
    worker_env,
)
from bot.broadcasts import broadcast, deliveries, fanout, runtime  # noqa: E402
from bot.broadcasts.audiences import Filters  # noqa: E402
from bot.broadcasts.jobs import SWITCH_INTERVAL_S  # noqa: E402
from bot.broadcasts.models import Delivery  # noqa: E402
from bot.channels import twilio  # noqa: E402
from bot.config import from_environ  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.defaults import DEFAULT_SEND_CONNECTIONS  # noqa: E402

UNTHROTTLED = 100_000.0  # msg/s: the throttle never makes a send wait
WARM = 200  # deliveries sent before the measured batch (other batches, same broadcast)
STATUS_URL = "http://127.0.0.1:9/twilio/status"


def bench_sender(fake: Fake) -> twilio.Sender:
    return twilio.Sender(ACCOUNT_SID, AUTH_TOKEN, fake.url, None, SMS_FROM, None, STATUS_URL)


def number(i: int) -> str:
    return f"+1213{i % 10_000_000:07d}"


def text(i: int) -> str:
    return TEXTS["es" if i % 2 else "en"]


# --- baselines ----------------------------------------------------------------


def twilio_alone(fake: Fake, count: int) -> tuple[float, float]:
    """Sync twilio-python, one thread: (CPU s per message, messages/s)."""
    sender = bench_sender(fake)
    for i in range(100):  # warm: client, connection, imports
        twilio.send(sender, number(i), TEXTS["en"])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(count):
        result = twilio.send(sender, number(i), text(i))
        if not result.ok:
            raise RuntimeError(f"twilio.send failed: {result}")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu / count, count / wall


async def _async_sends(fake: Fake, count: int, concurrency: int) -> tuple[float, float]:
    client = twilio.AsyncClient(bench_sender(fake), concurrency)
    try:
        # warm: imports, the first request's setup, every pooled connection open
        await asyncio.gather(
            *(twilio.send_async(client, number(i), TEXTS["en"]) for i in range(concurrency))
        )
        todo = iter(range(count))
        failed: list[twilio.SendResult] = []

        async def lane() -> None:  # one send in flight at a time; a shared counter
            for i in todo:
                result = await twilio.send_async(client, number(i), text(i))
                if not result.ok:
                    failed.append(result)

        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await client.close()
    if failed:
        raise RuntimeError(f"{len(failed)} send_async failed, first: {failed[0]}")
    return cpu / count, count / wall


def twilio_async_alone(fake: Fake, count: int, concurrency: int) -> tuple[float, float]:
    """twilio-python async, ``concurrency`` in flight: (CPU s per message, messages/s)."""
    return asyncio.run(_async_sends(fake, count, concurrency))


# --- the engine ---------------------------------------------------------------


def prepared(
    databases: Databases, redis_url: str, fake: Fake, count: int, connections: int
) -> tuple[runtime.Runtime, int, list[int]]:
    """A runtime, and a broadcast with ``count`` deliveries in batch 0 and WARM in later ones."""
    url = databases.fresh()
    db = Database(url)
    seed(db, count + WARM)
    with db.session() as session:
        created = broadcast.create(session, "bench", TEXTS, Filters(), channels=["sms"], now=NOW)
        broadcast.send(session, created.id, NOW)
    db.engine.dispose()
    extra = {"SEND_CONNECTIONS": str(connections)}
    env = worker_env(url, redis_url, fake.url, UNTHROTTLED, extra)
    rt = runtime.build(from_environ(env))
    runtime.use(rt)
    rt.redis.flushall()
    batches: list[int] = []
    fanout.fan_out(rt.db, created.id, NOW, count, batches.append)
    if batches[0] != 0:
        raise RuntimeError(f"fan-out wrote batches {batches}, expected batch 0 first")
    return rt, created.id, batches[1:]


def engine(
    rt: runtime.Runtime, broadcast_id: int, warm_batches: list[int], databases: Databases
) -> tuple[float, float, float, float, str]:
    """CPU s per message, messages/s, SQL statements and commits per message, notes."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as the send job does
    try:
        for batch in warm_batches:
            deliveries.send_batch(rt, broadcast_id, batch, slice_s=3600)
        counts = {"statements": 0, "commits": 0}

        def statement(*_args: object) -> None:
            counts["statements"] += 1

        def commit(*_args: object) -> None:
            counts["commits"] += 1

        event.listen(rt.db.engine, "before_cursor_execute", statement)
        event.listen(rt.db.engine, "commit", commit)
        rt.redis.config_resetstat()
        db_cpu0 = databases.cpu()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        try:
            result = deliveries.send_batch(rt, broadcast_id, 0, slice_s=3600)
        finally:
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            db_cpu = databases.cpu() - db_cpu0
            event.remove(rt.db.engine, "before_cursor_execute", statement)
            event.remove(rt.db.engine, "commit", commit)
    finally:
        sys.setswitchinterval(previous)
    calls = {k.removeprefix("cmdstat_"): v["calls"]
             for k, v in rt.redis.info("commandstats").items()}  # fmt: skip
    with rt.db.session() as session:
        sent = session.scalar(
            select(func.count()).where(
                Delivery.broadcast_id == broadcast_id,
                Delivery.batch == 0,
                Delivery.status == "sent",
            )
        )
    per = max(sent, 1)
    redis_calls = ", ".join(f"{k} {v / per:.3f}" for k, v in sorted(calls.items()) if k != "info")
    notes = (
        f"engine batch: {sent} sent, statuses {result.statuses}, left {result.left}; "
        f"Redis calls/message: {redis_calls or 'none'}; "
        f"PostgreSQL server CPU {db_cpu / per * 1000:.2f} ms/message"
    )
    return (
        cpu / per,
        sent / wall,
        counts["statements"] / per,
        counts["commits"] / per,
        notes,
    )


# --- the report ---------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="per run (at most 2,000)")
    parser.add_argument(
        "--latency", type=float, default=0.2, help="fake latency (s), async baseline and engine"
    )
    parser.add_argument(
        "--concurrency", type=int, default=200, help="sends in flight, async baseline"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=DEFAULT_SEND_CONNECTIONS,
        help="the engine's SEND_CONNECTIONS",
    )
    args = parser.parse_args()
    count = min(args.messages, 2000)  # one fan-out page: one batch
    root = os.geteuid() == 0  # the fake's priority needs root (see bench/send_rate.py)
    redis_server = RedisServer()
    fast = Fake(0.0, -10 if root else 0, root)
    slow = Fake(args.latency, -10 if root else 0, root)
    databases = Databases("postgresql")
    latency = f"latency {args.latency * 1000:.0f} ms"
    rows: list[tuple[str, float, float, float | None, float | None]] = []
    notes = ""
    try:
        fast.reset(None)
        cpu, rate = twilio_alone(fast, count)
        rows.append(("twilio.send (sync) alone, 1 thread, latency 0", cpu, rate, None, None))
        slow.reset(None)
        cpu, rate = twilio_async_alone(slow, count, args.concurrency)
        label = f"twilio.send_async alone (baseline), {args.concurrency} in flight, {latency}"
        rows.append((label, cpu, rate, None, None))
        base = cpu
        slow.reset(None)
        rt, broadcast_id, warm_batches = prepared(
            databases, redis_server.url, slow, count, args.connections
        )
        cpu, rate, statements, commits, notes = engine(rt, broadcast_id, warm_batches, databases)
        label = (
            f"send_batch, SEND_CONNECTIONS={args.connections}, "
            f"switch {SWITCH_INTERVAL_S * 1000:g} ms, {latency}"
        )
        rows.append((label, cpu, rate, statements, commits))
    finally:
        runtime.reset()
        fast.stop()
        slow.stop()
        redis_server.stop()
        databases.stop()
    print(f"\n{count} messages per run; CPU of this process (all threads)\n")
    print("| run | CPU ms/message | msg/s | x async baseline | SQL statements/msg | commits/msg |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, cpu, rate, statements, commits in rows:
        s = f"{statements:.2f}" if statements is not None else ""
        c = f"{commits:.3f}" if commits is not None else ""
        print(f"| {label} | {cpu * 1000:.3f} | {rate:.0f} | {cpu / base:.2f}x | {s} | {c} |")
    print(f"\n{notes}")


if __name__ == "__main__":
    main()
