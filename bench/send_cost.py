"""CPU per broadcast message in the sending engine, beside twilio-python's own cost per request.

    .venv/bin/python bench/send_cost.py --messages 2000 --latency 0.2

Where bench/send_rate.py measures whole workers, this runs the sending engine
from this process against bench/async_fake_twilio.py (its own process) and a
durable PostgreSQL. Rows:

- ``twilio.send`` alone (sync twilio-python + requests), one thread, fake
  latency 0: the old per-request cost, for reference;
- ``twilio.send_async`` alone on one ``twilio.AsyncClient``, --concurrency
  sends in flight at --latency: twilio-python async's own cost per request
  (aiohttp included), what the "x async baseline" column divides by;
- ``batches.send_batch`` of one batch of --messages deliveries at
  --latency, with the send job's GIL switch interval: the whole engine
  (plan and rows; the sending loop on uvloop with the sends on
  ``AsyncClient``, SEND_CONNECTIONS=--connections, and a Redis EVALSHA per
  chunk; and its bookkeeping in two forked child processes,
  bot/sending/bookkeeping.py: triage, claim + message rows per chunk,
  answers recorded every 0.1 s, the closing ``more_due`` read).

The baselines' CPU is this process's (``time.process_time``, every thread).
The engine's is split in two columns that add up to the total: the sending
loop (this process, every thread) and the bookkeeping children
(``getrusage(RUSAGE_CHILDREN)``: user + system CPU of the children reaped
while send_batch ran; it shuts its children down and waits for them before
it returns, so theirs is all there, their start included: the fork, their
own database pool and Redis connection). This process's other children,
the fakes and redis-server, are not reaped in that window (checked: its
children before it are all still there after it), and the PostgreSQL server
is not its child (pg_ctl starts it and exits): only the send job's children
count.

The SQL statements (one executemany counts once) and commits per message
are those of every engine, this process's and the children's (they build
their own): a listener on SQLAlchemy's ``Engine`` class, set before the
children fork, counts into shared memory.

msg/s is messages / wall time of the send_batch call. The sender's rate is
set far above what one process reaches, so the throttle never makes a send
wait; but a chunk's slots then fall within a few ms, the loop cannot start
them all within half the throttle margin, and a send woken later than that
books a new slot (one more EVALSHA: the notes line's evalsha/message counts
them).

A send job goes on with its broadcast's other batches when its own is done
(``more_due``), so the warm-up is another broadcast: WARM deliveries to
other contacts, sent by one send_batch on the same runtime before the
measured one (imports, this process's pools, compiled statements warm). The
measured broadcast has one batch of --messages deliveries and nothing else,
so the measured call sends exactly that many; it still pays its own start
(plan, rows, the children, event loop, HTTP connections). A notes line gives
how many were sent (and how many the fake received), the delivery statuses,
Redis calls and the PostgreSQL server's CPU per message (not in the figures
above).

Needs redis-server on PATH and PostgreSQL binaries (as bench/send_rate.py).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select, update  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

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
from bot.broadcasts import broadcast, fanout  # noqa: E402
from bot.broadcasts.audiences import Filters  # noqa: E402
from bot.broadcasts.models import Delivery  # noqa: E402
from bot.channels import twilio  # noqa: E402
from bot.config import from_environ  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.defaults import DEFAULT_SEND_CONNECTIONS  # noqa: E402
from bot.sending import process  # noqa: E402
from bot.sending.batches import send_batch  # noqa: E402
from bot.sending.jobs import SWITCH_INTERVAL_S  # noqa: E402

UNTHROTTLED = 100_000.0  # msg/s: the throttle never makes a send wait
WARM = 200  # deliveries of the warm-up broadcast, sent before the measured one
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


def children_cpu() -> float:
    """User + system CPU (s) of this process's children reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_pids() -> set[int]:
    """This process's children not reaped yet (zombies included), from /proc."""
    me, found = os.getpid(), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:  # ppid
            found.add(int(stat.parent.name))
    return found


class SqlCounts:
    """SQL statements and commits on every engine: this process's, and those its
    forked children build (the listener is on the class, inherited by the fork;
    the counts are in shared memory).
    """

    def __init__(self) -> None:
        self.values = multiprocessing.get_context("fork").Array("q", 2)  # with a lock
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)

    def _statement(self, *_args: object) -> None:
        with self.values.get_lock():
            self.values[0] += 1

    def _commit(self, *_args: object) -> None:
        with self.values.get_lock():
            self.values[1] += 1

    def close(self) -> tuple[int, int]:
        """Stop counting: (statements, commits)."""
        event.remove(Engine, "before_cursor_execute", self._statement)
        event.remove(Engine, "commit", self._commit)
        return self.values[0], self.values[1]


def prepared(
    databases: Databases, redis_url: str, fake: Fake, count: int, connections: int
) -> tuple[process.Runtime, int, int]:
    """A runtime; a broadcast with ``count`` deliveries, all in batch 0; and a warm-up
    broadcast with WARM deliveries (other contacts), in its batch 0.
    """
    url = databases.fresh()
    db = Database(url)
    seed(db, count + WARM)
    with db.session() as session:
        measured = broadcast.create(session, "bench", TEXTS, Filters(), channels=["sms"], now=NOW)
        warm = broadcast.create(session, "warm-up", TEXTS, Filters(), channels=["sms"], now=NOW)
        for created in (measured, warm):
            broadcast.send(session, created.id, NOW)
        measured_id, warm_id = measured.id, warm.id
    db.engine.dispose()
    extra = {"SEND_CONNECTIONS": str(connections)}
    env = worker_env(url, redis_url, fake.url, UNTHROTTLED, extra)
    runtime = process.build(from_environ(env))
    process.use(runtime)
    runtime.redis.flushall()
    batches: list[int] = []
    fanout.fan_out(runtime.db, measured_id, NOW, count, batches.append)
    if batches[0] != 0:
        raise RuntimeError(f"fan-out wrote batches {batches}, expected batch 0 first")
    # Contacts 1..count are batch 0; the last WARM (later batches) go to the warm-up
    # broadcast, so the measured send job finds nothing more to send (`more_due`).
    with runtime.db.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.broadcast_id == measured_id, Delivery.batch > 0)
            .values(broadcast_id=warm_id, batch=0)
            .execution_options(synchronize_session=False)
        )
    with runtime.db.session() as session:
        found = dict(
            session.execute(
                select(Delivery.broadcast_id, func.count())
                .where(Delivery.batch == 0)
                .group_by(Delivery.broadcast_id)
            ).all()
        )
    if found != {measured_id: count, warm_id: WARM}:
        raise RuntimeError(f"batch 0 deliveries by broadcast: {found}")
    return runtime, measured_id, warm_id


@dataclass
class EngineRun:
    loop_cpu: float  # s per message, this process (every thread)
    children_cpu: float  # s per message, the bookkeeping children
    rate: float  # messages/s
    statements: float  # per message, every engine
    commits: float
    notes: str


def engine(
    runtime: process.Runtime, measured_id: int, warm_id: int, databases: Databases, fake: Fake
) -> EngineRun:
    """send_batch of the warm-up broadcast, then of the measured one (measured)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as the send job does
    try:
        warmed = send_batch(runtime, warm_id, 0, slice_s=3600)
        fake.reset(None)  # the fake counts the measured call's requests only
        multiprocessing.active_children()  # reap any finished multiprocessing child now
        before = child_pids()  # the fake, redis-server: none may be reaped in the window
        counts = SqlCounts()
        runtime.redis.config_resetstat()
        db_cpu0 = databases.cpu()
        children0 = children_cpu()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        try:
            result = send_batch(runtime, measured_id, 0, slice_s=3600)
        finally:
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            children = children_cpu() - children0
            db_cpu = databases.cpu() - db_cpu0
            statements, commits = counts.close()
    finally:
        sys.setswitchinterval(previous)
    reaped = before - child_pids()
    if reaped:
        raise RuntimeError(f"children {sorted(reaped)} were reaped in the window")
    calls = {k.removeprefix("cmdstat_"): v["calls"]
             for k, v in runtime.redis.info("commandstats").items()}  # fmt: skip
    received = fake.stats()["total"]
    with runtime.db.session() as session:
        sent = session.scalar(
            select(func.count()).where(
                Delivery.broadcast_id == measured_id, Delivery.status == "sent"
            )
        )
    per = max(sent, 1)
    redis_calls = ", ".join(f"{k} {v / per:.3f}" for k, v in sorted(calls.items()) if k != "info")
    notes = (
        f"warm-up: statuses {warmed.statuses}; "
        f"measured send_batch: {sent} sent (the fake received {received}), "
        f"statuses {result.statuses}, left {result.left}; "
        f"Redis calls/message: {redis_calls or 'none'}; "
        f"PostgreSQL server CPU {db_cpu / per * 1000:.2f} ms/message"
    )
    return EngineRun(cpu / per, children / per, sent / wall, statements / per, commits / per, notes)


# --- the report ---------------------------------------------------------------


@dataclass
class Row:
    label: str
    cpu: float  # s per message, total
    rate: float
    loop: float | None = None
    children: float | None = None
    statements: float | None = None
    commits: float | None = None


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
    rows: list[Row] = []
    notes = ""
    try:
        fast.reset(None)
        cpu, rate = twilio_alone(fast, count)
        rows.append(Row("twilio.send (sync) alone, 1 thread, latency 0", cpu, rate))
        slow.reset(None)
        cpu, rate = twilio_async_alone(slow, count, args.concurrency)
        label = f"twilio.send_async alone (baseline), {args.concurrency} in flight, {latency}"
        rows.append(Row(label, cpu, rate))
        base = cpu
        slow.reset(None)
        runtime, measured_id, warm_id = prepared(
            databases, redis_server.url, slow, count, args.connections
        )
        run = engine(runtime, measured_id, warm_id, databases, slow)
        notes = run.notes
        label = (
            f"send_batch, SEND_CONNECTIONS={args.connections}, "
            f"switch {SWITCH_INTERVAL_S * 1000:g} ms, {latency}"
        )
        total = run.loop_cpu + run.children_cpu
        rows.append(
            Row(label, total, run.rate, run.loop_cpu, run.children_cpu, run.statements, run.commits)
        )
    finally:
        process.reset()
        fast.stop()
        slow.stop()
        redis_server.stop()
        databases.stop()

    def ms(value: float | None) -> str:
        return f"{value * 1000:.3f}" if value is not None else ""

    print(
        f"\n{count} messages per run; CPU: this process (all threads), "
        "plus the send job's bookkeeping children for send_batch\n"
    )
    print(
        "| run | CPU ms/message | sending loop (this process) | bookkeeping children "
        "| msg/s | x async baseline | SQL statements/msg | commits/msg |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        s = f"{row.statements:.2f}" if row.statements is not None else ""
        c = f"{row.commits:.3f}" if row.commits is not None else ""
        print(
            f"| {row.label} | {ms(row.cpu)} | {ms(row.loop)} | {ms(row.children)} "
            f"| {row.rate:.0f} | {row.cpu / base:.2f}x | {s} | {c} |"
        )
    print(f"\n{notes}")


if __name__ == "__main__":
    main()
