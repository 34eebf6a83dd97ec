"""What a Twilio error means for Puente.

Twilio reports a failed send in two places: synchronously, as an error code
and HTTP status in the API's answer, and later, as `ErrorCode` in a status
callback. Both go through `classify_error`, which says what the rest of the
bot should do (the `Consequence`) and whether sending the same message again later
is allowed. The table follows the domain notes (DOMAIN.md, "Errors when sending").

This module does not import `twilio`: it only knows numbers.
"""

from __future__ import annotations

import enum


class Consequence(enum.Enum):
    """What a send result means for the contact, the channel or the message."""

    NONE = "none"  # sent (queued at Twilio); nothing to do
    OPTED_OUT = "opted_out"  # 21610: mark the contact opted out, never retry
    INVALID_NUMBER = "invalid_number"  # flag the address, never retry
    OUTSIDE_WHATSAPP_WINDOW = "outside_whatsapp_window"  # send a template instead
    RATE_LIMITED_PAUSE_CHANNEL = "rate_limited_pause_channel"  # pause bulk on this sender
    RETRY = "retry"  # transient: retry with backoff
    UNKNOWN_FATE = "unknown_fate"  # the request may have reached Twilio: do not resend blindly
    PERMANENT_FAILURE = "permanent_failure"  # give up and report the error message


# Twilio error code -> (consequence, retryable).
ERROR_TABLE: dict[int, tuple[Consequence, bool]] = {
    21610: (Consequence.OPTED_OUT, False),
    21211: (Consequence.INVALID_NUMBER, False),
    21614: (Consequence.INVALID_NUMBER, False),
    30006: (Consequence.INVALID_NUMBER, False),
    63016: (Consequence.OUTSIDE_WHATSAPP_WINDOW, False),
    63018: (Consequence.RATE_LIMITED_PAUSE_CHANNEL, True),
    63038: (Consequence.RATE_LIMITED_PAUSE_CHANNEL, True),
    21611: (Consequence.RATE_LIMITED_PAUSE_CHANNEL, True),
    30001: (Consequence.RATE_LIMITED_PAUSE_CHANNEL, True),
    20429: (Consequence.RETRY, True),
    30003: (Consequence.RETRY, True),
    30008: (Consequence.RETRY, True),
    30004: (Consequence.PERMANENT_FAILURE, False),
    30005: (Consequence.PERMANENT_FAILURE, False),
    30007: (Consequence.PERMANENT_FAILURE, False),
}

# Codes that may be retried only a few times; after that, treat them as
# `PERMANENT_FAILURE` (30003: flag the number after the last attempt).
RETRY_LIMITS: dict[int, int] = {30003: 3, 30008: 2}


def classify_error(code: int | None, http_status: int | None = None) -> tuple[Consequence, bool]:
    """Return (consequence, retryable) for a Twilio error code and/or HTTP status.

    The error code wins when it is known; otherwise HTTP 429 and 5xx are
    transient (retry with backoff) and everything else is a permanent failure.
    """
    if code is not None and code in ERROR_TABLE:
        return ERROR_TABLE[code]
    if http_status == 429:
        return Consequence.RETRY, True
    if http_status is not None and 500 <= http_status <= 599:
        return Consequence.RETRY, True
    return Consequence.PERMANENT_FAILURE, False


def retry_limit(code: int | None) -> int | None:
    """Return how many attempts a retryable code deserves, or None for no fixed limit."""
    if code is None:
        return None
    return RETRY_LIMITS.get(code)
