"""Tracked links: what they add to a broadcast's fan-out, and the redirect's throughput.

    .venv/bin/python bench/links.py --contacts 100000 --rounds 3 --clients 16 --seconds 10

Part 1, fan-out (one SQLite file, 100,000 subscribed SMS contacts, half es, half en):
two broadcasts with the same texts (a URL in each language), one with tracked links
and one without (``track_links=False``), each fanned out (``fanout.fan_out``: one
delivery row per contact) and then every recipient's message built as the send
job's claim builds it (``deliveries.draft_for`` and its throttle weight
``weight_of``, with the contacts read in chunks of 500 by ``recipients``). The two
take turns, --rounds times, in the same run; the ratio is tracked / untracked
(the issue's goal: at most 1.3x), of this process's CPU time (the fan-out runs in
it, on SQLite: CPU time is what the work costs, wall time what the shared
machine's other load adds to it; both are printed, medians and minima).

Part 2, the redirect (``GET /l/<code>``) under the Procfile's gunicorn command
(2 workers x 4 threads, bound to 127.0.0.1), Puente with PUENTE_ENV=production on
a durable PostgreSQL cluster started here (and a redis-server, as production
has), beside bench/links_baseline.py (a bare Flask app that 302s). The same
client for both: --clients keep-alive connections, each sending its GETs one at a
time; every Puente request is a different person's first click (one INSERT),
with a phone browser's user agent. The two take turns of --slice seconds until
each had --seconds. Printed: req/s, p50/p99 latency, statuses, and the ratio
Puente / baseline (the issue's goal: at least 0.5x).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import insert, select  # noqa: E402
from webhook import Gunicorn, _event_loop_runner, puente_env  # noqa: E402

from bot.broadcasts import broadcast, fanout  # noqa: E402
from bot.broadcasts.audiences import Filters  # noqa: E402
from bot.broadcasts.models import Delivery  # noqa: E402
from bot.contacts.models import Address, Contact, recipients  # noqa: E402
from bot.db import Database, upgrade  # noqa: E402
from bot.links import clicks, codes  # noqa: E402
from bot.links.models import BroadcastLink  # noqa: E402
from bot.sending import deliveries  # noqa: E402
from tests.services import PostgresServer, RedisServer  # noqa: E402

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
URL = "https://coalicion.example.org/marcha?utm_source=sms"
TEXTS = {
    "es": f"Marcha el sábado a las 10 en la plaza: {URL}. ¡Trae agua y amigos!",
    "en": f"March on Saturday at 10 in the square: {URL}. Bring water and friends!",
}
CONFIG = {"PUBLIC_URL": "https://puente.example.org", "LINK_DOMAIN": "", "SECRET_KEY": "b" * 32}
CHUNK = 500  # deliveries per claim, as a send job's chunk
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Version/17.1 Safari/604.1"


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


# --- part 1: fan-out and the bodies -----------------------------------------------


def new_broadcast(db: Database, track: bool) -> int:
    with db.session() as session:
        made = broadcast.create(
            session, "bench", TEXTS, Filters(), channels=["sms"], track_links=track, now=NOW
        )
        broadcast.send(session, made.id, NOW)
        return made.id


def plan_of(db: Database, broadcast_id: int, track: bool) -> deliveries.Plan:
    with db.session() as session:
        tracker = clicks.tracker(session, broadcast_id, track, CONFIG)
    return deliveries.Plan(broadcast_id, TEXTS, "en", (), None, {}, None, None, links=tracker)


def fan_out_and_build(db: Database, track: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of one broadcast's fan-out and every recipient's message."""
    started, cpu = time.perf_counter(), time.process_time()
    broadcast_id = new_broadcast(db, track)
    fanout.fan_out(db, broadcast_id, NOW, CHUNK, lambda _batch: None)
    fanned = time.perf_counter() - started
    plan = plan_of(db, broadcast_id, track)
    built, last_id = 0, 0
    while True:
        with db.session() as session:
            rows = session.execute(
                select(Delivery.id, Delivery.contact_id, Delivery.channel)
                .where(Delivery.broadcast_id == broadcast_id, Delivery.id > last_id)
                .order_by(Delivery.id)
                .limit(CHUNK)
            ).all()
            if not rows:
                break
            contacts = recipients(session, [r.contact_id for r in rows])
        for row in rows:
            item = deliveries.SendableDelivery(row.id, contacts[row.contact_id], row.channel, False)
            draft = deliveries.draft_for(plan, item)
            built += len(draft.body or "") + deliveries.weight_of(draft)
        last_id = rows[-1].id
    assert built > 0
    wall = time.perf_counter() - started
    print(f"    fan-out {fanned:.2f} s, bodies {wall - fanned:.2f} s (wall)", flush=True)
    return wall, time.process_time() - cpu


def part_one(contacts: int, rounds: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="puente-bench-links-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    seed(db, contacts)
    fan_out_and_build(db, True)  # warm-up: caches, the file's pages
    walls: dict[bool, list[float]] = {True: [], False: []}
    cpus: dict[bool, list[float]] = {True: [], False: []}
    for n in range(rounds):
        for track in (False, True) if n % 2 == 0 else (True, False):
            wall, cpu = fan_out_and_build(db, track)
            walls[track].append(wall)
            cpus[track].append(cpu)
            name = "tracked" if track else "untracked"
            print(f"  round {n + 1}, {name}: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    for what, times in (("CPU", cpus), ("wall", walls)):
        print(f"  {what}: untracked median {statistics.median(times[False]):.2f} s, min "
              f"{min(times[False]):.2f} s; tracked median {statistics.median(times[True]):.2f} s, "
              f"min {min(times[True]):.2f} s; ratio of medians "
              f"{statistics.median(times[True]) / statistics.median(times[False]):.2f}x, of minima "
              f"{min(times[True]) / min(times[False]):.2f}x")  # fmt: skip
    untracked, tracked = statistics.median(cpus[False]), statistics.median(cpus[True])
    ratio = tracked / untracked
    print(f"fan-out ratio (CPU, medians of {rounds}): tracked / untracked = {ratio:.2f}x "
          "(goal <= 1.3x)")  # fmt: skip
    db.engine.dispose()
    return ratio


# --- part 2: the redirect ---------------------------------------------------------


async def _connection(
    port: int,
    requests: Iterator[bytes],
    deadline: float,
    latencies: list[float],
    statuses: Counter,
) -> None:
    """One keep-alive connection sending the next request (each person's once) at a time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            one = next(requests, None)
            if one is None:
                return
            started = time.perf_counter()
            writer.write(one)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
            if b"connection: close" in head.lower():
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


def request(path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: puente.example.org\r\nUser-Agent: {BROWSER}\r\n"
        "Accept: text/html\r\n\r\n"
    ).encode()


class Target:
    def __init__(self, label: str, port: int, paths: list[str]) -> None:
        self.label, self.port = label, port
        self.requests = iter([request(p) for p in paths])  # shared by the connections
        self.seconds = 0.0
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()

    def turn(self, seconds: float, clients: int) -> None:
        async def run() -> None:
            deadline = time.perf_counter() + seconds
            await asyncio.gather(
                *(
                    _connection(self.port, self.requests, deadline, self.latencies, self.statuses)
                    for _ in range(clients)
                )
            )

        started = time.perf_counter()
        _event_loop_runner()(run())
        self.seconds += time.perf_counter() - started

    def report(self) -> float:
        done = sum(self.statuses.values())
        rate = done / self.seconds
        ms = sorted(x * 1000 for x in self.latencies)
        p50, p99 = ms[len(ms) // 2], ms[int(len(ms) * 0.99)]
        print(f"  {self.label}: {rate:.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"statuses {dict(self.statuses)}")  # fmt: skip
        return rate


def part_two(clients: int, seconds: float, slice_s: float, people: int) -> float:
    pg = PostgresServer(durable=True)
    redis = RedisServer()
    servers: list[Gunicorn] = []
    try:
        url = pg.url()
        upgrade(url)
        db = Database(url)
        seed(db, people)
        env = puente_env(url, redis.url)
        with db.session() as session:
            made = broadcast.create(session, "bench", TEXTS, Filters(), channels=["sms"], now=NOW)
            link_id = session.scalar(
                select(BroadcastLink.id).where(BroadcastLink.broadcast_id == made.id)
            )
        db.engine.dispose()
        key = codes.keys(env["SECRET_KEY"])
        paths = [f"/l/{codes.encode(link_id, i, key)}" for i in range(1, people + 1)]
        puente = Gunicorn("app:app", env)
        servers.append(puente)
        baseline = Gunicorn("links_baseline:app", {}, ["--pythonpath", str(ROOT / "bench")])
        servers.append(baseline)
        targets = [Target("puente /l/<code>", puente.port, paths),
                   Target("baseline: bare Flask 302", baseline.port, paths)]  # fmt: skip
        warm = 0
        for target in targets:  # warm-up, not measured
            target.turn(1.0, clients)
            warm += sum(target.statuses.values()) if target is targets[0] else 0
            target.latencies.clear(), target.statuses.clear()
            target.seconds = 0.0
        turns = max(1, round(seconds / slice_s))
        for _ in range(turns):
            for target in targets:
                target.turn(slice_s, clients)
        rates = [t.report() for t in targets]
        ratio = rates[0] / rates[1]
        print(f"redirect: puente / baseline = {ratio:.2f}x (goal >= 0.5x)")
        for server in servers:  # a graceful stop writes the clicks still waiting
            server.stop()
        servers.clear()
        with Database(url).session() as session:
            from sqlalchemy import func

            from bot.links.models import LinkClick

            stored = session.scalar(select(func.count()).select_from(LinkClick))
        answered = warm + sum(targets[0].statuses.values())
        print(f"  clicks recorded: {stored} of {answered} first clicks answered")
        return ratio
    finally:
        for server in servers:
            server.stop()
        redis.stop()
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--slice", type=float, default=2.0)
    parser.add_argument("--people", type=int, default=60_000, help="codes for part 2")
    parser.add_argument("--part", choices=("all", "fanout", "redirect"), default="all")
    args = parser.parse_args()
    if args.part in ("all", "fanout"):
        part_one(args.contacts, args.rounds)
    if args.part in ("all", "redirect"):
        part_two(args.clients, args.seconds, args.slice, args.people)


if __name__ == "__main__":
    main()
