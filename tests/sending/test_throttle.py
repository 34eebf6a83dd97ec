"""The shared per-sender throttle and queue priority, on a real redis-server."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest
import redis

from bot import queue
from bot.sending.throttle import Limit, Throttle


@pytest.fixture
def connect(redis_url):
    """Redis clients for the test, all closed after it."""
    opened: list[redis.Redis] = []

    def make() -> redis.Redis:
        opened.append(queue.connect(redis_url))
        return opened[-1]

    yield make
    for client in opened:
        client.connection_pool.disconnect()


# -- time, as the test can know it --------------------------------------------------
#
# The throttle books slots on the Redis server's clock and answers "wait w from now".
# The test cannot see that "now", only that it came between the moments just before
# and just after the call; so a slot is known to lie in [earliest, latest] on
# time.monotonic()'s timeline. On an idle machine that is a fraction of a millisecond;
# on a loaded one it widens, and the checks below stay true where a fixed tolerance
# on one estimate would fail. No check here depends on how fast the machine is.

EPS_S = 0.003  # Redis's clock against time.monotonic(), and float rounding
T = TypeVar("T")


@dataclass(frozen=True)
class Booked:
    """A booked slot: its wait as answered, and where it lies on time.monotonic()."""

    wait: float
    earliest: float
    latest: float
    weight: int = 1


def reserved(throttle: Throttle, limit: Limit, weight: int = 1, bulk: bool = True) -> Booked:
    before = time.monotonic()
    wait = throttle.reserve(limit, weight=weight, bulk=bulk)
    return Booked(wait, before + wait, time.monotonic() + wait, weight)


class Recording(Throttle):
    """A Throttle that notes, per thread, the slot its last reserve() booked (take_slot's)."""

    def __init__(self, connection: redis.Redis) -> None:
        super().__init__(connection)
        self.last = threading.local()

    def reserve(self, limit: Limit, weight: int = 1, bulk: bool = True) -> float:
        before = time.monotonic()
        wait = super().reserve(limit, weight, bulk)
        slot = Booked(wait, before + wait, time.monotonic() + wait, weight)
        self.last.slot = slot if wait >= 0 else None
        return wait


def surely_in_one_second(slots: list[Booked]) -> int:
    """The most slots that lie within one second wherever they are in their intervals."""
    return max(
        sum(1 for s in slots if s.earliest >= t and s.latest < t + 1.0 - 2 * EPS_S)
        for t in (s.earliest for s in slots)
    )


def possibly_in_one_second(slots: list[Booked]) -> int:
    """The most slots that could lie within one second (an upper bound)."""
    return max(
        sum(1 for s in slots if s.latest >= t and s.earliest < t + 1.0 + 2 * EPS_S)
        for t in (s.latest for s in slots)
    )


def assert_follows(slot: Booked, following: Booked, step: float) -> None:
    """``following`` was booked next after ``slot``: ``step`` later, as far as their
    intervals tell; or, when the sender's next slot had passed (wait 0), no sooner.
    """
    soonest = following.earliest - slot.latest - EPS_S
    latest = following.latest - slot.earliest + EPS_S
    if following.wait > 0:
        assert soonest <= step <= latest, (slot, following, step)
    else:
        assert step <= latest, (slot, following, step)


def quickly(scenario: Callable[[int], T], within_s: float, timeout_s: float = 60.0) -> T:
    """``scenario(run)`` (fresh senders each run) until one run took less than ``within_s``.

    Some checks need calls close together on the Redis server's clock ("the next ask
    comes before the 50 ms of the margin pass"), which a test cannot stop. A run that
    a loaded machine stalls longer than that proves nothing either way: it runs again.
    The timeout only stops a hang.
    """
    deadline = time.monotonic() + timeout_s
    for run in itertools.count():
        start = time.monotonic()
        result = scenario(run)
        if time.monotonic() - start < within_s:
            return result
        assert time.monotonic() < deadline, f"no run of {scenario} within {within_s} s"
    raise AssertionError("unreachable")


def take_slot(throttle: Throttle, limit: Limit) -> None:
    """What a sender does: book a slot and wait for it (or ask again when told to).

    A sender that wakes too late for its slot (the process stalled) books another:
    sending late could crowd the next second (the pacer does the same).
    """
    late_s = limit.margin_ms / 2000.0
    while True:
        wait = throttle.reserve(limit)
        if wait < 0:
            time.sleep(max(-wait, 0.005))
            continue
        slot = time.monotonic() + wait
        time.sleep(wait)
        if time.monotonic() - slot <= late_s:
            return


def test_two_processes_worth_of_threads_never_take_more_than_the_rate_in_any_second(connect):
    """Eight threads on two connections (two workers) share one sender's 40/s."""
    limit = Limit("sms:+12135550100", rate_per_s=40)
    throttles = [Recording(connect()) for _ in range(2)]
    taken: list[Booked] = []
    lock = threading.Lock()

    def send(throttle: Recording) -> None:
        for _ in range(15):
            take_slot(throttle, limit)
            slot = throttle.last.slot
            assert time.monotonic() >= slot.earliest - EPS_S  # never before its slot
            with lock:
                taken.append(slot)

    threads = [threading.Thread(target=send, args=(throttles[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 120
    assert surely_in_one_second(taken) <= 40


def test_slots_are_shared_across_connections_and_spaced(connect):
    limit = Limit("whatsapp:+12135550100", rate_per_s=5, margin_ms=40)
    first, second = (Throttle(connect()) for _ in range(2))
    slots = [reserved(first if i % 2 else second, limit) for i in range(4)]
    assert all(slot.wait >= 0 for slot in slots)
    for slot, following in zip(slots, slots[1:], strict=False):
        assert_follows(slot, following, 1.040 / 5)


def test_bulk_books_at_most_a_second_ahead_so_replies_are_not_starved(connect):
    throttle = Throttle(connect())

    def four_asks(run: int) -> list[float]:
        limit = Limit(f"sms:+12135550199/{run}", rate_per_s=2, margin_ms=0)
        return [throttle.reserve(limit) for _ in range(4)]

    waits = quickly(four_asks, within_s=0.5)  # slots 0, 0.5, 1.0; the 4th is 1.5 s ahead
    assert waits[0] >= 0 and waits[-1] < 0  # the rest must ask again later


def test_a_paused_sender_reports_its_pause(connect):
    throttle = Throttle(connect())

    def pause(run: int) -> tuple[float, float]:
        sender = f"whatsapp:+1/{run}"
        before = throttle.paused_for(sender)
        throttle.pause(sender, 30)
        return before, throttle.paused_for(sender)

    before, left = quickly(pause, within_s=1.0)
    assert before == 0
    assert 29 < left <= 30


def record(name: str) -> None:
    """A job: note that it ran (the connection is the test's Redis)."""
    from rq import get_current_job

    get_current_job().connection.rpush("ran", name)


RECORD = f"{__name__}.record"  # the job by its dotted name, as the queue stores it


def test_replies_queue_is_worked_before_bulk(connect):
    connection = connect()
    for n in range(3):
        queue.enqueue(connection, queue.QUEUE_LOW, RECORD, f"bulk{n}")
    queue.enqueue(connection, queue.QUEUE_HIGH, RECORD, "reply")
    worker = queue.make_worker(connection, simple=True)
    worker.work(burst=True)
    assert [x.decode() for x in connection.lrange("ran", 0, -1)][0] == "reply"


def test_many_threads_can_get_a_redis_connection(connect):
    """redis-py's default pool fails the 101st thread; ours waits, and is bigger."""
    connection = connect()
    pool = connection.connection_pool
    assert isinstance(pool, redis.BlockingConnectionPool)
    assert pool.max_connections > 100
    held = [pool.get_connection() for _ in range(101)]
    for held_connection in held:
        pool.release(held_connection)


# -- reserve_many: a chunk of a broadcast in one Redis call --------------------------


def booked_at(
    throttle: Throttle, limit: Limit, weights: list[int], bulk: bool = True
) -> tuple[list[float], list[Booked]]:
    """reserve_many, with each booked send placed on time.monotonic()'s timeline."""
    before = time.monotonic()
    waits = throttle.reserve_many(limit, weights, bulk=bulk)
    after = time.monotonic()
    booked = zip(waits, weights, strict=False)
    return waits, [Booked(w, before + w, after + w, weight) for w, weight in booked if w >= 0]


def test_reserve_many_spaces_sends_by_interval_times_weight(connect):
    limit = Limit("sms:+12135550101", rate_per_s=5, margin_ms=40)
    waits = Throttle(connect()).reserve_many(limit, [1, 2, 1, 3])
    step = limit.interval_ms / 1000.0  # 0.208 s
    assert waits == pytest.approx([0.0, step, 3 * step, 4 * step], abs=1e-6)


def test_reserve_many_of_nothing_books_nothing(connect):
    limit = Limit("sms:+12135550102", rate_per_s=5, margin_ms=0)
    throttle = Throttle(connect())
    assert throttle.reserve_many(limit, []) == []
    assert throttle.reserve(limit) == pytest.approx(0.0, abs=1e-6)  # the slot is still free


def test_reserve_many_books_at_most_a_second_ahead_then_says_when_to_ask(connect):
    throttle = Throttle(connect())

    def book_then_ask(run: int) -> tuple[Limit, list[float], list[float]]:
        limit = Limit(f"sms:+12135550103/{run}", rate_per_s=10, margin_ms=50)  # per 0.105 s
        return limit, throttle.reserve_many(limit, [1] * 30), throttle.reserve_many(limit, [1] * 30)

    limit, waits, again = quickly(book_then_ask, within_s=0.05)  # within the 50 ms margin
    assert waits == pytest.approx([n * 0.105 for n in range(10)], abs=1e-6)  # up to 0.945 s
    assert len(again) == 1 and -0.05 <= again[0] < 0  # the next slot is 1.05 s ahead
    time.sleep(-again[0] + 0.01)
    later = throttle.reserve_many(limit, [1] * 30)
    assert later and all(0 <= w <= 1.0 for w in later)  # asked again when told to: booked


def test_reserve_many_books_about_a_second_of_sends_at_ten_a_second(connect):
    throttle = Throttle(connect())

    def book_wait_ask(run: int) -> tuple[list[float], list[float], list[float]]:
        limit = Limit(f"sms:+12135550109/{run}", rate_per_s=10, margin_ms=0)  # per 0.1 s
        waits = throttle.reserve_many(limit, [1] * 30)
        time.sleep(0.01)  # so the 1.0 s slot, if left, is now within the horizon
        again = throttle.reserve_many(limit, [1] * 30)
        return waits, again, throttle.reserve_many(limit, [1] * 30)

    waits, again, third = quickly(book_wait_ask, within_s=0.02)
    assert len(waits) in (10, 11)  # 0.0 .. 1.0 s ahead (1.0 itself: float rounding)
    assert waits == pytest.approx([n / 10 for n in range(len(waits))], abs=1e-6)
    if len(waits) == 10:
        assert again == pytest.approx([0.99], abs=0.01)
        again = third
    assert len(again) == 1 and -0.1 < again[0] < 0


def test_reserve_many_for_replies_books_any_distance_ahead(connect):
    limit = Limit("sms:+12135550104", rate_per_s=10, margin_ms=0)
    waits = Throttle(connect()).reserve_many(limit, [1] * 30, bulk=False)
    assert waits == pytest.approx([n / 10 for n in range(30)], abs=1e-6)


def test_reserve_many_counts_the_weight_of_sends_against_the_horizon(connect):
    limit = Limit("sms:+12135550105", rate_per_s=10, margin_ms=0)
    waits = Throttle(connect()).reserve_many(limit, [4] * 10)
    assert waits == pytest.approx([0.0, 0.4, 0.8], abs=1e-6)  # the next would be 1.2 s ahead


def test_reserve_and_reserve_many_never_book_the_same_slot(connect):
    """Both take the sender's one "next slot": interleaved, they pack end to end."""
    limit = Limit("whatsapp:+12135550106", rate_per_s=10, margin_ms=0)
    first, second = (Throttle(connect()) for _ in range(2))
    calls: list[list[Booked]] = []  # each call's slots, in the order the calls were made
    for round_ in range(4):
        calls.append([reserved(first, limit, weight=2, bulk=False)])
        weights = [1, 3, 1] if round_ % 2 else [2, 1]
        waits, booked = booked_at(second, limit, weights, bulk=False)
        assert len(waits) == len(weights)
        calls.append(booked)
        calls.append([reserved(second, limit, bulk=False)])
    slots = [slot for call in calls for slot in call]
    assert len(slots) == 4 * 2 + 2 * 3 + 2 * 2
    for call in calls:  # one call's waits share one "now": end to end, exactly
        for slot, following in zip(call, call[1:], strict=False):
            assert following.wait - slot.wait == pytest.approx(slot.weight * 0.1, abs=1e-6)
    for call, next_call in zip(calls, calls[1:], strict=False):  # and each call after the last
        assert_follows(call[-1], next_call[0], call[-1].weight * 0.1)


def test_reserve_many_fills_the_horizon_that_reserve_then_respects(connect):
    throttle = Throttle(connect())

    def fill_then_ask(run: int) -> tuple[int, float, float]:
        limit = Limit(f"sms:+12135550107/{run}", rate_per_s=10, margin_ms=50)  # per 0.105 s
        booked = len(throttle.reserve_many(limit, [1] * 30))
        return booked, throttle.reserve(limit), throttle.reserve(limit, bulk=False)

    booked, bulk, reply = quickly(fill_then_ask, within_s=0.05)  # within the 50 ms margin
    assert booked == 10
    assert bulk < 0  # bulk: nothing left within the second
    assert 1.0 <= reply <= 1.05 + 1e-6  # a reply queues after the booked sends


def test_reserve_many_on_two_connections_never_takes_more_than_the_rate_in_any_second(connect):
    """Four loops (two workers) booking chunks, and two single sends, share one 40/s."""
    limit = Limit("sms:+12135550108", rate_per_s=40)
    throttles = [Recording(connect()) for _ in range(2)]
    taken: list[Booked] = []
    lock = threading.Lock()

    def send_chunks(throttle: Throttle, chunk: int) -> None:
        booked = 0
        while booked < 24:
            waits, slots = booked_at(throttle, limit, [1] * min(chunk, 24 - booked))
            if waits[0] < 0:
                time.sleep(-waits[0])
                continue
            booked += len(slots)
            with lock:
                taken.extend(slots)

    def send_singles(throttle: Recording) -> None:
        for _ in range(12):
            take_slot(throttle, limit)
            slot = throttle.last.slot
            assert time.monotonic() >= slot.earliest - EPS_S  # never before its slot
            with lock:
                taken.append(slot)

    threads = [
        threading.Thread(target=send_chunks, args=(throttles[i % 2], 5 + 3 * i)) for i in range(4)
    ]
    threads += [threading.Thread(target=send_singles, args=(throttles[i],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 4 * 24 + 2 * 12
    assert surely_in_one_second(taken) <= 40
    assert possibly_in_one_second(taken) >= 30  # and the throttle did not just send slowly
