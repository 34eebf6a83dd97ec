"""The job queue: the one place that imports RQ.

Two queues: ``high`` for work a contact is waiting on (replies, sends their
own message triggered) and ``low`` for bulk (broadcast fan-out and sending).
Workers always take ``high`` first, and bulk jobs are short slices, so a
broadcast never keeps a reply waiting for long.

Jobs are named by dotted path ("bot.sending.jobs.send_batch"), so this
module imports nothing from the domains above it. A worker runs RQ's own
scheduler (``enqueue_at``) and, every tick, enqueues the "tick jobs" it was
given: the broadcast reconcile that rebuilds the queue from the database
after a crash or a Redis that came back empty.

For ``make run`` there is an embedded queue: a redis-server under instance/
when one is installed, otherwise an in-process fakeredis server worked by a
SimpleWorker thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from rq import Queue, SimpleWorker, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler

log = logging.getLogger(__name__)

QUEUE_HIGH = "high"  # a contact is waiting: replies, sends their own message triggered
QUEUE_LOW = "low"  # bulk: broadcasts and reminders
QUEUES = (QUEUE_HIGH, QUEUE_LOW)  # in the order workers take them

JOB_MONITORING_INTERVAL_S = 5  # a running job's heartbeat; a silent one is dead
STALE_HEARTBEAT_S = 4 * JOB_MONITORING_INTERVAL_S
DEFAULT_JOB_TIMEOUT_S = 600
EMBEDDED_SOCKET = "redis.sock"  # under the instance folder
_WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@dataclass(frozen=True)
class TickJob:
    """A job a worker enqueues on each tick (once at start, then every interval)."""

    func: str  # dotted path
    job_id: str  # fixed (letters, digits, - and _): a tick never queues a second copy
    queue: str = QUEUE_HIGH


MAX_CONNECTIONS = 512  # a thread waits for a free one (redis-py's default pool fails at 101)


def connect(url: str, max_connections: int = MAX_CONNECTIONS) -> redis.Redis:
    """A Redis client for ``url`` (redis://, rediss:// or unix://).

    A blocking pool: when every connection is busy a thread waits for one
    instead of failing (redis-py's default pool raises past 100).
    """
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=30)
    return redis.Redis(connection_pool=pool)


def enqueue(
    connection: redis.Redis,
    queue: str,
    func: str,
    *args: Any,
    job_id: str | None = None,
    at: dt.datetime | None = None,
    timeout_s: int = DEFAULT_JOB_TIMEOUT_S,
) -> str:
    """Queue ``func(*args)`` now, or at ``at`` (RQ's scheduler); returns the job id."""
    q = Queue(queue, connection=connection)
    options: dict[str, Any] = {"job_id": job_id, "job_timeout": timeout_s, "result_ttl": 60}
    options["failure_ttl"] = 7 * 24 * 3600
    if at is not None and at > dt.datetime.now(dt.UTC):
        job = q.enqueue_at(at, func, *args, **options)
    else:
        job = q.enqueue(func, *args, **options)
    return job.id


def try_enqueue(connection: redis.Redis, queue: str, func: str, *args: Any, job_id: str) -> bool:
    """`enqueue`, or False when Redis cannot be reached (the caller does without the queue)."""
    try:
        enqueue(connection, queue, func, *args, job_id=job_id)
    except redis.RedisError:
        return False
    return True


def is_alive(connection: redis.Redis, job_id: str) -> bool:
    """Whether a job with this id is waiting, or running with a recent heartbeat.

    A job whose worker was killed stays "started" in Redis; its heartbeat
    stops, so after STALE_HEARTBEAT_S it counts as dead and may be queued again.
    """
    try:
        job = Job.fetch(job_id, connection=connection)
        status = job.get_status(refresh=False)
    except NoSuchJobError:
        return False
    if status in _WAITING:
        return True
    if status != JobStatus.STARTED:
        return False
    beat = job.last_heartbeat or job.started_at
    if beat is None:
        return True
    beat = beat if beat.tzinfo else beat.replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC) - beat < dt.timedelta(seconds=STALE_HEARTBEAT_S)


def enqueue_once(
    connection: redis.Redis,
    queue: str,
    func: str,
    *args: Any,
    job_id: str,
    at: dt.datetime | None = None,
    timeout_s: int = DEFAULT_JOB_TIMEOUT_S,
) -> bool:
    """Queue the job unless one with this id is alive; True when it was queued."""
    if is_alive(connection, job_id):
        return False
    enqueue(connection, queue, func, *args, job_id=job_id, at=at, timeout_s=timeout_s)
    return True


def counts(connection: redis.Redis) -> dict[str, int]:
    """Jobs waiting in each queue (for status pages and tests)."""
    return {name: len(Queue(name, connection=connection)) for name in QUEUES}


class _Ticking:
    """Enqueue the tick jobs on RQ's maintenance schedule (start, then every interval)."""

    tick_jobs: Sequence[TickJob] = ()
    moves_scheduled_jobs = False  # True where no scheduler process can run (fakeredis)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[misc]
        if self.moves_scheduled_jobs:
            scheduler = RQScheduler(list(QUEUES), connection=self.connection)  # type: ignore[attr-defined]
            if scheduler.acquire_locks():
                scheduler.enqueue_scheduled_jobs()
                scheduler.release_locks()
        for tick in self.tick_jobs:
            try:
                enqueue_once(self.connection, tick.queue, tick.func, job_id=tick.job_id)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - a failed tick must not stop the worker
                log.exception("could not queue tick job %s", tick.job_id)


class PuenteWorker(_Ticking, Worker):
    """RQ's forking worker with Puente's tick jobs."""


class PuenteSimpleWorker(_Ticking, SimpleWorker):
    """RQ's in-process worker (the embedded fakeredis queue), with the tick jobs."""


def make_worker(
    connection: redis.Redis,
    tick_jobs: Sequence[TickJob] = (),
    tick_interval_s: int = 15,
    simple: bool = False,
    queues: Sequence[str] = QUEUES,
) -> Worker | SimpleWorker:
    """A worker on ``queues`` that enqueues ``tick_jobs`` every ``tick_interval_s``."""
    cls: type[Worker] | type[SimpleWorker] = PuenteSimpleWorker if simple else PuenteWorker
    worker = cls(
        list(queues),
        connection=connection,
        maintenance_interval=tick_interval_s,
        # RQ waits for a job for worker_ttl - 15 s, and ticks between waits.
        worker_ttl=tick_interval_s + 15,
        job_monitoring_interval=JOB_MONITORING_INTERVAL_S,
    )
    worker.tick_jobs = tuple(tick_jobs)  # type: ignore[attr-defined]
    return worker


def work(
    connection: redis.Redis,
    tick_jobs: Sequence[TickJob] = (),
    tick_interval_s: int = 15,
    burst: bool = False,
    simple: bool = False,
) -> None:
    """Run a worker with RQ's scheduler until it is told to stop."""
    worker = make_worker(connection, tick_jobs, tick_interval_s, simple)
    worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


# --- the embedded queue for `make run` ------------------------------------------


def embedded_url(instance_path: str | Path) -> str | None:
    """The URL of the embedded redis-server under instance/, if it is running."""
    socket = Path(instance_path) / EMBEDDED_SOCKET
    return f"unix://{socket.resolve()}" if socket.exists() else None


class EmbeddedRedis:
    """A redis-server on a unix socket under the instance folder (development only)."""

    def __init__(self, instance_path: str | Path) -> None:
        self.folder = Path(instance_path)
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        return f"unix://{(self.folder / EMBEDDED_SOCKET).resolve()}"

    def start(self) -> str:
        """Start redis-server (no TCP port, no persistence); returns its URL."""
        self.folder.mkdir(parents=True, exist_ok=True)
        socket = self.folder / EMBEDDED_SOCKET
        socket.unlink(missing_ok=True)
        args = ["redis-server", "--port", "0", "--unixsocket", str(socket.resolve())]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.folder.resolve())]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not socket.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("embedded redis-server did not start")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
        (self.folder / EMBEDDED_SOCKET).unlink(missing_ok=True)


def start_in_process_queue(
    tick_jobs: Sequence[TickJob] = (), tick_interval_s: int = 15
) -> tuple[redis.Redis, threading.Thread]:
    """No redis-server: a fakeredis server worked by a SimpleWorker thread (one process)."""
    import fakeredis

    connection = fakeredis.FakeRedis()
    worker = make_worker(connection, tick_jobs, tick_interval_s, simple=True)
    worker.moves_scheduled_jobs = True  # type: ignore[attr-defined]
    # Signal handlers can only be installed from the main thread.
    worker._install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(
        target=worker.work, kwargs={"logging_level": "INFO"}, name="puente-worker", daemon=True
    )
    thread.start()
    return connection, thread
