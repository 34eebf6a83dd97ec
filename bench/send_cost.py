"""CPU per broadcast message in one process, beside twilio-python's own cost per request.

    .venv/bin/python bench/send_cost.py

Where bench/send_rate.py measures whole workers, this runs the engine's
per-delivery code in this process against bench/async_fake_twilio.py (its own
process) and a durable PostgreSQL, and reads this process's CPU time:

- baseline: ``twilio.send`` alone (twilio-python + requests), one thread;
- ``deliveries.deliver`` for each delivery of a batch, one thread, no pool:
  the per-message path (claim, message row, throttle, send, record, settle),
  with the SQL statements and commits it issues per message;
- ``deliveries.send_batch`` with N threads at a GIL switch interval (the
  send job sets 0.5 ms): the same path as the workers run it.

The sender's rate is set far above what one process reaches, so the throttle
never waits; the fake answers after --latency (0 for the one-thread runs).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
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
from bot.broadcasts.models import Delivery  # noqa: E402
from bot.channels import twilio  # noqa: E402
from bot.config import from_environ  # noqa: E402
from bot.db import Database  # noqa: E402

UNTHROTTLED = 100_000.0  # msg/s: the throttle never makes a thread wait


def prepared(databases: Databases, redis_url: str, fake: Fake, count: int, threads: int):
    """A runtime and a broadcast of ``count`` deliveries in batch 0."""
    url = databases.fresh()
    db = Database(url)
    seed(db, count)
    with db.session() as session:
        created = broadcast.create(session, "bench", TEXTS, Filters(), channels=["sms"], now=NOW)
        broadcast.send(session, created.id, NOW)
    db.engine.dispose()
    env = worker_env(url, redis_url, fake.url, UNTHROTTLED, {"SEND_THREADS": str(threads)})
    rt = runtime.build(from_environ(env))
    runtime.use(rt)
    rt.redis.flushall()
    fanout.fan_out(rt.db, created.id, NOW, count, lambda n: None)
    return rt, created.id


def twilio_alone(fake: Fake, count: int) -> float:
    sender = twilio.Sender(
        ACCOUNT_SID, AUTH_TOKEN, fake.url, None, SMS_FROM, None, "http://127.0.0.1:9/twilio/status"
    )
    for i in range(100):  # warm: client, connection, imports
        twilio.send(sender, f"+1213{i:07d}", TEXTS["en"])
    started = time.process_time()
    for i in range(count):
        twilio.send(sender, f"+1213{i:07d}", TEXTS["es" if i % 2 else "en"])
    return (time.process_time() - started) / count


def one_thread(rt: runtime.Runtime, broadcast_id: int) -> tuple[float, float, float, int]:
    """CPU s per message, SQL statements and commits per message, messages."""
    plan = deliveries.load_plan(rt, broadcast_id)
    with rt.db.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.contact_id, Delivery.channel)
            .where(Delivery.broadcast_id == broadcast_id)
            .order_by(Delivery.id)
        ).all()
        contacts = deliveries._contacts(session, [r.contact_id for r in rows])
    liveness = deliveries.Liveness(rt, broadcast_id, time.monotonic() + 3600)
    deliveries.warm_up(rt, 1)
    for row in rows[:100]:  # warm: compiled-statement cache, pools
        deliveries.deliver(rt, plan, row.id, contacts[row.contact_id], row.channel, liveness)
    counts = {"statements": 0, "commits": 0}

    def statement(*_args: object) -> None:
        counts["statements"] += 1

    def commit(*_args: object) -> None:
        counts["commits"] += 1

    event.listen(rt.db.engine, "before_cursor_execute", statement)
    event.listen(rt.db.engine, "commit", commit)
    rest = rows[100:]
    started = time.process_time()
    for row in rest:
        deliveries.deliver(rt, plan, row.id, contacts[row.contact_id], row.channel, liveness)
    cpu = time.process_time() - started
    return (
        cpu / len(rest),
        counts["statements"] / len(rest),
        counts["commits"] / len(rest),
        len(rest),
    )


def pooled(
    rt: runtime.Runtime, broadcast_id: int, switch_s: float
) -> tuple[float, float, int, str]:
    """CPU s per message, messages/s, messages, and the error the job died of (if any)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(switch_s)
    error = ""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        deliveries.send_batch(rt, broadcast_id, 0, slice_s=3600)
    except redis.RedisError as exc:  # the job dies: queued deliveries are cancelled
        error = f", job died: {type(exc).__name__}"
    finally:
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        sys.setswitchinterval(previous)
    with rt.db.session() as session:
        sent = session.scalar(
            select(func.count()).where(
                Delivery.broadcast_id == broadcast_id, Delivery.status == "sent"
            )
        )
    return cpu / max(sent, 1), sent / wall, sent, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="per run (at most 2,000)")
    parser.add_argument("--latency", type=float, default=0.2, help="fake latency, pooled runs")
    parser.add_argument(
        "--pools", default="32:0.0005,256:0.0005,256:0.005", help="threads:switch interval (s)"
    )
    args = parser.parse_args()
    count = min(args.messages, 2000)  # one fan-out page: one batch
    redis_server = RedisServer()
    fast, slow = Fake(0.0, -10, True), Fake(args.latency, -10, True)
    databases = Databases("postgresql")
    rows = []
    try:
        fast.reset(None)
        base = twilio_alone(fast, count)
        rows.append(("twilio.send alone (baseline), 1 thread, latency 0", base, "", ""))
        rt, broadcast_id = prepared(databases, redis_server.url, fast, count, 1)
        cpu, statements, commits, sent = one_thread(rt, broadcast_id)
        rows.append((f"deliver(), 1 thread, latency 0 ({sent} messages)", cpu, statements, commits))
        for spec in args.pools.split(","):
            threads, switch = int(spec.split(":")[0]), float(spec.split(":")[1])
            slow.reset(None)
            rt, broadcast_id = prepared(databases, redis_server.url, slow, count, threads)
            cpu, rate, sent, error = pooled(rt, broadcast_id, switch)
            label = (
                f"send_batch, {threads} threads, switch {switch * 1000:g} ms, "
                f"latency {args.latency * 1000:.0f} ms ({sent} messages, {rate:.0f} msg/s{error})"
            )
            rows.append((label, cpu, "", ""))
    finally:
        runtime.reset()
        fast.stop()
        slow.stop()
        redis_server.stop()
        databases.stop()
    print("\n| run | CPU ms/message (this process) | x baseline | SQL statements | commits |")
    print("| --- | --- | --- | --- | --- |")
    for label, cpu, statements, commits in rows:
        s = f"{statements:.1f}" if statements != "" else ""
        c = f"{commits:.1f}" if commits != "" else ""
        print(f"| {label} | {cpu * 1000:.2f} | {cpu / base:.1f}x | {s} | {c} |")


if __name__ == "__main__":
    main()
