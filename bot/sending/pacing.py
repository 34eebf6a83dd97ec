"""Pacing a batch's sends to the sender's throttle slots, on one asyncio loop.

Each channel of the batch is a lane with two coroutines:

- the producer takes a chunk of deliveries (about a quarter second of
  sending) from the bookkeeping children (`bot.sending.bookkeeping`:
  contacts read, quiet hours and consent checked, deliveries claimed and
  message rows written, in one transaction), books a throttle slot for each
  in one Redis call (at most a second ahead, so it runs only as far ahead as
  the sender's rate allows), and queues them in slot order. Before the job's
  own batch runs out it reads more of the broadcast's, so a job keeps its
  sender busy until its slice ends;
- the dispatcher sleeps until the next slot and starts that send with
  twilio-python's asyncio client. A send that cannot leave within a quarter
  of the throttle margin after its slot (the process stalled) is not sent
  late, which could crowd the next second at Twilio: it goes back to the
  producer, which books it again. The check is made last thing before the
  request leaves (`twilio.send_async(send_by=…)`).

Answers are recorded every ``FLUSH_S``, in bulk, by the bookkeeping children.
The slice's deadline stops new claims; what is claimed is always sent and
recorded before the job ends.

Why a loop and not threads: a send is mostly waiting (Twilio takes 100-300 ms
to answer), and hundreds of waiting threads on two cores cost more CPU in
switching than the sends themselves (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.channels import twilio
from bot.channels.errors import Consequence
from bot.db import utcnow
from bot.sending.bookkeeping import Bookkeeper
from bot.sending.deliveries import BatchResult, ClaimedDelivery, DueDelivery, Liveness, Plan
from bot.sending.process import Runtime
from bot.sending.throttle import Limit

log = logging.getLogger(__name__)

CHUNK_S = 0.25  # claim about this much sending at a time
MAX_CHUNK = 250
FLUSH_S = 0.1  # how often answers are written
REBOOK_S = 0.1  # a full throttle horizon: book again after this long
MORE_CHUNKS = 8  # the batch done, read this many chunks of the broadcast's other batches
IN_FLIGHT_S = 0.5  # connections per sender: its rate x this (Twilio answers in ~0.1-0.3 s)


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop (an event loop written in C) where it is installed, else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_loop(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main()`` to completion on a new event loop.

    In a thread of its own when this thread already runs a loop (a caller
    inside asyncio, or Playwright's in the browser tests).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        with asyncio.Runner(loop_factory=event_loop) as runner:
            runner.run(main())
        return
    failed: list[BaseException] = []

    def in_thread() -> None:
        try:
            run_loop(main)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller
            failed.append(exc)

    thread = threading.Thread(target=in_thread, name="send-loop")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


@dataclass
class Lane:
    """One channel's sends in a job: booked in slot order, or waiting to be booked again."""

    channel: str
    limit: Limit
    queue: deque[tuple[float, ClaimedDelivery]] = field(default_factory=deque)
    again: list[ClaimedDelivery] = field(default_factory=list)
    in_flight: int = 0
    closed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # the dispatcher: new bookings
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # the producer: work back


class Pacer:
    """Sends one batch's deliveries for one job; ``run`` returns when all are recorded."""

    def __init__(
        self,
        runtime: Runtime,
        plan: Plan,
        liveness: Liveness,
        result: BatchResult,
        bookkeeper: Bookkeeper,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.runtime = runtime
        self.bookkeeper = bookkeeper
        self.plan = plan
        self.liveness = liveness
        self.result = result
        self.clock = clock
        self.tasks: set[asyncio.Task[None]] = set()
        self.done: list[tuple[ClaimedDelivery, twilio.SendResult]] = []
        self.client: twilio.AsyncClient | None = None
        self.stopping = False

    async def run(self, due: Sequence[DueDelivery]) -> None:
        """Send the due deliveries (rows with id, contact_id and channel)."""
        by_channel: dict[str, list[DueDelivery]] = {}
        for row in due:
            by_channel.setdefault(row.channel, []).append(row)
        self.client = twilio.AsyncClient(self.runtime.sender, self.connections(by_channel))
        flushing = asyncio.create_task(self._flush_every())
        try:
            await asyncio.gather(*(self._lane(ch, todo) for ch, todo in by_channel.items()))
        finally:
            self.stopping = True
            await flushing
            await self._flush()
            await self.client.close()

    def connections(self, by_channel: dict[str, list[DueDelivery]]) -> int:
        """HTTP connections: enough for every send in flight at the senders' rates."""
        wanted = sum(
            max(4, math.ceil(self.runtime.limit(ch).rate_per_s * IN_FLIGHT_S)) for ch in by_channel
        )
        return max(1, min(self.runtime.config["SEND_CONNECTIONS"], wanted))

    async def _lane(self, channel: str, todo: list[DueDelivery]) -> None:
        lane = Lane(channel, self.runtime.limit(channel))
        dispatching = asyncio.create_task(self._dispatch(lane))
        try:
            await self._produce(lane, todo)
        finally:
            lane.closed = True
            lane.wake.set()
            await dispatching

    async def _produce(self, lane: Lane, todo: list[DueDelivery]) -> None:
        """Take and book, a chunk at a time; book again what came back late; until all is sent.

        Before the job's own deliveries run out it reads more of the
        broadcast's (`more_due`), so the sender never waits on that query.
        """
        size = max(1, min(MAX_CHUNK, math.ceil(lane.limit.rate_per_s * CHUNK_S)))
        position = 0
        seen = {d.id for d in todo}
        exhausted = False  # the broadcast has no more due deliveries on this channel
        fetching: asyncio.Task[list[DueDelivery]] | None = None
        while True:
            lane.changed.clear()
            if fetching is not None and fetching.done():
                more = [d for d in fetching.result() if d.id not in seen]
                seen.update(d.id for d in more)
                todo.extend(more)
                exhausted, fetching = not more, None
            left = len(todo) - position
            if not exhausted and fetching is None and left <= 2 * size and self.liveness.go_on():
                limit = size * MORE_CHUNKS + left  # what we hold may come back too
                fetching = asyncio.create_task(
                    self.bookkeeper.more(lane.channel, self.clock(), limit)
                )
            if lane.again:
                again, lane.again = lane.again, []
                await self._book(lane, again)
            elif left:
                if not self.liveness.go_on():
                    self.result.left += left
                    position, exhausted = len(todo), True
                    continue
                chunk = todo[position : position + size]
                position += len(chunk)
                now = self.clock()
                claimed = await self.bookkeeper.take(chunk, now, self.result)
                await self._book(lane, claimed)
            elif fetching is not None:
                await asyncio.wait([fetching])
            elif lane.queue or lane.in_flight:
                await lane.changed.wait()
            else:
                return

    async def _book(self, lane: Lane, claimed: list[ClaimedDelivery]) -> None:
        """Book a slot for each, as far ahead as the throttle lets, and queue them."""
        loop = asyncio.get_running_loop()
        while claimed:
            expired = [r for r in claimed if loop.time() >= self._expires(r)]
            for one in expired:
                self._drop(one)
            claimed = [r for r in claimed if r not in expired]
            if not claimed:
                return
            waits = self.runtime.throttle.reserve_many(lane.limit, [r.weight for r in claimed])
            if waits[0] < 0:
                # The horizon is full: come back when a good part of it is free, not
                # for each slot that frees (one Redis call per chunk, not per send).
                await asyncio.sleep(max(-waits[0], REBOOK_S))
                continue
            booked_at = loop.time()
            lane.queue.extend((booked_at + w, r) for r, w in zip(claimed, waits, strict=False))
            lane.wake.set()
            claimed = claimed[len(waits) :]

    async def _dispatch(self, lane: Lane) -> None:
        """Start each send at its slot; a send woken too late goes back to be booked again."""
        loop = asyncio.get_running_loop()
        # A quarter of the margin; the rest covers the time from the last check to
        # the request reaching Twilio. With half, a saturated 2-core machine put
        # up to 16 requests too many in a second (docs/performance.md).
        late_s = lane.limit.margin_ms / 4000.0
        while True:
            if not lane.queue:
                if lane.closed:
                    return
                lane.wake.clear()
                await lane.wake.wait()
                continue
            slot_at, claimed = lane.queue[0]
            delay = slot_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)  # later bookings always come after this one
                continue
            lane.queue.popleft()
            expires = self._expires(claimed)
            if loop.time() >= expires:
                self._drop(claimed)
                lane.changed.set()  # the producer may be waiting for the queue to empty
                continue
            if -delay > late_s:
                lane.again.append(claimed)
                lane.changed.set()
                continue
            lane.in_flight += 1
            task = asyncio.create_task(self._send(lane, claimed, min(slot_at + late_s, expires)))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _send(self, lane: Lane, claimed: ClaimedDelivery, send_by: float) -> None:
        """Send; keep the answer for the next flush (or book the template in its place).

        A request that cannot leave by ``send_by`` (the loop was held up after
        the slot) is not sent: it is booked again, like a late dispatch.
        """
        assert self.client is not None
        try:
            draft = claimed.draft
            try:
                answer = await twilio.send_async(
                    self.client,
                    claimed.address,
                    draft.body,
                    draft.media_urls,
                    content_sid=draft.content_sid,
                    content_variables=draft.content_variables,
                    send_by=send_by,
                )
            except twilio.SlotMissed:
                if asyncio.get_running_loop().time() >= self._expires(claimed):
                    self._drop(claimed)
                else:
                    lane.again.append(claimed)
                return
            except ValueError as exc:  # Twilio's rules broken before any request: a setting
                answer = twilio.SendResult(
                    None, None, None, str(exc), Consequence.PERMANENT_FAILURE, False, None
                )
            except Exception as exc:  # noqa: BLE001 - the request may have left: ask Twilio
                log.exception("send of message %s: unexpected error", claimed.message_id)
                message = f"{type(exc).__name__}: unexpected error while sending"
                answer = twilio.SendResult(
                    None, None, None, message, Consequence.UNKNOWN_FATE, False, None
                )
            if answer.consequence is Consequence.OUTSIDE_WHATSAPP_WINDOW and not claimed.template:
                retry = await self.bookkeeper.retry_with_template(claimed, answer)
                if retry is not None:
                    lane.again.append(retry)  # needs a slot of its own
                    return
            self.done.append((claimed, answer))
        finally:
            lane.in_flight -= 1
            lane.changed.set()

    def _expires(self, claimed: ClaimedDelivery) -> float:
        """When (on the loop's clock) this send may no longer leave: see `send_within`."""
        left = (claimed.send_before - self.clock()).total_seconds()
        return asyncio.get_running_loop().time() + left

    def _drop(self, claimed: ClaimedDelivery) -> None:
        """Held up past its claim's time: never send it; reconcile will queue it again."""
        log.warning(
            "delivery %s not sent: held up past its claim's time (reconcile queues it again)",
            claimed.delivery_id,
        )

    async def _flush_every(self) -> None:
        while not self.stopping:
            await asyncio.sleep(FLUSH_S)
            await self._flush()

    async def _flush(self) -> None:
        if not self.done:
            return
        done, self.done = self.done, []
        await self.bookkeeper.record(done, self.result)
