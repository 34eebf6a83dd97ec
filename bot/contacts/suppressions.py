"""Suppressed numbers: what is kept of an erased person, so they are never texted again.

Only an HMAC-SHA256 of the E.164 number, keyed with ``ERASURE_KEY`` (or a key
derived from ``SECRET_KEY``), is stored. The same number always gives the same
hash under one key, so an import or a new contact can be checked against it;
without the key the hash says nothing. Changing the key forgets every
suppression: production sets ``ERASURE_KEY`` once and keeps it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import defaults
from bot.contacts.models import Suppression

SUPPRESSIONS = Suppression.__table__


def derived_key(secret_key: str) -> str:
    """The erasure key when ``ERASURE_KEY`` is not set: derived from ``SECRET_KEY``."""
    return hmac.new(secret_key.encode(), b"puente erasure key", hashlib.sha256).hexdigest()


def key_of(settings: Mapping[str, Any]) -> str:
    """The erasure key in the app's settings."""
    secret = settings.get("SECRET_KEY") or defaults.DEFAULT_DEV_SECRET_KEY
    return settings.get("ERASURE_KEY") or derived_key(secret)


def number_hash(phone: str, key: str) -> str:
    """The keyed hash of an E.164 number, as stored."""
    return hmac.new(key.encode(), phone.encode(), hashlib.sha256).hexdigest()


def is_suppressed(session: Session, phone: str, key: str) -> bool:
    """Whether this number belongs to a person who was erased."""
    found = session.scalar(
        select(SUPPRESSIONS.c.number_hash).where(
            SUPPRESSIONS.c.number_hash == number_hash(phone, key)
        )
    )
    return found is not None


def suppress(session: Session, phone: str, key: str, now: dt.datetime) -> None:
    """Keep this number's hash (once, whatever retries), with the opt-out's time."""
    hashed = number_hash(phone, key)
    if session.get(Suppression, hashed) is None:
        session.add(Suppression(number_hash=hashed, opted_out_at=now))
        session.flush()
