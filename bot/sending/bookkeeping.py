"""A send job's database work, in child processes beside the sending loop.

The pacer (`bot.sending.pacing`) must wake at each throttle slot within a
few milliseconds. Claiming deliveries and recording Twilio's answers is
Python-heavy work (SQLAlchemy, psycopg); run in a thread of the same process
it holds the interpreter lock for long stretches, and the loop woke late for
one send in ten at 1,000 messages a second (docs/performance.md). In a child
process it competes only for a CPU, which the operating system shares far
more finely.

The children are forked when the job starts, before the job's loop and its
threads exist; each builds its own database pool and Redis connection from the job's
settings and never touches the ones it inherited. They exit with the job, or
within a second of the job's process dying (they watch their parent).

Without a Redis server to share (the in-process queue of `make run` on a
machine without redis-server) the same work runs in threads instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bot.channels import twilio
from bot.sending import process
from bot.sending.deliveries import (
    BatchResult,
    ClaimedDelivery,
    DueDelivery,
    Plan,
    more_due,
    record,
    retry_with_template,
    take,
)
from bot.sending.process import Runtime

CHILDREN = 2  # one can claim while the other records
CHILD_NICE = 10  # lowering one's own priority needs no privilege


class Bookkeeper:
    """take / record / retry_with_template for one job, in child processes (or threads)."""

    def __init__(self, runtime: Runtime, plan: Plan) -> None:
        self.runtime = runtime
        self.plan = plan
        self.pool: ProcessPoolExecutor | None = None
        if use_processes(runtime):
            self.pool = ProcessPoolExecutor(
                CHILDREN,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_child,
                initargs=(dict(runtime.config), plan, os.getpid()),
            )
            # Fork now, before this job starts its loop and threads.
            list(self.pool.map(_alive, range(CHILDREN)))

    async def take(
        self, rows: Sequence[DueDelivery], now: dt.datetime, result: BatchResult
    ) -> list[ClaimedDelivery]:
        if self.pool is None:
            return await asyncio.to_thread(take, self.runtime, self.plan, rows, now, result)
        loop = asyncio.get_running_loop()
        claimed, statuses, next_at = await loop.run_in_executor(self.pool, _take, list(rows), now)
        result.merge(statuses, next_at)
        return claimed

    async def record(
        self, done: list[tuple[ClaimedDelivery, twilio.SendResult]], result: BatchResult
    ) -> None:
        if self.pool is None:
            await asyncio.to_thread(record, self.runtime, self.plan, done, result)
            return
        loop = asyncio.get_running_loop()
        statuses, next_at = await loop.run_in_executor(self.pool, _record, done)
        result.merge(statuses, next_at)

    async def retry_with_template(
        self, claimed: ClaimedDelivery, first: twilio.SendResult
    ) -> ClaimedDelivery | None:
        if self.pool is None:
            return await asyncio.to_thread(
                retry_with_template, self.runtime, self.plan, claimed, first
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, _retry, claimed, first)

    async def more(self, channel: str, now: dt.datetime, limit: int) -> list[DueDelivery]:
        args = (self.plan.broadcast_id, channel, now, limit)
        if self.pool is None:
            return await asyncio.to_thread(more_due, self.runtime, *args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, _more, *args)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)


def use_processes(runtime: Runtime) -> bool:
    """Children need a Redis server of their own to reach (not the in-process fakeredis)."""
    return process.redis_url(runtime.config) is not None


# --- in the children ------------------------------------------------------------

_child: tuple[Runtime, Plan] | None = None


def _start_child(config: Mapping[str, Any], plan: Plan, parent: int) -> None:
    global _child
    # Below the sending loop: a claim can wait a few milliseconds, a send cannot.
    os.nice(CHILD_NICE)
    _child = (process.build(config), plan)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    """Exit when the job's process is gone (killed), instead of waiting forever."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _alive(_: int) -> int:
    return os.getpid()


def _mine() -> tuple[Runtime, Plan]:
    if _child is None:
        raise RuntimeError("not a bookkeeping child")
    return _child


def _take(
    rows: list[DueDelivery], now: dt.datetime
) -> tuple[list[ClaimedDelivery], dict[str, int], dt.datetime | None]:
    runtime, plan = _mine()
    result = BatchResult()
    claimed = take(runtime, plan, rows, now, result)
    return claimed, result.statuses, result.next_at


def _record(
    done: list[tuple[ClaimedDelivery, twilio.SendResult]],
) -> tuple[dict[str, int], dt.datetime | None]:
    runtime, plan = _mine()
    result = BatchResult()
    record(runtime, plan, done, result)
    return result.statuses, result.next_at


def _retry(claimed: ClaimedDelivery, first: twilio.SendResult) -> ClaimedDelivery | None:
    runtime, plan = _mine()
    return retry_with_template(runtime, plan, claimed, first)


def _more(broadcast_id: int, channel: str, now: dt.datetime, limit: int) -> list[DueDelivery]:
    runtime, _plan = _mine()
    return more_due(runtime, broadcast_id, channel, now, limit)
