"""The worker: `python worker.py` (Procfile `worker:`).

An RQ worker on REDIS_URL (or the embedded redis-server of `make run`) that
takes the "high" queue before "low", runs RQ's scheduler for timed jobs, and
on start and every RECONCILE_INTERVAL_S queues the broadcast reconcile, which
rebuilds the queue from the database after a crash or an empty Redis.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import redis

from bot import queue
from bot.config import from_environ, print_config_error
from bot.exceptions import ConfigError
from bot.sending import process, queueing

log = logging.getLogger("puente.worker")
RECONCILE = queue.TickJob(queueing.RECONCILE_JOB, "puente-reconcile", queue.QUEUE_HIGH)


def wait_for_redis(connection: redis.Redis, timeout_s: float = 30.0) -> None:
    """Block until Redis answers (it may be starting beside us)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            connection.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Puente's queue worker")
    parser.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    args = parser.parse_args(argv)
    try:
        config = from_environ()
    except ConfigError as error:
        print_config_error(error)  # one line per problem, no traceback
        return 2
    logging.basicConfig(
        level=config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    url = process.redis_url(config)
    if not url:
        log.error("no queue: set REDIS_URL (or start `make run`, which starts one)")
        return 2
    connection = queue.connect(url)
    wait_for_redis(connection)
    queue.work(connection, [RECONCILE], int(config["RECONCILE_INTERVAL_S"]), burst=args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
