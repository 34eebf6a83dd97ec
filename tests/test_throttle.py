"""The shared per-sender throttle and queue priority, on a real redis-server."""

from __future__ import annotations

import threading
import time

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


def max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


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
    throttles = [Throttle(connect()) for _ in range(2)]
    taken: list[float] = []
    lock = threading.Lock()

    def send(throttle: Throttle) -> None:
        for _ in range(15):
            take_slot(throttle, limit)
            with lock:
                taken.append(time.monotonic())

    threads = [threading.Thread(target=send, args=(throttles[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 120
    assert max_in_any_second(taken) <= 40


def test_slots_are_shared_across_connections_and_spaced(connect):
    limit = Limit("whatsapp:+12135550100", rate_per_s=5, margin_ms=40)
    first, second = (Throttle(connect()) for _ in range(2))
    waits = [(first if i % 2 else second).reserve(limit) for i in range(4)]
    assert all(w >= 0 for w in waits)
    gaps = [b - a for a, b in zip(waits, waits[1:], strict=False)]
    assert all(abs(gap - 1.040 / 5) < 0.02 for gap in gaps), gaps


def test_bulk_books_at_most_a_second_ahead_so_replies_are_not_starved(connect):
    limit = Limit("sms:+12135550199", rate_per_s=2, margin_ms=0)
    throttle = Throttle(connect())
    waits = [throttle.reserve(limit) for _ in range(4)]
    assert waits[0] >= 0 and waits[-1] < 0  # the rest must ask again later


def test_a_paused_sender_reports_its_pause(connect):
    throttle = Throttle(connect())
    assert throttle.paused_for("whatsapp:+1") == 0
    throttle.pause("whatsapp:+1", 30)
    assert 29 < throttle.paused_for("whatsapp:+1") <= 30


def record(name: str) -> None:
    """A job: note that it ran (the connection is the test's Redis)."""
    from rq import get_current_job

    get_current_job().connection.rpush("ran", name)


def test_replies_queue_is_worked_before_bulk(connect):
    connection = connect()
    for n in range(3):
        queue.enqueue(connection, queue.QUEUE_LOW, "tests.test_throttle.record", f"bulk{n}")
    queue.enqueue(connection, queue.QUEUE_HIGH, "tests.test_throttle.record", "reply")
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
) -> tuple[list[float], list[float]]:
    """reserve_many, with each booked wait turned into a time.monotonic() moment."""
    waits = throttle.reserve_many(limit, weights, bulk=bulk)
    now = time.monotonic()
    return waits, [now + w for w in waits if w >= 0]


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
    limit = Limit("sms:+12135550103", rate_per_s=10, margin_ms=50)  # one send per 0.105 s
    throttle = Throttle(connect())
    waits = throttle.reserve_many(limit, [1] * 30)
    assert waits == pytest.approx([n * 0.105 for n in range(10)], abs=1e-6)  # up to 0.945 s
    again = throttle.reserve_many(limit, [1] * 30)
    assert len(again) == 1 and -0.05 <= again[0] < 0  # the next slot is 1.05 s ahead
    time.sleep(-again[0] + 0.01)
    later = throttle.reserve_many(limit, [1] * 30)
    assert later and all(0 <= w <= 1.0 for w in later)  # asked again when told to: booked


def test_reserve_many_books_about_a_second_of_sends_at_ten_a_second(connect):
    limit = Limit("sms:+12135550109", rate_per_s=10, margin_ms=0)  # one send per 0.1 s
    throttle = Throttle(connect())
    waits = throttle.reserve_many(limit, [1] * 30)
    assert len(waits) in (10, 11)  # 0.0 .. 1.0 s ahead (1.0 itself: float rounding)
    assert waits == pytest.approx([n / 10 for n in range(len(waits))], abs=1e-6)
    time.sleep(0.01)  # so the 1.0 s slot, if left, is now within the horizon
    again = throttle.reserve_many(limit, [1] * 30)
    if len(waits) == 10:
        assert again == pytest.approx([0.99], abs=0.01)
        again = throttle.reserve_many(limit, [1] * 30)
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
    slots: list[tuple[float, int]] = []  # (moment, weight)
    for round_ in range(4):
        now = time.monotonic()
        slots.append((now + first.reserve(limit, weight=2, bulk=False), 2))
        weights = [1, 3, 1] if round_ % 2 else [2, 1]
        waits, moments = booked_at(second, limit, weights, bulk=False)
        assert len(waits) == len(weights)
        slots.extend(zip(moments, weights, strict=True))
        now = time.monotonic()
        slots.append((now + second.reserve(limit, bulk=False), 1))
    slots.sort()
    assert len(slots) == 4 * 2 + 2 * 3 + 2 * 2
    for (moment, weight), (following, _) in zip(slots, slots[1:], strict=False):
        assert following - moment == pytest.approx(weight * 0.1, abs=0.02)


def test_reserve_many_fills_the_horizon_that_reserve_then_respects(connect):
    limit = Limit("sms:+12135550107", rate_per_s=10, margin_ms=50)  # one send per 0.105 s
    throttle = Throttle(connect())
    assert len(throttle.reserve_many(limit, [1] * 30)) == 10
    assert throttle.reserve(limit) < 0  # bulk: nothing left within the second
    reply = throttle.reserve(limit, bulk=False)  # a reply queues after the booked sends
    assert 1.0 <= reply <= 1.05 + 1e-6


def test_reserve_many_on_two_connections_never_takes_more_than_the_rate_in_any_second(connect):
    """Four loops (two workers) booking chunks, and two single sends, share one 40/s."""
    limit = Limit("sms:+12135550108", rate_per_s=40)
    throttles = [Throttle(connect()) for _ in range(2)]
    taken: list[float] = []
    lock = threading.Lock()

    def send_chunks(throttle: Throttle, chunk: int) -> None:
        booked = 0
        while booked < 24:
            waits, moments = booked_at(throttle, limit, [1] * min(chunk, 24 - booked))
            if waits[0] < 0:
                time.sleep(-waits[0])
                continue
            booked += len(moments)
            with lock:
                taken.extend(moments)

    def send_singles(throttle: Throttle) -> None:
        for _ in range(12):
            take_slot(throttle, limit)
            with lock:
                taken.append(time.monotonic())

    threads = [
        threading.Thread(target=send_chunks, args=(throttles[i % 2], 5 + 3 * i)) for i in range(4)
    ]
    threads += [threading.Thread(target=send_singles, args=(throttles[i],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 4 * 24 + 2 * 12
    assert max_in_any_second(taken) <= 40
    assert max_in_any_second(taken) >= 30  # and the throttle did not just send slowly
