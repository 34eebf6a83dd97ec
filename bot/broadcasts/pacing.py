"""Pacing a batch's sends to the sender's throttle slots, on one asyncio loop.

For each channel of the batch a producer claims a chunk of deliveries (about
a quarter second of sending: one transaction, in a thread beside the loop),
books a throttle slot for each in one Redis call, and starts one task per
send that sleeps until its slot and calls Twilio with twilio-python's
asyncio client. Answers are recorded every ``FLUSH_S`` in one transaction.

Why a loop and not threads: a send is mostly waiting (Twilio takes 100-300 ms
to answer), and hundreds of waiting threads on two cores cost more CPU in
switching than the sends themselves (docs/performance.md).

A send that wakes more than half the throttle margin after its slot (the
process stalled) books a new one instead of crowding the next second. The
slice's deadline stops new claims; what is claimed is always sent and
recorded before the job ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Callable, Sequence

from bot.broadcasts.deliveries import (
    BatchResult,
    Item,
    Liveness,
    Plan,
    Ready,
    claim,
    record,
    retry_with_template,
)
from bot.broadcasts.runtime import Runtime
from bot.broadcasts.throttle import Limit
from bot.channels import twilio
from bot.channels.errors import Effect
from bot.db import utcnow

log = logging.getLogger(__name__)

CHUNK_S = 0.25  # claim about this much sending at a time
MAX_CHUNK = 250
FLUSH_S = 0.1  # how often answers are written
IN_FLIGHT_S = 0.5  # connections per sender: its rate x this (Twilio answers in ~0.1-0.3 s)


class Pacer:
    """Sends one batch's items for one job; ``run`` returns when all are recorded."""

    def __init__(
        self,
        runtime: Runtime,
        plan: Plan,
        liveness: Liveness,
        result: BatchResult,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.runtime = runtime
        self.plan = plan
        self.liveness = liveness
        self.result = result
        self.clock = clock
        self.tasks: set[asyncio.Task[None]] = set()
        self.done: list[tuple[Ready, twilio.SendResult]] = []
        self.client: twilio.AsyncClient | None = None
        self.stopping = False

    async def run(self, items: Sequence[Item]) -> None:
        by_channel: dict[str, list[Item]] = {}
        for item in items:
            by_channel.setdefault(item.channel, []).append(item)
        self.client = twilio.AsyncClient(self.runtime.sender, self.connections(by_channel))
        flushing = asyncio.create_task(self._flush_every())
        try:
            await asyncio.gather(*(self._pace(ch, todo) for ch, todo in by_channel.items()))
            while self.tasks:
                await asyncio.gather(*list(self.tasks))
        finally:
            self.stopping = True
            await flushing
            await self._flush()
            await self.client.close()

    def connections(self, by_channel: dict[str, list[Item]]) -> int:
        """HTTP connections: enough for every send in flight at the senders' rates."""
        wanted = sum(
            max(4, math.ceil(self.runtime.limit(ch).rate_per_s * IN_FLIGHT_S)) for ch in by_channel
        )
        return max(1, min(int(self.runtime.config.get("SEND_CONNECTIONS", 256)), wanted))

    async def _pace(self, channel: str, items: list[Item]) -> None:
        """Claim, book and start the sends of one channel, a chunk at a time."""
        limit = self.runtime.limit(channel)
        size = max(1, min(MAX_CHUNK, math.ceil(limit.rate_per_s * CHUNK_S)))
        for start in range(0, len(items), size):
            if not self.liveness.go_on():
                self.result.left += len(items) - start
                return
            chunk = items[start : start + size]
            ready = await asyncio.to_thread(claim, self.runtime, self.plan, chunk, self.clock())
            await self._book(limit, ready)

    async def _book(self, limit: Limit, ready: list[Ready]) -> None:
        """Book a slot for each (as many as the throttle lets ahead), start their sends."""
        loop = asyncio.get_running_loop()
        while ready:
            waits = self.runtime.throttle.reserve_many(limit, [r.weight for r in ready])
            if waits[0] < 0:
                await asyncio.sleep(-waits[0])
                continue
            booked_at = loop.time()
            for one, wait in zip(ready, waits, strict=False):
                self._start(self._send(limit, one, booked_at + wait))
            ready = ready[len(waits) :]

    def _start(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, limit: Limit, ready: Ready, due: float) -> None:
        """Wait for the slot, send, keep the answer for the next flush."""
        await self._wait_for(limit, ready.weight, due)
        assert self.client is not None
        draft = ready.draft
        answer = await twilio.send_async(
            self.client,
            ready.address,
            draft.body,
            draft.media_urls,
            content_sid=draft.content_sid,
            content_variables=draft.content_variables,
        )
        if answer.effect is Effect.OUTSIDE_WHATSAPP_WINDOW and not ready.item.template:
            retry = await asyncio.to_thread(
                retry_with_template, self.runtime, self.plan, ready, answer
            )
            if retry is not None:
                await self._send(limit, retry, due=-math.inf)  # no slot yet: books one
                return
        self.done.append((ready, answer))

    async def _wait_for(self, limit: Limit, weight: int, due: float) -> None:
        """Sleep until ``due``; woken too late, book a new slot (never crowd a second)."""
        loop = asyncio.get_running_loop()
        late_s = limit.margin_ms / 2000.0
        while True:
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if loop.time() - due <= late_s:
                return
            waits = self.runtime.throttle.reserve_many(limit, [weight])
            while waits[0] < 0:
                await asyncio.sleep(-waits[0])
                waits = self.runtime.throttle.reserve_many(limit, [weight])
            due = loop.time() + waits[0]

    async def _flush_every(self) -> None:
        while not self.stopping:
            await asyncio.sleep(FLUSH_S)
            await self._flush()

    async def _flush(self) -> None:
        if not self.done:
            return
        done, self.done = self.done, []
        await asyncio.to_thread(record, self.runtime, self.plan, done, self.result)
