"""Broadcast send rate against a fake Twilio API with 200 ms latency, beside a plain client.

    .venv/bin/python bench/send_rate.py --rates 100,1000 --sweep 1500,2000,3000

For each configured rate R (SMS_RATE_PER_S): a fresh database with R x
--seconds opted-in contacts, one SMS broadcast to all of them, real
`python worker.py` processes (RQ, forking work horses, the Redis throttle)
sending through twilio-python to bench/async_fake_twilio.py, which answers
each request after --latency and refuses with 429 / 20429 a send past R in
any one-second window. Everything is measured from the fake's receive
timestamps:

- steady rate: messages received in the middle 60 % of the run (first to
  last message) per second, and its ratio to R (target >= 0.95);
- overall rate: (messages - 1) / (last - first received);
- busiest one-second window (sliding) of accepted messages, and of every
  request received (accepted + refused): above R means the throttle let
  too many through; 429s count the refused ones (targets: 0);

Then, in the same run, the baseline: a plain asyncio HTTP client (raw
streams, keep-alive connections, nothing else) posting the same form bodies
with as many connections as the engine's HTTP pools, as fast as the
fake answers, with the fake's limit off: the ceiling of this fake on this
machine. The table ends with the engine's best steady rate / that ceiling.

Needs redis-server on PATH; PostgreSQL binaries for --database postgresql.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import datetime as dt
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rq import Worker  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bot import queue  # noqa: E402
from bot.broadcasts import broadcast  # noqa: E402
from bot.broadcasts.audiences import Filters  # noqa: E402
from bot.broadcasts.models import Broadcast, Delivery  # noqa: E402
from bot.contacts.models import Address, Contact  # noqa: E402
from bot.db import Database, upgrade  # noqa: E402
from bot.sending import queueing  # noqa: E402
from tests.services import PostgresServer, RedisServer, free_port, wait_for_port  # noqa: E402

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "bench-token"
SMS_FROM = "+12135550100"
TEXTS = {"en": "March on Saturday at 10, City Hall", "es": "Marcha el sábado a las 10, Alcaldía"}
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
STEADY = (0.2, 0.8)  # the middle of the run, as fractions of first..last message


# --- measuring ----------------------------------------------------------------


@dataclass
class Figures:
    """What the fake saw in one phase."""

    label: str
    configured: float | None  # None: no limit (the baseline)
    expected: int
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    steady_rate: float = 0.0
    steady_s: float = 0.0
    overall_rate: float = 0.0
    max_accepted: int = 0  # busiest one-second window, accepted messages
    max_all: int = 0  # busiest one-second window, every request (accepted + 429)
    over_windows: int = 0  # requests whose trailing second held more than the limit
    slow_seconds: int = 0  # whole seconds of the steady window below half the configured rate
    refused: int = 0
    loop_lag_ms: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # busy cores, per process kind
    notes: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)

    def ratio(self, rate: float) -> float:
        return rate / self.configured if self.configured else float("nan")


def max_in_window(times: list[float], window_s: float = 1.0) -> int:
    """Most timestamps (sorted) within any ``window_s`` (the real fake's definition)."""
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def over_limit(times: list[float], limit: float, window_s: float = 1.0) -> int:
    """How many timestamps end a window of ``window_s`` holding more than ``limit``."""
    over = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        if end - start + 1 > limit:
            over += 1
    return over


def measure(figures: Figures, accepted: list[float], refused: list[float]) -> Figures:
    accepted = sorted(accepted)
    everything = sorted(accepted + refused)
    figures.count, figures.refused = len(accepted), len(refused)
    if len(accepted) < 2:
        return figures
    figures.first, figures.last = accepted[0], accepted[-1]
    span = figures.last - figures.first
    figures.overall_rate = (len(accepted) - 1) / span if span > 0 else 0.0
    lo, hi = figures.first + STEADY[0] * span, figures.first + STEADY[1] * span
    inside = bisect.bisect_left(accepted, hi) - bisect.bisect_left(accepted, lo)
    figures.steady_s = hi - lo
    figures.steady_rate = inside / figures.steady_s if figures.steady_s > 0 else 0.0
    if figures.configured:
        for second in range(int(figures.steady_s)):
            start = lo + second
            sent = bisect.bisect_left(accepted, start + 1) - bisect.bisect_left(accepted, start)
            figures.slow_seconds += sent < figures.configured / 2
    figures.max_accepted = max_in_window(accepted)
    figures.max_all = max_in_window(everything)
    if figures.configured:
        figures.over_windows = over_limit(everything, figures.configured)
    return figures


# --- the fake and the processes -----------------------------------------------


class Fake:
    """bench/async_fake_twilio.py in its own process (its own GIL)."""

    def __init__(self, latency_s: float, nice: int = 0, realtime: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, str(ROOT / "bench" / "async_fake_twilio.py")]
        args += ["--port", str(self.port), "--latency", str(latency_s)]

        # Twilio is not on our CPU: a higher priority keeps the fake's clock (its
        # receive timestamps) from stalling behind the workers (needs root).
        def prioritize() -> None:
            if nice:
                os.nice(nice)
            if realtime:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))

        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, preexec_fn=prioritize)
        wait_for_port(self.port)
        self.latency_s = latency_s

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def reset(self, rate_per_s: float | None) -> None:
        rate = None if rate_per_s is None else int(rate_per_s)
        self.call("POST", "/_fake/reset", {"rate_per_s": rate, "latency_s": self.latency_s})

    def stats(self) -> dict[str, Any]:
        return self.call("GET", "/_fake/stats")

    def times(self) -> tuple[list[float], list[float]]:
        answer = self.call("GET", "/_fake/times")
        accepted = [t for ts in answer["accepted"].values() for t in ts]
        refused = [t for ts in answer["refused"].values() for t in ts]
        return accepted, refused

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU of a process (and its reaped children) from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime (work horses)
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU of a process, its reaped children and its live children (work horses, backends)."""
    total = cpu_seconds(pid, children=True)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # ppid
            total += cpu_seconds(int(stat.parent.name), children=True)
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Workers:
    """`python worker.py` processes, each in its own process group."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        fd, name = tempfile.mkstemp(prefix="puente-bench-worker-", suffix=".log")
        self.log = os.fdopen(fd, "wb")
        self.log_name = name
        self.processes = [
            subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                env=full,
                cwd=ROOT,
                start_new_session=True,
                stdout=self.log,
                stderr=self.log,
            )
            for _ in range(count)
        ]

    def cpu(self) -> float:
        return sum(tree_cpu(p.pid) for p in self.processes)

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.log.close()


def worker_errors(path: str) -> dict[str, int]:
    """Exceptions the workers logged (the last line of each traceback), by kind."""
    found: dict[str, int] = {}
    for line in Path(path).read_text(errors="replace").splitlines():
        name = line.split(":", 1)[0].strip()
        if (
            line[:1].strip()
            and name.endswith(("Error", "Exception", "Timeout"))
            and " " not in name
        ):
            found[name] = found.get(name, 0) + 1
    return found


# --- databases ----------------------------------------------------------------


class Postgres(PostgresServer):
    """The tests' PostgreSQL cluster, durable by default (fsync on, as in production)."""

    def __init__(self, durable: bool = True) -> None:
        super().__init__(durable, max_connections=300, options="-c shared_buffers=256MB")


class Databases:
    """A fresh migrated database per phase: a copied SQLite file or a PostgreSQL template."""

    def __init__(self, kind: str, durable: bool = True) -> None:
        self.kind = kind
        self.folder = Path(tempfile.mkdtemp(prefix="puente-send-rate-"))
        self.count = 0
        self.postgres: Postgres | None = None
        if kind == "sqlite":
            self.template = self.folder / "template.db"
            upgrade(f"sqlite:///{self.template}")
        else:
            self.postgres = Postgres(durable)
            self._admin("CREATE DATABASE bench_template")
            upgrade(self.postgres.url("bench_template"))

    def _admin(self, sql: str) -> None:
        from sqlalchemy import create_engine

        assert self.postgres is not None
        engine = create_engine(self.postgres.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql(sql)
        engine.dispose()

    def cpu(self) -> float:
        """CPU of the PostgreSQL server (0 for SQLite: it runs inside the workers)."""
        return tree_cpu(self.postgres.pid()) if self.postgres else 0.0

    def fresh(self) -> str:
        self.count += 1
        if self.kind == "sqlite":
            path = self.folder / f"phase{self.count}.db"
            shutil.copyfile(self.template, path)
            return f"sqlite:///{path}"
        self._admin(f"CREATE DATABASE bench_{self.count} TEMPLATE bench_template")
        assert self.postgres is not None
        return self.postgres.url(f"bench_{self.count}")

    def stop(self) -> None:
        if self.postgres is not None:
            self.postgres.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def seed(db: Database, count: int) -> None:
    """``count`` opted-in SMS contacts, half English, half Spanish."""
    with db.session() as session:
        for start in range(0, count, 10000):
            ids = range(start + 1, min(start + 10001, count + 1))
            session.execute(
                insert(Contact),
                [
                    {
                        "id": i,
                        "phone": f"+1213{i:07d}",
                        "language": "es" if i % 2 else "en",
                        "status": "active",
                        "opted_in_at": NOW,
                        "country": "US",
                        "fields": {},
                        "created_at": NOW,
                        "language_chosen": True,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(Address),
                [
                    {
                        "contact_id": i,
                        "channel": "sms",
                        "address": f"+1213{i:07d}",
                        "created_at": NOW,
                    }
                    for i in ids
                ],
            )


def worker_env(
    database_url: str, redis_url: str, fake_url: str, rate: float, extra: dict[str, str]
) -> dict[str, str]:
    env = {
        "PUENTE_ENV": "development",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PUBLIC_URL": "http://127.0.0.1:9",  # status callbacks: the fake never sends them
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_FROM": SMS_FROM,
        "TWILIO_API_URL": fake_url,
        "SMS_RATE_PER_S": str(rate),
        "LOG_LEVEL": "WARNING",
        "QUIET_HOURS_START": "0",  # the window open all day: this measures sending
        "QUIET_HOURS_END": "24",
        "QUIET_HOURS_START_MX": "0",
    }
    env.update(extra)
    return env


# --- profiling (optional: --py-spy PATH) --------------------------------------

STEPS = {  # engine steps, by a frame on the stack (py-spy's names; inclusive)
    "claim (bot/sending/deliveries.py)": "claim a chunk: UPDATE deliveries + message rows",
    "record (bot/sending/deliveries.py)": "record answers: UPDATE messages + deliveries",
    "_book (bot/sending/pacing.py)": "throttle slots for a chunk (Redis EVALSHA)",
    "_wait_for (bot/sending/pacing.py)": "waiting for a slot (late: re-book)",
    "send_async (bot/channels/twilio.py)": "twilio-python + aiohttp (the API call)",
    "triage (bot/sending/deliveries.py)": "quiet hours + pause check",
    "Liveness.go_on (bot/sending/deliveries.py)": "liveness check",
    "build (bot/sending/process.py)": "work horse builds its runtime (imports, pools)",
    "read_flows (bot/flows/loader.py)": "flows loaded (YAML)",
    "_contacts (bot/sending/deliveries.py)": "batch start: load contacts",
    "send_batch (bot/sending/batches.py)": "batch start: rows, plan",
    "fan_out (bot/broadcasts/fanout.py)": "fan-out",
}


class Profiler:
    """py-spy on each worker and its work horses, from 20 % to 70 % of the messages.

    Only samples of threads holding the GIL count (``--gil``): where the CPU goes.
    """

    def __init__(self, py_spy: str, pids: list[int]) -> None:
        self.py_spy, self.pids = py_spy, pids
        self.folder = Path(tempfile.mkdtemp(prefix="puente-bench-profile-"))
        self.running: list[subprocess.Popen[bytes]] = []
        self.done = False

    def at(self, sent: int, count: int) -> None:
        if not self.running and not self.done and sent >= 0.2 * count:
            self.running = [
                subprocess.Popen(
                    [
                        self.py_spy,
                        "record",
                        "--pid",
                        str(pid),
                        "--subprocesses",
                        "--gil",
                        "--nonblocking",
                        "--nolineno",
                        "--rate",
                        "50",
                        "--format",
                        "raw",
                        "--output",
                        str(self.folder / f"worker-{pid}.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                for pid in self.pids
            ]
        elif self.running and sent >= 0.7 * count:
            self.stop()

    def stop(self) -> None:
        for process in self.running:
            process.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        for process in self.running:
            process.wait(timeout=60)
        self.running, self.done = [], True


def summarize_profile(folder: Path, top: int = 12) -> list[str]:
    """Shares of the GIL-holding samples: by engine step (inclusive) and by package (self)."""
    steps: dict[str, int] = {}
    packages: dict[str, int] = {}
    leaves: dict[str, int] = {}
    total = 0
    for path in folder.glob("worker-*.txt"):
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            total += count
            frames = stack.split(";")
            label = "other"
            for frame in reversed(frames):  # the innermost engine step
                if frame in STEPS:
                    label = STEPS[frame]
                    break
            steps[label] = steps.get(label, 0) + count
            leaf = frames[-1]
            file = leaf[leaf.rfind("(") + 1 : -1] if leaf.endswith(")") else leaf
            package = file.split("/")[0] if "/" in file else file
            packages[package] = packages.get(package, 0) + count
            leaves[leaf] = leaves.get(leaf, 0) + count
    if not total:
        return ["no samples"]
    out = [f"{total} samples holding the GIL (50/s per process)", "by engine step (inclusive):"]
    out += [f"  {n / total:6.1%}  {k}" for k, n in sorted(steps.items(), key=lambda kv: -kv[1])]
    out.append("by package of the innermost frame (self):")
    ranked = sorted(packages.items(), key=lambda kv: -kv[1])[:top]
    out += [f"  {n / total:6.1%}  {k}" for k, n in ranked]
    out.append("hottest innermost frames (self):")
    hottest = sorted(leaves.items(), key=lambda kv: -kv[1])[:top]
    out += [f"  {n / total:6.1%}  {k}" for k, n in hottest]
    return out


# --- one engine phase ---------------------------------------------------------


def run_engine(
    rate: float,
    seconds: float,
    workers: int,
    fake: Fake,
    redis_server: RedisServer,
    databases: Databases,
    extra: dict[str, str],
    py_spy: str | None = None,
) -> Figures:
    count = int(rate * seconds)
    figures = Figures(f"engine {rate:g}/s", rate, count)
    url = databases.fresh()
    db = Database(url)
    seed(db, count)
    connection = queue.connect(redis_server.url)
    connection.flushall()
    connection.config_resetstat()
    fake.reset(rate)
    with db.session() as session:
        created = broadcast.create(session, "bench", TEXTS, Filters(), channels=["sms"], now=NOW)
        broadcast.send(session, created.id, NOW)
        broadcast_id = created.id
    env = worker_env(url, redis_server.url, fake.url, rate, extra)
    started = Workers(workers, env)
    try:
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=connection)) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers did not start; see {started.log_name}")
            time.sleep(0.2)
        cpu0 = (
            started.cpu(),
            cpu_seconds(fake.process.pid),
            cpu_seconds(redis_server.process.pid),
            machine_busy(),
            databases.cpu(),
        )
        wall0 = time.monotonic()
        queueing.queue_fan_out(connection, broadcast_id)  # what the dashboard's "send" does
        profiler = Profiler(py_spy, [p.pid for p in started.processes]) if py_spy else None
        _wait(fake, db, broadcast_id, count, figures, profiler)
        wall = time.monotonic() - wall0
        busy1 = machine_busy()
        figures.cpu = {
            "workers": (started.cpu() - cpu0[0]) / wall,
            "fake": (cpu_seconds(fake.process.pid) - cpu0[1]) / wall,
            "redis": (cpu_seconds(redis_server.process.pid) - cpu0[2]) / wall,
            "db": (databases.cpu() - cpu0[4]) / wall,
            "machine": (busy1[0] - cpu0[3][0]) / max(busy1[1] - cpu0[3][1], 1) * os.cpu_count(),
        }
        figures.notes.append(f"kick to done {wall:.1f} s")
        calls = {k.removeprefix("cmdstat_"): v["calls"]
                 for k, v in connection.info("commandstats").items()}  # fmt: skip
        # One EVALSHA books (or is refused) one throttle slot; a thread that woke up
        # too late books again, so EVALSHA - messages counts wasted slots and retries.
        figures.notes.append(
            f"Redis per message: EVALSHA {calls.get('evalsha', 0) / count:.2f}, "
            f"PTTL {calls.get('pttl', 0) / count:.2f}"
        )
        for kind in ("workers", "db"):
            if figures.cpu[kind]:
                figures.notes.append(
                    f"{kind} CPU {figures.cpu[kind] * wall / count * 1000:.2f} ms/message"
                )
        if profiler is not None:
            profiler.stop()
            figures.profile = summarize_profile(profiler.folder)
    finally:
        started.stop()
    errors = worker_errors(started.log_name)
    if errors:
        figures.notes.append(f"worker log {started.log_name}: {errors}")
    stats = fake.stats()
    figures.loop_lag_ms = stats["loop_lag_ms"]
    accepted, refused = fake.times()
    measure(figures, accepted, refused)
    timeline = Path(tempfile.mkstemp(prefix="puente-bench-times-", suffix=".json")[1])
    timeline.write_text(json.dumps({"accepted": sorted(accepted), "refused": sorted(refused)}))
    figures.notes.append(f"receive times in {timeline}")
    with db.session() as session:
        states = dict(
            session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.broadcast_id == broadcast_id)
                .group_by(Delivery.status)
            ).all()
        )
    if states != {"sent": count}:
        figures.notes.append(f"deliveries {states}")
    db.engine.dispose()
    return figures


def _wait(
    fake: Fake,
    db: Database,
    broadcast_id: int,
    count: int,
    figures: Figures,
    profiler: Profiler | None = None,
) -> None:
    """Until the broadcast is done; prints what the fake saw each 2 s."""
    last_total, last_change, last_print = -1, time.monotonic(), 0.0
    while True:
        time.sleep(0.5)
        stats = fake.stats()
        total = stats["total"]
        now = time.monotonic()
        if total != last_total:
            last_total, last_change = total, now
        if profiler is not None:
            profiler.at(total, count)
        if now - last_print >= 2:
            print(f"  {figures.label}: {total}/{count} sent, 429s {stats['throttled']}", flush=True)
            last_print = now
        if total >= count:
            break
        if now - last_change > 60:
            figures.notes.append(f"stalled at {total}/{count}")
            return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with db.session() as session:
            status = session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id))
        if status == "done":
            return
        time.sleep(0.5)
    figures.notes.append("broadcast not marked done within 60 s of the last send")


# --- the baseline: a plain asyncio client -------------------------------------


async def _client(fake_url: str, connections: int, seconds: float) -> int:
    """``connections`` keep-alive connections posting Messages.json until ``seconds`` pass."""
    parsed = urllib.parse.urlsplit(fake_url)
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    stop_at = time.monotonic() + seconds
    done = 0
    counter = iter(range(1, 10**9))

    async def one_connection() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
        while time.monotonic() < stop_at:
            i = next(counter)
            body = urllib.parse.urlencode(
                {
                    "To": f"+1213{i:07d}",
                    "From": SMS_FROM,
                    "Body": TEXTS["es" if i % 2 else "en"],
                    "StatusCallback": "http://127.0.0.1:9/twilio/status",
                }
            ).encode()
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {parsed.netloc}\r\nAuthorization: Basic {auth}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n"
                f"Connection: keep-alive\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            message = json.loads(await reader.readexactly(length))
            if head.startswith(b"HTTP/1.1 201") and message.get("sid"):
                done += 1
        writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return done


def run_baseline(fake: Fake, connections: int, seconds: float) -> Figures:
    figures = Figures(f"plain asyncio client, {connections} connections", None, 0)
    fake.reset(None)
    cpu0, wall0 = cpu_seconds(os.getpid()), time.monotonic()
    fake_cpu0 = cpu_seconds(fake.process.pid)
    figures.expected = asyncio.run(_client(fake.url, connections, seconds))
    wall = time.monotonic() - wall0
    figures.cpu = {
        "client": (cpu_seconds(os.getpid()) - cpu0) / wall,
        "fake": (cpu_seconds(fake.process.pid) - fake_cpu0) / wall,
    }
    figures.loop_lag_ms = fake.stats()["loop_lag_ms"]
    return measure(figures, *fake.times())


# --- the report ---------------------------------------------------------------


def report(results: list[Figures], baseline: Figures, target: float = 0.95) -> None:
    print()
    print(
        "| configured msg/s | messages | steady msg/s (ratio) | overall msg/s (ratio) "
        "| busiest 1 s: accepted / all requests | windows over limit | 429s "
        "| CPU cores: workers / db / fake / redis / machine |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for f in results:
        cpu = f.cpu
        print(
            f"| {f.configured:g} | {f.count:,}/{f.expected:,} "
            f"| {f.steady_rate:.1f} ({f.ratio(f.steady_rate):.3f}) "
            f"| {f.overall_rate:.1f} ({f.ratio(f.overall_rate):.3f}) "
            f"| {f.max_accepted} / {f.max_all} | {f.over_windows} | {f.refused} "
            f"| {cpu.get('workers', 0):.2f} / {cpu.get('db', 0):.2f} / {cpu.get('fake', 0):.2f}"
            f" / {cpu.get('redis', 0):.2f}"
            f" / {cpu.get('machine', 0):.2f} |"
        )
    print()
    print(
        f"baseline ({baseline.label}): steady {baseline.steady_rate:.1f} msg/s, "
        f"overall {baseline.overall_rate:.1f} msg/s, {baseline.count:,} messages, "
        f"CPU client {baseline.cpu['client']:.2f} / fake {baseline.cpu['fake']:.2f} cores, "
        f"fake loop lag {baseline.loop_lag_ms}"
    )
    ok = [
        f
        for f in results
        if f.ratio(f.steady_rate) >= target
        and f.refused == 0
        and f.over_windows == 0
        and f.count == f.expected
    ]
    best = max(results, key=lambda f: f.steady_rate)
    if ok:
        top = max(ok, key=lambda f: f.configured or 0)
        print(
            f"highest configured rate met (steady >= {target} x, no window over, no 429): "
            f"{top.configured:g}/s, steady {top.steady_rate:.1f} msg/s"
        )
    else:
        print(f"no configured rate met steady >= {target} x with no window over and no 429")
    print(
        f"engine's best steady rate: {best.steady_rate:.1f} msg/s (configured "
        f"{best.configured:g}/s) = {best.steady_rate / baseline.steady_rate:.3f} x the baseline"
    )
    for f in results:
        extra = f", {f.slow_seconds} s of it below half rate" if f.configured else ""
        extra += f", fake loop lag {f.loop_lag_ms}" if f.loop_lag_ms else ""
        print(f"  {f.label}: steady window {f.steady_s:.1f} s{extra}; " + "; ".join(f.notes))
    for f in results:
        if f.profile:
            print(f"\nprofile of the workers, {f.label} (py-spy --gil, 20-70 % of the messages):")
            print("\n".join(f.profile))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,1000", help="configured SMS rates (msg/s)")
    parser.add_argument("--sweep", default="", help="more configured rates, to find the top")
    parser.add_argument("--seconds", type=float, default=25, help="messages = rate x seconds")
    parser.add_argument("--workers", type=int, default=2, help="worker.py processes")
    parser.add_argument("--latency", type=float, default=0.2, help="fake API latency (s)")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--pg-fast",
        action="store_true",
        help="PostgreSQL with fsync and synchronous_commit off, as in the tests",
    )
    parser.add_argument("--baseline-seconds", type=float, default=20)
    parser.add_argument(
        "--connections",
        type=int,
        default=0,
        help="baseline connections (default: the engine's HTTP connections)",
    )
    parser.add_argument(
        "--fake-nice", type=int, default=-10, help="the fake's nice value (root only; 0: off)"
    )
    parser.add_argument(
        "--fake-realtime",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the fake SCHED_FIFO (root only): its clock then barely stalls",
    )
    parser.add_argument(
        "--py-spy",
        default=None,
        metavar="PATH",
        help="profile the workers of every phase with this py-spy binary",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra worker setting, e.g. SEND_CONNECTIONS=128",
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.set)
    rates = [float(r) for r in (args.rates + "," + args.sweep).split(",") if r.strip()]
    root = os.geteuid() == 0
    nice = args.fake_nice if root else 0
    realtime = args.fake_realtime and root
    print(
        f"{os.cpu_count()} cores; latency {args.latency * 1000:.0f} ms; {args.workers} workers; "
        f"{args.database}{' (fsync off)' if args.pg_fast else ''}; fake nice {nice}"
        f"{', SCHED_FIFO' if realtime else ''}; "
        f"settings {extra or 'defaults'}",
        flush=True,
    )
    redis_server = RedisServer()
    fake = Fake(args.latency, nice, realtime)
    databases = Databases(args.database, durable=not args.pg_fast)
    results: list[Figures] = []
    try:
        for rate in rates:
            results.append(
                run_engine(
                    rate,
                    args.seconds,
                    args.workers,
                    fake,
                    redis_server,
                    databases,
                    extra,
                    args.py_spy,
                )
            )
            f = results[-1]
            print(
                f"  -> steady {f.steady_rate:.1f} msg/s ({f.ratio(f.steady_rate):.3f}), "
                f"busiest second {f.max_accepted}/{f.max_all}, 429s {f.refused}; "
                + "; ".join(f.notes),
                flush=True,
            )
        connections_per_job = int(extra.get("SEND_CONNECTIONS", 256))
        per_job = min(connections_per_job, max(4, math.ceil(max(rates) * 0.5)))
        connections = args.connections or per_job * args.workers
        print(f"baseline: {connections} connections for {args.baseline_seconds:g} s", flush=True)
        baseline = run_baseline(fake, connections, args.baseline_seconds)
        report(results, baseline)
    finally:
        fake.stop()
        redis_server.stop()
        databases.stop()


if __name__ == "__main__":
    main()
