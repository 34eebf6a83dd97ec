"""The shared per-sender throttle and queue priority, on a real redis-server."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from bot import queue
from bot.broadcasts.throttle import Limit, Throttle


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


def test_two_processes_worth_of_threads_never_take_more_than_the_rate_in_any_second(connect):
    """Eight threads on two connections (two workers) share one sender's 40/s."""
    limit = Limit("sms:+12135550100", rate_per_s=40)
    throttles = [Throttle(connect()) for _ in range(2)]
    taken: list[float] = []
    lock = threading.Lock()

    def send(throttle: Throttle) -> None:
        for _ in range(15):
            assert throttle.acquire(limit)
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


def test_every_sending_thread_can_get_a_redis_connection(connect):
    """redis-py's default pool fails the 101st thread; ours waits, and is big enough."""
    from bot.defaults import DEFAULT_SEND_THREADS

    connection = connect()
    pool = connection.connection_pool
    assert isinstance(pool, redis.BlockingConnectionPool)
    assert pool.max_connections > DEFAULT_SEND_THREADS
    held = [pool.get_connection() for _ in range(DEFAULT_SEND_THREADS + 1)]
    for held_connection in held:
        pool.release(held_connection)
