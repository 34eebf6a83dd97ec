"""What send jobs run with in this process: settings, database, Twilio, Redis, flows.

Outside a Flask request a job has no app: it gets a `Runtime`, built from the
environment once per process (an RQ work horse is a fork: it builds its own, so
no database connection or socket crosses a fork).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import redis

from bot import conversations, queue
from bot.channels import twilio
from bot.config import from_environ
from bot.contacts.models import CHANNEL_WHATSAPP
from bot.db import Database
from bot.defaults import DEFAULT_DEV_TWILIO_API_PATH
from bot.msgs.sending import sender_from_config
from bot.sending.quiet_hours import Window, window_from_config
from bot.sending.throttle import Limit, Throttle

INSTANCE_DIR = Path("instance")


@dataclass
class Runtime:
    """Everything a send job needs, for one process."""

    config: Mapping[str, Any]
    db: Database
    sender: twilio.Sender
    redis: redis.Redis | None

    @cached_property
    def throttle(self) -> Throttle:
        if self.redis is None:
            raise RuntimeError("the throttle needs Redis (REDIS_URL)")
        return Throttle(self.redis)

    @cached_property
    def flows(self) -> conversations.LoadedFlows:
        """The checked flows (loaded on first use: a broadcast that starts one, timeouts)."""
        return conversations.load(self.config)

    def sending_as(self, sender: twilio.Sender) -> Runtime:
        """The same runtime sending from ``sender`` (its throttle keyed by that sender).

        It shares this one's database and Redis: close this one, never the copy.
        """
        return Runtime(self.config, self.db, sender, self.redis)

    def close(self) -> None:
        """Close the database pool and the Redis connection."""
        self.db.engine.dispose()
        if self.redis is not None:
            self.redis.close()

    @property
    def window(self) -> Window:
        return window_from_config(self.config)

    def limit(self, channel: str) -> Limit:
        """The throttle limit of the sender used for ``channel``."""
        margin = self.config["THROTTLE_MARGIN_MS"]
        if channel == CHANNEL_WHATSAPP:
            name = self.sender.messaging_service_sid or self.sender.whatsapp_from or "whatsapp"
            return Limit(name, self.config["WHATSAPP_RATE_PER_S"], margin)
        name = self.sender.messaging_service_sid or self.sender.sms_from or "sms"
        return Limit(name, self.config["SMS_RATE_PER_S"], margin)


def redis_url(config: Mapping[str, Any], instance_path: str | Path = INSTANCE_DIR) -> str | None:
    """REDIS_URL, or the embedded redis-server of `make run` when it is up."""
    return config.get("REDIS_URL") or queue.embedded_url(instance_path)


def build(config: Mapping[str, Any], connection: redis.Redis | None = None) -> Runtime:
    """A runtime for these settings (and this Redis connection, if given)."""
    if not config["TWILIO_API_URL"] and not config["PRODUCTION"]:
        # Development sends to the outbox mounted on the web app, as create_app does.
        config = {**config, "TWILIO_API_URL": config["PUBLIC_URL"] + DEFAULT_DEV_TWILIO_API_PATH}
    if connection is None:
        url = redis_url(config)
        connection = queue.connect(url) if url else None
    return Runtime(config, Database(config["DATABASE_URL"]), sender_from_config(config), connection)


_current: dict[int, Runtime] = {}


def current() -> Runtime:
    """This process's runtime, from the environment."""
    pid = os.getpid()
    if pid not in _current:
        _current.clear()  # a fork: never reuse the parent's connections
        _current[pid] = build(from_environ())
    return _current[pid]


def use(runtime: Runtime) -> None:
    """Make ``runtime`` this process's (the in-process worker, tests)."""
    for old in _current.values():
        if old is not runtime:
            old.close()
    _current.clear()
    _current[os.getpid()] = runtime


def reset() -> None:
    """Close and forget this process's runtime (tests, shutdown)."""
    for old in _current.values():
        old.close()
    _current.clear()


def start_dev_queue(
    config: Mapping[str, Any], instance_path: str | Path, reconcile_job: str
) -> Callable[[], None]:
    """`make run`: a redis-server under instance/ and a `worker.py` process, or, when
    redis-server is not installed, in-process fakeredis worked by a SimpleWorker thread
    that runs ``reconcile_job`` (the path of the reconcile job) every tick.

    Returns the function that stops them.
    """
    tick = queue.TickJob(reconcile_job, "puente-reconcile")
    interval = config["RECONCILE_INTERVAL_S"]
    if not queue.EmbeddedRedis.available():
        connection, _thread = queue.start_in_process_queue([tick], interval)
        use(build(config, connection))
        return lambda: None
    server = queue.EmbeddedRedis(instance_path)
    url = server.start()
    env = {**os.environ, "REDIS_URL": url, "DATABASE_URL": config["DATABASE_URL"]}
    env["TWILIO_API_URL"] = config["TWILIO_API_URL"]
    env["PUBLIC_URL"] = config["PUBLIC_URL"]
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).parents[2] / "worker.py")], env=env
    )

    def stop() -> None:
        worker.terminate()
        worker.wait(timeout=30)
        server.stop()

    return stop
