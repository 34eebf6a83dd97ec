"""Slowing down password guessing: failed sign-ins per email and per address.

After a few failures a key is blocked for a while, doubling with each new
failure up to a ceiling. The counters live in the database, so every web
process sees the same ones. A blocked attempt is refused before the password
is even checked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.accounts.models import LoginThrottle
from bot.db import Database

FREE_FAILURES_PER_EMAIL = 5  # failures allowed before the first wait
FREE_FAILURES_PER_IP = 20  # higher: an office or a phone carrier shares one address
FIRST_BLOCK = dt.timedelta(seconds=30)
LONGEST_BLOCK = dt.timedelta(minutes=15)
FORGET_AFTER = dt.timedelta(hours=1)  # a key with no failure for this long starts over


@dataclass(frozen=True)
class Key:
    name: str  # "email:ana@example.org" or "ip:203.0.113.9"
    free_failures: int


def keys_for(email: str, ip: str | None) -> list[Key]:
    """The counters one sign-in attempt touches."""
    keys = [Key(f"email:{email.strip().lower()}", FREE_FAILURES_PER_EMAIL)]
    if ip:
        keys.append(Key(f"ip:{ip}", FREE_FAILURES_PER_IP))
    return keys


def wait_needed(db: Database, keys: list[Key], now: dt.datetime) -> dt.timedelta | None:
    """How long before another attempt is allowed, or None when it is allowed now."""
    with db.session() as session:
        waits = [
            row.blocked_until - now
            for key in keys
            if (row := session.get(LoginThrottle, key.name)) is not None
            and row.blocked_until is not None
            and row.blocked_until > now
        ]
    return max(waits) if waits else None


def block_for(failures: int, free_failures: int) -> dt.timedelta | None:
    """The wait after ``failures`` failures in a row: none, then 30 s doubling to 15 min."""
    over = failures - free_failures
    if over < 0:
        return None
    return min(FIRST_BLOCK * (2 ** min(over, 10)), LONGEST_BLOCK)


def record_failure(db: Database, keys: list[Key], now: dt.datetime) -> None:
    """Count a failed attempt on every key, blocking those past their allowance."""
    for key in keys:
        try:
            with db.session() as session:
                _count(session, key, now)
        except IntegrityError:  # another process created the row first
            with db.session() as session:
                _count(session, key, now)


def _count(session: Session, key: Key, now: dt.datetime) -> None:
    row = session.get(LoginThrottle, key.name, with_for_update=True)
    if row is None:
        row = LoginThrottle(key=key.name, failures=0, last_failure_at=now)
        session.add(row)
    elif now - row.last_failure_at > FORGET_AFTER:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    wait = block_for(row.failures, key.free_failures)
    row.blocked_until = now + wait if wait else None


def record_success(db: Database, email: str) -> None:
    """A correct password clears the email's counter (not the address's)."""
    with db.session() as session:
        row = session.get(LoginThrottle, keys_for(email, None)[0].name)
        if row is not None:
            session.delete(row)
