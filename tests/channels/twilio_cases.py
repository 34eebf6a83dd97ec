"""The Twilio account, senders and error table the channel tests share (sync, async, Prism)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable
from typing import TypeVar

from bot.channels.errors import Consequence
from bot.channels.fake_twilio import FakeTwilio

ACCOUNT_SID = "AC" + "0" * 31 + "1"
TOKEN = "test-auth-token"
SMS_FROM = "+15125550100"
WA_FROM = "whatsapp:+15125550101"
MG_SID = "MG" + "ab" * 16
HX_SID = "HX" + "cd" * 16
STATUS_URL = "https://puente.example.org/twilio/status"
US = "+15125550142"
MX_WA = "whatsapp:+5215512345678"

# Twilio error code, HTTP status -> what it means (sync and async alike).
ERROR_CASES = [
    (21610, 400, Consequence.OPTED_OUT, False),
    (21211, 400, Consequence.INVALID_NUMBER, False),
    (21614, 400, Consequence.INVALID_NUMBER, False),
    (30006, 400, Consequence.INVALID_NUMBER, False),
    (63016, 400, Consequence.OUTSIDE_WHATSAPP_WINDOW, False),
    (63018, 429, Consequence.RATE_LIMITED_PAUSE_CHANNEL, True),
    (63038, 400, Consequence.RATE_LIMITED_PAUSE_CHANNEL, True),
    (21611, 400, Consequence.RATE_LIMITED_PAUSE_CHANNEL, True),
    (30001, 400, Consequence.RATE_LIMITED_PAUSE_CHANNEL, True),
    (20429, 429, Consequence.RETRY, True),
    (30003, 400, Consequence.RETRY, True),
    (20500, 500, Consequence.RETRY, True),
    (20503, 503, Consequence.RETRY, True),
    (21408, 400, Consequence.PERMANENT_FAILURE, False),
    (20003, 401, Consequence.PERMANENT_FAILURE, False),
]


def only_message(fake: FakeTwilio) -> dict:
    """The one message the fake received (the test fails on none or several)."""
    outbox = fake.outbox()
    assert len(outbox) == 1
    return outbox[0]


T = TypeVar("T")


def run_async(coroutine: Awaitable[T]) -> T:
    """asyncio.run in a thread of its own: the browser tests leave Playwright's loop
    running in the main thread of a test process, where asyncio.run refuses to start.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()  # type: ignore[arg-type]
