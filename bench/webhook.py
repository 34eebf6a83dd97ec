"""Inbound webhook: Puente's /twilio/messages under gunicorn, beside two baselines.

    .venv/bin/python bench/webhook.py --clients 32 --seconds 10 --rounds 2

Every target runs under the Procfile's `web:` gunicorn command (read from the
Procfile: 2 workers x 4 threads, --timeout 14; bound to 127.0.0.1 here),
against one fresh, durable PostgreSQL cluster (fsync and synchronous_commit
on) and a real redis-server, all started by this script:

- puente: `app:app` with PUENTE_ENV=production and real settings (the
  database migrated with `puente db upgrade`; TWILIO_API_URL a dead local
  URL, as replies go back as TwiML; LOG_LEVEL=WARNING), in two scenarios:
  - join: a new number texts the join flow's keyword (JOIN or UNIRME);
  - answer: a contact already in the join flow answers its questions (name,
    then ZIP, then causes; each contact's answers in order on one
    connection). These contacts texted the keyword before: in the
    unmeasured warm-up, or in the join scenario.
- baseline a: a bare Flask app that checks X-Twilio-Signature with twilio's
  RequestValidator and answers empty TwiML (bench/webhook_baselines.py);
- baseline b: the same plus one durable INSERT per request, committed before
  the answer, on a fresh pool per worker.

The client is the same for all: --clients connections on loopback, each
sending its requests one at a time (asyncio streams on uvloop). Every
request is built and signed for PUBLIC_URL before its turn starts, with
Twilio's form fields and headers and a unique MessageSid. Connections are
keep-alive and held evenly by the two workers (--connect balanced: left to
the kernel, one worker accepts nearly all of them and the other idles);
--connect per-request opens a new one for each request instead. Every
status is checked: non-2xx answers are counted and reported (5xx loudly),
and every Puente answer must hold a <Message>.

The three servers are up together (an idle one costs nothing); after an
unmeasured --warmup each, they take turns of --slice seconds (connections
opened before a turn's clock starts) until each had --seconds of load: first
baselines a and b with "join", then with "answer". The machine is shared and
other sessions' load comes and goes within seconds; in turns, every target
sees about the same of it. --rounds repeats both periods.

Printed per target: req/s, p50/p99/max latency, errors, CPU ms per request
(gunicorn workers, PostgreSQL, this client), busy cores (and how much of that
was other processes), then Puente / baseline b (from the same turns) for
req/s and p99 (the issue's goal: >= 0.5x the throughput, p99 <= 2x), Redis
commands per request, and SQL statements, commits and pool checkouts per
inbound request, counted afterwards in this process with SQLAlchemy events
(same app, same database).

--py-spy PATH profiles the Puente workers during the first join period:
--py-spy-mode gil (default) keeps the samples holding the GIL (where the CPU
goes), wall every thread handling a request (waits included: PostgreSQL
round trips, but also waiting for the GIL). That run's timings are disturbed
by py-spy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import webhook_baselines  # noqa: E402
from sqlalchemy import create_engine, event  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from tests.services import PostgresServer, RedisServer, free_port, wait_for_port  # noqa: E402

PUBLIC_URL = "https://puente.example.org"
PATH = "/twilio/messages"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f3c1" * 8
SMS_FROM = "+12135550100"
KEYWORDS = ("JOIN", "UNIRME")  # flows/join.yaml triggers, en and es
ANSWERS = ("Ana", "06700", "1 3")  # join flow: ask_name, ask_zip, ask_causes
VENV_BIN = Path(sys.executable).parent


# --- requests, built before timing ---------------------------------------------


def phone(i: int) -> str:
    """A fake Mexican mobile number, +52 55 00xx xxxx (never logged)."""
    return f"+525500{i:06d}"


class Signer:
    """Twilio's form fields and headers for one inbound SMS, signed for PUBLIC_URL."""

    def __init__(self) -> None:
        self.validator = RequestValidator(AUTH_TOKEN)
        self.url = PUBLIC_URL + PATH
        self.host = urllib.parse.urlsplit(PUBLIC_URL).netloc
        self.prefix = secrets.token_hex(4)
        self.count = 0

    def sid(self) -> str:
        self.count += 1
        return f"SM{self.prefix}{self.count:024x}"

    def request(self, sender: str, body: str) -> bytes:
        sid = self.sid()
        params = {  # as tests/fixtures/twilio/sms_text.json, from a Mexican mobile
            "ToCountry": "US",
            "ToState": "CA",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "LOS ANGELES",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "MX",
            "To": SMS_FROM,
            "ToZip": "90012",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "ApiVersion": "2010-04-01",
        }
        form = urllib.parse.urlencode(params).encode()
        signature = self.validator.compute_signature(self.url, params)
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: TwilioProxy/1.1\r\n"
            "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n"
            "Accept: */*\r\nCache-Control: max-age=259200\r\nX-Home-Region: us1\r\n"
            f"I-Twilio-Idempotency-Token: {uuid.uuid4()}\r\n"
            f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(form)}\r\n\r\n"
        )
        return head.encode() + form


class Numbers:
    """New phone numbers, never used before in this run."""

    def __init__(self) -> None:
        self.next = 1

    def take(self, count: int) -> list[str]:
        first, self.next = self.next, self.next + count
        return [phone(i) for i in range(first, first + count)]


def join_requests(
    signer: Signer, numbers: Numbers, clients: int, per_client: int
) -> tuple[list[list[bytes]], list[list[str]]]:
    """Per connection: new numbers texting the keyword (and those numbers, in order)."""
    senders = [numbers.take(per_client) for _ in range(clients)]
    bodies = [
        [signer.request(s, KEYWORDS[i % len(KEYWORDS)]) for i, s in enumerate(mine)]
        for mine in senders
    ]
    return bodies, senders


def answer_requests(signer: Signer, contacts: list[str], clients: int) -> list[list[bytes]]:
    """Per connection: its contacts' answers, each contact's in the flow's order."""
    per: list[list[bytes]] = [[] for _ in range(clients)]
    for i, sender in enumerate(contacts):
        per[i % clients] += [signer.request(sender, answer) for answer in ANSWERS]
    return per


def baseline_requests(signer: Signer, numbers: Numbers, count: int) -> list[bytes]:
    return [signer.request(s, KEYWORDS[i % 2]) for i, s in enumerate(numbers.take(count))]


def split(requests: list[bytes], clients: int) -> list[list[bytes]]:
    return [requests[i::clients] for i in range(clients)]


# --- the client -----------------------------------------------------------------


@dataclass
class Load:
    """What the client saw of one target, summed over its timed slices."""

    label: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    answered: list[list[int]] = field(default_factory=list)  # per connection: indexes of 2xx
    broken: int = 0  # connection errors (each counted as an error too)
    no_reply: int = 0  # 2xx answers without a <Message>
    exhausted: int = 0  # connections that ran out of pre-built requests before a slice ended
    round: int = 1
    spread: Counter[str] = field(default_factory=Counter)  # connections held per worker
    wall: float = 0.0
    slices: int = 0
    first_error: str = ""
    cpu: Counter[str] = field(default_factory=Counter)  # CPU seconds, per process kind
    jiffies: list[int] = field(default_factory=lambda: [0, 0])  # whole machine: busy, all

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) - self.ok

    @property
    def rate(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    @property
    def machine(self) -> float:
        """Busy cores, whole machine."""
        return self.jiffies[0] / max(self.jiffies[1], 1) * (os.cpu_count() or 1)

    @property
    def others(self) -> float:
        """Busy cores not this benchmark's processes (other sessions on the machine)."""
        return max(0.0, self.machine - sum(self.cpu.values()) / self.wall) if self.wall else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Refill = Callable[[int], tuple[list[list[bytes]], list[list[str]]]]  # per connection: n more


async def _connection(
    port: int,
    stream: Stream | None,
    requests: list[bytes],
    start: int,
    stop_at: float,
    load: Load,
    index: int,
    want_message: bool,
) -> int:
    """One client: its requests from ``start``, in order, one at a time, until ``stop_at``.

    A new connection per request when ``stream`` is None. Returns where it stopped.
    """
    clock = time.perf_counter
    per_request = stream is None
    position = start
    while position < len(requests) and clock() < stop_at:
        request = requests[position]
        position += 1
        started = clock()
        if stream is None:
            stream = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = stream
        writer.write(request)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            at = lower.find(b"content-length:")
            if at < 0:
                raise ValueError("response without Content-Length")
            length = int(lower[at + 15 : lower.find(b"\r\n", at)])
            body = await reader.readexactly(length) if length else b""
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            load.broken += 1
            load.statuses[0] += 1
            load.first_error = load.first_error or f"{type(exc).__name__}: {exc}"
            writer.close()
            stream = None if per_request else await asyncio.open_connection("127.0.0.1", port)
            continue
        load.latencies.append(clock() - started)
        status = int(head[9:12])
        load.statuses[status] += 1
        if 200 <= status < 300:
            if want_message and b"<Message" not in body:
                load.no_reply += 1
            load.answered[index].append(position - 1)
        elif not load.first_error:
            load.first_error = f"HTTP {status}: {body[:200]!r}"
        if per_request or b"connection: close" in lower:
            writer.close()
            stream = None if per_request else await asyncio.open_connection("127.0.0.1", port)
    if stream is not None:
        stream[1].close()
    return position


def socket_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the server end of a loopback connection (None: not accepted yet)."""
    inode = "0"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.rsplit(":", 1)[1], 16) == server_port and (
            int(remote.rsplit(":", 1)[1], 16) == client_port
        ):
            inode = fields[9]
            break
    if inode == "0":
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


async def _owner(port: int, stream: Stream, workers: list[int]) -> int | None:
    client_port = stream[1].get_extra_info("sockname")[1]
    for _ in range(400):
        owner = socket_owner(port, client_port, workers)
        if owner is not None:
            return owner
        await asyncio.sleep(0.005)
    return None


async def open_balanced(port: int, count: int, workers: list[int]) -> tuple[list[Stream], str]:
    """``count`` keep-alive connections spread evenly over gunicorn's workers.

    Left to the kernel, nearly all of a burst of connections land on one
    worker (it accepts them all before the other wakes up): the Procfile's
    second worker would then sit idle for the whole run.
    """
    quota = -(-count // max(len(workers), 1))
    held: dict[int, int] = dict.fromkeys(workers, 0)
    streams: list[Stream] = []
    attempts = 0
    while len(streams) < count:
        attempts += 1
        stream = await asyncio.open_connection("127.0.0.1", port)
        owner = await _owner(port, stream, workers)
        if owner is not None and held[owner] < quota or attempts > 40 * count:
            streams.append(stream)
            if owner is not None:
                held[owner] += 1
        else:
            stream[1].close()
    return streams, "/".join(str(n) for n in held.values())


async def open_plain(port: int, count: int, workers: list[int]) -> tuple[list[Stream], str]:
    """``count`` keep-alive connections, wherever the kernel puts them."""
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(count)]
    owners = Counter([await _owner(port, stream, workers) for stream in streams])
    return streams, "/".join(str(owners[pid]) for pid in workers)


class Target:
    """One load on one server: each connection's pre-built requests and how far it got."""

    def __init__(
        self,
        label: str,
        server: Gunicorn,
        per_connection: list[list[bytes]],
        want_message: bool = False,
        meters: dict[str, Callable[[], float]] | None = None,
        refill: Refill | None = None,
        max_rate: float = 5000,
    ) -> None:
        self.server, self.per_connection, self.want_message = server, per_connection, want_message
        self.meters = meters or {}
        self.cursor = [0] * len(per_connection)
        self.senders: list[list[str]] = [[] for _ in per_connection]
        self.load = Load(label, answered=[[] for _ in per_connection])
        self.refill, self.max_rate, self.expected_rate = refill, max_rate, 100.0

    def top_up(self, seconds: float) -> None:
        """Build (untimed) enough requests for a slice: 3x the best rate seen, <= max_rate."""
        if self.refill is None:
            return
        rate = min(self.max_rate, 3 * max(self.expected_rate, self.load.rate, 30.0))
        needed = int(rate * seconds / len(self.per_connection)) + 4
        short = max(
            needed - (len(r) - c) for r, c in zip(self.per_connection, self.cursor, strict=True)
        )
        if short <= 0:
            return
        bodies, senders = self.refill(short)
        for i, (more, who) in enumerate(zip(bodies, senders, strict=True)):
            self.per_connection[i] += more
            self.senders[i] += who

    def answered_senders(self) -> list[str]:
        """The numbers whose requests were answered 2xx (for join: contacts now in the flow)."""
        return [self.senders[i][j] for i, done in enumerate(self.load.answered) for j in done]

    def run(self, seconds: float, connect: str = "balanced") -> None:
        """One slice: every connection sends its next requests until ``seconds`` pass.

        ``connect``: "balanced", keep-alive connections held evenly by the
        workers; "keep-alive", wherever the kernel puts them; "per-request", a
        new connection for each request. The connections are opened before
        the clock starts and closed at the end of the slice.
        """
        self.top_up(seconds)
        _event_loop_runner()(self._run(seconds, connect))

    async def _run(self, seconds: float, connect: str) -> None:
        load, count, port = self.load, len(self.per_connection), self.server.port
        streams: list[Stream | None] = [None] * count
        if connect != "per-request":
            opener = open_balanced if connect == "balanced" else open_plain
            opened, spread = await opener(port, count, self.server.workers())
            streams = list(opened)
            load.spread[spread] += 1
        cpu0 = {name: meter() for name, meter in self.meters.items()}
        busy0 = machine_busy()
        started = time.perf_counter()
        stop_at = started + seconds
        self.cursor = await asyncio.gather(
            *(
                _connection(
                    port, streams[i], mine, self.cursor[i], stop_at, load, i, self.want_message
                )
                for i, mine in enumerate(self.per_connection)
            )
        )  # fmt: skip
        ended = time.perf_counter()
        load.wall += ended - started
        load.slices += 1
        for name, meter in self.meters.items():
            load.cpu[name] += meter() - cpu0[name]
        busy1 = machine_busy()
        load.jiffies[0] += busy1[0] - busy0[0]
        load.jiffies[1] += busy1[1] - busy0[1]
        load.exhausted = max(
            load.exhausted,
            sum(c >= len(r) for c, r in zip(self.cursor, self.per_connection, strict=True)),
        )


def interleave(targets: list[Target], seconds: float, slice_s: float, connect: str) -> None:
    """Run the targets in turn, ``slice_s`` each, until each had ``seconds`` of timed load.

    Other sessions share this machine and their load comes and goes within
    seconds: in turns, every target sees about the same of it.
    """
    while True:
        due = [t for t in targets if seconds - t.load.wall > 0.2]
        if not due:
            return
        for target in due:
            target.run(min(slice_s, seconds - target.load.wall), connect)


def _event_loop_runner() -> Callable[[Any], Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a Puente dependency
        return asyncio.run
    return uvloop.run


# --- processes and CPU ----------------------------------------------------------


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU of a process (and its reaped children) from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def tree_cpu(pid: int) -> float:
    """CPU of a process, its reaped children and its live children."""
    return cpu_seconds(pid, children=True) + sum(
        cpu_seconds(child, children=True) for child in children_of(pid)
    )


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def procfile_web(port: int, app: str) -> list[str]:
    """The Procfile's web command, bound to loopback, serving ``app``."""
    line = next(
        line.split(":", 1)[1]
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    line = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", line)  # ${WEB_CONCURRENCY:-2} -> 2
    args = shlex.split(line)
    args[0] = str(VENV_BIN / args[0])
    if "--bind" in args:
        args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    else:
        args += ["--bind", f"127.0.0.1:{port}"]
    if args[-1] != "app:app":
        raise SystemExit(f"unexpected Procfile web command: {line}")
    args[-1] = app
    return args


class Gunicorn:
    """One gunicorn master (the Procfile's settings) and its workers."""

    def __init__(self, app: str, env: dict[str, str], extra: list[str] | None = None) -> None:
        self.port = free_port()
        self.args = procfile_web(self.port, app)
        if extra:
            self.args[1:1] = extra
        fd, self.log_name = tempfile.mkstemp(prefix="puente-bench-gunicorn-", suffix=".log")
        self.log = os.fdopen(fd, "wb")
        full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            self.args, env=full, cwd=ROOT, stdout=self.log, stderr=self.log, start_new_session=True
        )
        wait_for_port(self.port, timeout=60)
        deadline = time.monotonic() + 60
        while len(self.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.process.poll() is not None or not self.workers():
            raise SystemExit(f"gunicorn {app} did not start: see {self.log_name}")

    def workers(self) -> list[int]:
        return children_of(self.process.pid)

    def cpu(self) -> float:
        return tree_cpu(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def problems(self) -> dict[str, int]:
        """Exception names and gunicorn's CRITICAL/ERROR lines in its log, by kind."""
        found: Counter[str] = Counter()
        for line in Path(self.log_name).read_text(errors="replace").splitlines():
            name = line.split(":", 1)[0].strip()
            if line[:1].strip() and " " not in name and name.endswith(("Error", "Exception")):
                found[name.rsplit(".", 1)[-1]] += 1
            elif "WORKER TIMEOUT" in line:
                found["WORKER TIMEOUT"] += 1
            elif "[ERROR]" in line or "[CRITICAL]" in line:
                found[line.split("]", 3)[-1].strip()[:60]] += 1
        return dict(found)


# --- profiling (--py-spy) --------------------------------------------------------


class Profiler:
    """py-spy record on each gunicorn worker, raw (folded) stacks, until stopped."""

    def __init__(self, py_spy: str, pids: list[int], mode: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="puente-bench-webhook-profile-"))
        flags = ["--gil"] if mode == "gil" else ["--idle", "--threads"]
        self.mode = mode
        self.running = [
            subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    *flags,
                    "--nonblocking",
                    "--nolineno",
                    "--rate",
                    "100",
                    "--format",
                    "raw",
                    "--output",
                    str(self.folder / f"worker-{pid}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            for pid in pids
        ]

    def stop(self) -> None:
        for process in self.running:
            process.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        for process in self.running:
            process.wait(timeout=60)

    def summary(self, top: int = 30) -> list[str]:
        """Inclusive shares of Puente's functions, self shares by package and by frame."""
        inclusive: Counter[str] = Counter()
        packages: Counter[str] = Counter()
        leaves: Counter[str] = Counter()
        total = 0
        for path in self.folder.glob("worker-*.txt"):
            for line in path.read_text().splitlines():
                stack, _, count_text = line.rpartition(" ")
                if not stack or not count_text.isdigit():
                    continue
                frames = stack.split(";")
                if self.mode == "wall" and not any("handle_request" in f for f in frames):
                    continue  # a thread not handling a request (idle in the pool or poller)
                count = int(count_text)
                total += count
                for frame in set(frames):
                    if "(bot/" in frame or frame.split(" (")[0] in _INTERESTING:
                        inclusive[frame] += count
                leaf = frames[-1]
                file = leaf[leaf.rfind("(") + 1 : -1] if leaf.endswith(")") else leaf
                packages[file.split("/")[0] if "/" in file else file] += count
                leaves[leaf] += count
        if not total:
            return ["no samples (is py-spy allowed to read the workers' memory?)"]
        what = "holding the GIL" if self.mode == "gil" else "of threads handling a request"
        out = [f"{total} samples {what} (100/s per worker), files in {self.folder}"]
        out.append("inclusive (Puente's functions, and a few library entry points):")
        out += [f"  {n / total:6.1%}  {k}" for k, n in inclusive.most_common(top)]
        out.append("self, by package of the innermost frame:")
        out += [f"  {n / total:6.1%}  {k}" for k, n in packages.most_common(15)]
        out.append("self, hottest innermost frames:")
        out += [f"  {n / total:6.1%}  {k}" for k, n in leaves.most_common(20)]
        return out


_INTERESTING = {  # library frames worth an inclusive share
    "handle_request", "wsgi_app", "full_dispatch_request", "validate", "compute_signature",
    "execute", "_execute_context", "flush", "commit", "_connection_for_bind", "_checkout",
    "_do_ping_w_event", "do_ping", "to_xml", "parse_form_data", "_load_form_data",
    "connect", "_autoflush", "get", "scalar", "scalars",
}  # fmt: skip


# --- SQL statements per request (not timed) -------------------------------------


def count_statements(env: dict[str, str], joins: int = 20) -> list[str]:
    """Statements, commits and pool checkouts per request, in this process (Flask test client)."""
    os.environ.update(env)
    from bot import create_app

    app = create_app()
    engine = app.extensions["puente.db"].engine
    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        counts["statements"] += 1
        kinds[statement.split(None, 1)[0].upper()] += 1

    @event.listens_for(engine, "commit")
    def _commit(_c: Any) -> None:
        counts["commits"] += 1

    @event.listens_for(engine.pool, "checkout")
    def _checkout(*_args: Any) -> None:
        counts["checkouts"] += 1

    signer, numbers = Signer(), Numbers()
    numbers.next = 900_000  # apart from the timed phases' numbers
    client = app.test_client()

    def post(sender: str, text: str) -> None:
        raw = signer.request(sender, text)
        head, _, form = raw.partition(b"\r\n\r\n")
        signature = re.search(rb"X-Twilio-Signature: (\S+)", head)
        assert signature is not None
        response = client.post(
            PATH,
            data=form,
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": signature.group(1).decode()},
        )
        if response.status_code != 200 or b"<Message" not in response.data:
            raise RuntimeError(
                f"statement count: HTTP {response.status_code} {response.data[:200]!r}"
            )

    senders = numbers.take(joins + 1)
    post(senders[-1], KEYWORDS[0])  # the first request of a process loads a few things
    for sender in senders[-1:]:
        for answer in ANSWERS:
            post(sender, answer)
    out = []
    for label, texts in (("join", (KEYWORDS[0],)),) + tuple(
        (f"answer {a!r}", (a,)) for a in ANSWERS
    ):
        counts.clear()
        kinds.clear()
        for sender in senders[:joins]:
            for text in texts:
                post(sender, text)
        per = {k: v / joins for k, v in counts.items()}
        by_kind = ", ".join(f"{k} {v / joins:g}" for k, v in sorted(kinds.items()))
        out.append(
            f"  {label}: {per.get('statements', 0):g} statements ({by_kind}), "
            f"{per.get('commits', 0):g} commits, {per.get('checkouts', 0):g} pool checkouts "
            "(a connection idle for 5 s is pinged first: bot.db)"
        )
    app.extensions["puente.db"].engine.dispose()
    return out


# --- the run ---------------------------------------------------------------------


def puente_env(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "PUENTE_ENV": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_FROM": SMS_FROM,
        "TWILIO_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "PUBLIC_URL": PUBLIC_URL,
        "SECRET_KEY": secrets.token_hex(16),
        "ORG_NAME": "Puente Bench",
        "ORG_SUPPORT_CONTACT": "help@example.org",
        "LEGAL_HELP": "Legal help line (fake)",
        "EVENT_NAME": "Bench Summit",
        "EVENT_PLACE": "City Hall",
        "EVENT_DATE": "June 6",
        "LOG_LEVEL": "WARNING",
    }


@dataclass
class Context:
    args: argparse.Namespace
    postgres: PostgresServer
    redis: RedisServer
    signer: Signer = field(default_factory=Signer)
    numbers: Numbers = field(default_factory=Numbers)
    notes: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)
    load_before: float = field(default_factory=lambda: os.getloadavg()[0])
    targets: set[str] = field(default_factory=set)
    redis_per_request: dict[str, float] = field(default_factory=dict)

    def meters(self, server: Gunicorn) -> dict[str, Callable[[], float]]:
        return {
            "workers": server.cpu,
            "postgres": lambda: tree_cpu(self.postgres.pid()),
            "client": own_cpu,
            "redis": lambda: cpu_seconds(self.redis.process.pid) if self.redis.process else 0.0,
        }

    def redis_commands(self) -> int:
        """Commands redis-server has processed so far (this call's INFO included)."""
        import redis

        client = redis.Redis.from_url(self.redis.url)
        try:
            return int(client.info("stats")["total_commands_processed"])
        finally:
            client.close()

    def check(self, server: Gunicorn, label: str) -> None:
        problems = server.problems()
        if problems:
            self.notes.append(f"{label}: gunicorn log {server.log_name}: {problems}")


def start_servers(ctx: Context, env: dict[str, str], baseline_url: str) -> dict[str, Gunicorn]:
    """The targets' gunicorns, all up at once (an idle one costs nothing)."""
    plain = {"PUBLIC_URL": PUBLIC_URL, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    bench = ["--pythonpath", str(ROOT / "bench")]
    servers: dict[str, Gunicorn] = {}
    if "a" in ctx.targets:
        servers["baseline a"] = Gunicorn("webhook_baselines:signature_only", plain, bench)
    if "b" in ctx.targets:
        servers["baseline b"] = Gunicorn(
            "webhook_baselines:signature_and_insert",
            {**plain, "BASELINE_DATABASE_URL": baseline_url},
            bench,
        )
    if "puente" in ctx.targets:
        servers["puente"] = Gunicorn("app:app", env)
        smoke(ctx, servers["puente"].port)
    return servers


def target(ctx: Context, label: str, server: Gunicorn, want_message: bool = False) -> Target:
    """A target sending new numbers texting the keyword (built slice by slice)."""
    clients = ctx.args.clients
    return Target(
        label,
        server,
        [[] for _ in range(clients)],
        want_message,
        ctx.meters(server),
        lambda n: join_requests(ctx.signer, ctx.numbers, clients, n),
        ctx.args.max_rate,
    )


def warm_up(ctx: Context, servers: dict[str, Gunicorn]) -> tuple[dict[str, float], list[str]]:
    """An unmeasured --warmup on each server: rates seen, and the contacts who joined."""
    rates: dict[str, float] = {}
    joined: list[str] = []
    for name, server in servers.items():
        warm = target(ctx, f"{name} warm-up", server, want_message=name == "puente")
        warm.run(ctx.args.warmup, ctx.args.connect)
        rates[name] = warm.load.rate
        if warm.load.errors:
            ctx.notes.append(
                f"{name} warm-up: {warm.load.errors} errors {dict(warm.load.statuses)}"
            )
        if name == "puente":
            joined = warm.answered_senders()
    print("  warm-up req/s: " + ", ".join(f"{k} {v:.0f}" for k, v in rates.items()), flush=True)
    return rates, joined


def run_round(
    ctx: Context,
    servers: dict[str, Gunicorn],
    rates: dict[str, float],
    joined: list[str],
    round_: int,
) -> list[Load]:
    """Two periods: baselines a and b in turns with "join", then with "answer"."""
    args = ctx.args
    loads: list[Load] = []
    contacts = list(joined)
    for scenario in ("join", "answer"):
        targets: list[Target] = []
        for name in ("baseline a", "baseline b"):
            if name in servers:
                t = target(ctx, f"{name} ({scenario})", servers[name])
                t.expected_rate = rates[name]
                targets.append(t)
        puente = servers.get("puente")
        main: Target | None = None
        if puente is not None:
            if scenario == "join":
                main = target(ctx, "puente join", puente, want_message=True)
                main.expected_rate = rates["puente"]
            else:
                main = Target(
                    "puente answer",
                    puente,
                    answer_requests(ctx.signer, contacts, args.clients),
                    True,
                    ctx.meters(puente),
                )
            targets.append(main)
        what = f"{len(contacts)} contacts in the join flow" if scenario == "answer" else ""
        print(
            f"  {scenario} period: {', '.join(t.load.label for t in targets)} in turns of "
            f"{args.slice:g} s, {args.seconds:g} s each" + (f"; {what}" if what else ""),
            flush=True,
        )
        profiler = None
        if args.py_spy and puente is not None and scenario == "join" and round_ == 1:
            profiler = Profiler(args.py_spy, puente.workers(), args.py_spy_mode)
        commands = ctx.redis_commands()
        interleave(targets, args.seconds, args.slice, args.connect)
        commands = ctx.redis_commands() - commands - 1
        if profiler is not None:
            profiler.stop()
            ctx.profile = profiler.summary()
        if main is not None:
            ctx.redis_per_request[scenario] = commands / max(main.load.ok, 1)
            if scenario == "join":
                contacts += main.answered_senders()
        for t in targets:
            t.load.round = round_
            loads.append(t.load)
    return loads


def smoke(ctx: Context, port: int) -> None:
    """One contact through the scenario; the replies printed (they hold no phone number)."""
    sender = ctx.numbers.take(1)[0]
    for text in (KEYWORDS[0], *ANSWERS):
        status, body = post_raw(port, ctx.signer.request(sender, text))
        replies = re.findall(rb"(?s)<Body>(.*?)</Body>|<Message>([^<]*)</Message>", body)
        if status != 200 or not replies:
            raise SystemExit(f"smoke test failed on {text!r}: HTTP {status} {body[:300]!r}")
        said = " | ".join((a or b).decode()[:50].replace("\n", " ") for a, b in replies)
        print(f"  smoke: {text!r} -> {said}", flush=True)


def post_raw(port: int, request: bytes) -> tuple[int, bytes]:
    """One pre-built request on a new connection: (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        match = re.search(rb"(?i)content-length: *(\d+)", head)
        length = int(match.group(1)) if match else 0
        while len(body) < length:
            body += sock.recv(65536)
    return int(head[9:12]), body


def report(loads: list[Load], ctx: Context) -> None:
    args = ctx.args
    rounds = max((load.round for load in loads), default=1)

    def name(load: Load) -> str:
        return load.label + (f" #{load.round}" if rounds > 1 else "")

    print()
    print(
        f"{args.clients} clients ({args.connect}), {args.seconds:g} s per target in turns of "
        f"{args.slice:g} s, {os.cpu_count()} cores, load average before {ctx.load_before:.2f}"
    )
    print(
        "| target | requests | req/s | p50 ms | p99 ms | max ms | errors (non-2xx) "
        "| CPU ms/request: workers / PostgreSQL / client | busy cores (others') "
        "| connections per worker |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for load in loads:
        per = {k: v / max(load.ok, 1) * 1000 for k, v in load.cpu.items()}
        errors = str(load.errors)
        if load.errors:
            errors += " " + str({k: v for k, v in load.statuses.items() if not 200 <= k < 300})
        spread = ", ".join(sorted(load.spread)) or "new connection per request"
        print(
            f"| {name(load)} | {load.ok:,} | {load.rate:.1f} | {load.percentile(0.5) * 1000:.1f} "
            f"| {load.percentile(0.99) * 1000:.1f} | {max(load.latencies, default=0) * 1000:.0f} "
            f"| {errors} | {per.get('workers', 0):.2f} / {per.get('postgres', 0):.2f} / "
            f"{per.get('client', 0):.2f} | {load.machine:.2f} ({load.others:.2f}) | {spread} |"
        )
    by_round = {(load.label, load.round): load for load in loads}
    pairs = (
        ("puente join", "baseline b (join)"),
        ("puente answer", "baseline b (answer)"),
        ("baseline a (join)", "baseline b (join)"),
        ("baseline a (answer)", "baseline b (answer)"),
    )
    rows = []
    for label, versus in pairs:
        rates, p99s = [], []
        for r in range(1, rounds + 1):
            load, b = by_round.get((label, r)), by_round.get((versus, r))
            if load is None or b is None or not b.rate or not load.latencies:
                continue
            rates.append(load.rate / b.rate)
            p99s.append(load.percentile(0.99) / b.percentile(0.99))
        if rates:
            met = statistics.median(rates) >= 0.5 and statistics.median(p99s) <= 2
            goal = "" if label.startswith("baseline") else "met" if met else "missed"
            rows.append(f"| {label} | {_ratios(rates)} | {_ratios(p99s)} | {goal} |")
    if rows:
        print()
        print(
            "| vs baseline b in the same turns | req/s ratio (goal >= 0.5x) "
            "| p99 ratio (goal <= 2x) | goal |"
        )
        print("| --- | --- | --- | --- |")
        print("\n".join(rows))
    print()
    for load in loads:
        extra = []
        if load.broken:
            extra.append(f"{load.broken} broken connections")
        if load.no_reply:
            extra.append(f"{load.no_reply} 2xx answers without a <Message>")
        if load.exhausted:
            remedy = "raise --warmup" if "answer" in load.label else "raise --max-rate"
            extra.append(f"{load.exhausted} connections ran out of requests ({remedy})")
        if load.first_error:
            extra.append(f"first error: {load.first_error}")
        if any(s >= 500 for s in load.statuses):
            extra.append("5xx ANSWERS: a bug")
        if extra:
            print(f"  {name(load)}: " + "; ".join(extra))
    for scenario, per in ctx.redis_per_request.items():
        print(f"  Redis commands per request, {scenario} period (all targets): {per:.2f}")
    for note in ctx.notes:
        print(f"  {note}")


def _ratios(values: list[float]) -> str:
    text = ", ".join(f"{v:.2f}x" for v in values)
    return text if len(values) == 1 else f"{text} (median {statistics.median(values):.2f}x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=10, help="timed seconds per target")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds first")
    parser.add_argument(
        "--slice", type=float, default=2.5, help="seconds per turn when the targets take turns"
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat both periods")
    parser.add_argument(
        "--connect",
        choices=("balanced", "keep-alive", "per-request"),
        default="balanced",
        help="keep-alive connections held evenly by the workers (default), "
        "left where the kernel puts them, or a new connection per request",
    )
    parser.add_argument(
        "--max-rate",
        type=float,
        default=5000,
        help="requests per second to pre-build for (a target faster runs out: reported)",
    )
    parser.add_argument(
        "--targets", default="a,b,puente", help="which targets: a, b, puente (comma-separated)"
    )
    parser.add_argument("--py-spy", default=None, metavar="PATH", help="profile the join scenario")
    parser.add_argument("--py-spy-mode", choices=("gil", "wall"), default="gil")
    parser.add_argument(
        "--count-statements",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="count SQL statements per request afterwards (in this process)",
    )
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
        f"gunicorn: {shlex.join(procfile_web(0, 'app:app')[1:])}",
        flush=True,
    )
    postgres = PostgresServer(durable=True)
    redis_server = RedisServer()
    ctx = Context(args, postgres, redis_server, targets=set(args.targets.split(",")))
    loads: list[Load] = []
    try:
        admin = create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql("CREATE DATABASE puente")
            connection.exec_driver_sql("CREATE DATABASE baseline")
            settings = dict(
                connection.exec_driver_sql(
                    "SELECT name, setting FROM pg_settings WHERE name IN "
                    "('fsync', 'synchronous_commit', 'full_page_writes', 'server_version')"
                ).all()
            )
        admin.dispose()
        print(f"PostgreSQL {settings}", flush=True)
        env = puente_env(postgres.url("puente"), redis_server.url)
        subprocess.run(
            [str(VENV_BIN / "puente"), "db", "upgrade"],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        baseline_url = postgres.url("baseline")
        webhook_baselines.create_table(baseline_url)
        servers = start_servers(ctx, env, baseline_url)
        try:
            rates, joined = warm_up(ctx, servers)
            for round_ in range(1, args.rounds + 1):
                if args.rounds > 1:
                    print(f"round {round_} of {args.rounds}", flush=True)
                loads += run_round(ctx, servers, rates, joined if round_ == 1 else [], round_)
        finally:
            for name, server in servers.items():
                server.stop()
                ctx.check(server, name)
        report(loads, ctx)
        if args.count_statements and "puente" in ctx.targets:
            print(
                "\nSQL per inbound request (SQLAlchemy events, Flask test client, same database):"
            )
            print("\n".join(count_statements(env)))
        if ctx.profile:
            print(f"\nprofile of the gunicorn workers, puente join (py-spy, {args.py_spy_mode}):")
            print("\n".join(ctx.profile))
    finally:
        redis_server.stop()
        postgres.stop()


if __name__ == "__main__":
    main()
