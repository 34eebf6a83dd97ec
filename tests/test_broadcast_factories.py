"""Factories and worker processes for the broadcast tests (no tests in this module)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot import phones
from bot.broadcasts import broadcast
from bot.broadcasts.audiences import Filters
from bot.broadcasts.models import Delivery
from bot.contacts.models import Address, Contact, ContactTag
from bot.db import Database
from bot.sending import process
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SMS_FROM, WHATSAPP_FROM

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 6, 3, 18, 0, tzinfo=dt.UTC)  # 13:00 in Chicago, 12:00 in CDMX
TEMPLATE = "HX" + "b" * 32


def settings(database_url: str, redis_url: str, fake_url: str, **overrides: Any) -> dict[str, str]:
    """Environment for a worker process (and the config for in-process runtimes)."""
    env = {
        "PUENTE_ENV": "development",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PUBLIC_URL": PUBLIC_URL,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_FROM": SMS_FROM,
        "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "TWILIO_API_URL": fake_url,
        "SMS_RATE_PER_S": "50",
        "WHATSAPP_RATE_PER_S": "50",
        "RECONCILE_INTERVAL_S": "1",
        "SETTLE_AFTER_S": "6",  # a claimed send leaves within 3 s or never
        "LOG_LEVEL": "WARNING",
        # Workers run on the real clock: open the window all day (quiet hours have their tests).
        "QUIET_HOURS_START": "0",
        "QUIET_HOURS_END": "24",
        "QUIET_HOURS_START_MX": "0",
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def in_process(env: Mapping[str, str]) -> process.Runtime:
    """A runtime for jobs run in the test process."""
    from bot.config import from_environ

    built = process.build(from_environ(env))
    process.use(built)
    return built


def add_contact(
    db: Database,
    phone: str,
    language: str = "en",
    channels: Iterable[str] = ("sms",),
    *,
    opted_in: bool = True,
    status: str = "active",
    tags: Iterable[str] = (),
    last_inbound_at: dt.datetime | None = None,
    joined_at: dt.datetime = NOW - dt.timedelta(days=30),
) -> int:
    """A contact as if they had joined by text (country and zone from the number)."""
    facts = phones.facts(phone)
    with db.session() as session:
        contact = Contact(
            phone=phone,
            language=language,
            status=status,
            opted_in_at=joined_at if opted_in else None,
            country=facts.country,
            region=facts.region,
            timezone=facts.timezone,
            fields={},
            created_at=joined_at,
            last_seen_at=last_inbound_at,
        )
        for channel in channels:
            address = phones.address_for(channel, phone)
            contact.addresses.append(
                Address(channel=channel, address=address, last_inbound_at=last_inbound_at)
            )
        contact.tags = [ContactTag(tag=t) for t in tags]
        session.add(contact)
        session.flush()
        return contact.id


def add_broadcast(
    db: Database,
    texts: Mapping[str, str] | None = None,
    filters: Filters | None = None,
    send: bool = True,
    **kwargs: Any,
) -> int:
    texts = texts or {"en": "March on Saturday", "es": "Marcha el sábado"}
    with db.session() as session:
        created = broadcast.create(
            session, "test", texts, filters or Filters(), now=kwargs.pop("now", NOW), **kwargs
        )
        if send:
            broadcast.send(session, created.id, NOW)
        return created.id


def deliveries(db: Database, broadcast_id: int) -> dict[int, str]:
    """contact id -> delivery status."""
    with db.session() as session:
        rows = session.execute(
            select(Delivery.contact_id, Delivery.status).where(
                Delivery.broadcast_id == broadcast_id
            )
        ).all()
        return dict(rows)


def wait_until(check: Callable[[], bool], timeout_s: float = 180, what: str = "") -> None:
    """Wait for ``check``: a bound on liveness (generous: CI machines stall), not a timing test."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.1)


class WorkerProcess:
    """`python worker.py` in its own process group (killed whole, like a machine dying)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            env=full,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def kill(self) -> None:
        """SIGKILL the worker and its work horse: nothing gets to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stderr is not None:
            self.process.stderr.close()
