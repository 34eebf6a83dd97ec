"""Event reminders fire once, whatever restarts; times in the contact's language and zone."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import func, select

from bot import queue
from bot.broadcasts import events
from bot.broadcasts.models import Broadcast, Event
from bot.db import utcnow
from bot.sending import reconcile
from bot.sending.deliveries import event_values
from tests.factories import create_contact
from tests.workers import in_process, worker_env

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)


def test_event_times_read_as_the_contact_writes_them():
    event = Event(
        names={"es": "Marcha", "en": "March"},
        places={"es": "Plaza", "en": "Plaza"},
        starts_at=dt.datetime(2026, 6, 6, 15, 0, tzinfo=dt.UTC),
        timezone="America/Mexico_City",
    )
    assert event_values(event, "es", None)["when"] == "sábado 6 de junio, 9:00 a.\u202fm."
    assert event_values(event, "en", "America/Los_Angeles")["when"] == "Saturday, June 6, 8:00 AM"


def run_everything(env):
    """One reconcile, then every job it queued, in this process (RQ's SimpleWorker)."""
    runtime = in_process(env)
    reconcile.run(runtime, runtime.redis, utcnow())
    queue.work(runtime.redis, burst=True, simple=True)


def test_reminders_fire_once_across_restarts(
    database, database_url, redis_url, redis_server, fake_twilio_server, fake_twilio
):
    env = worker_env(database_url, redis_url, fake_twilio_server[1])
    yes = create_contact(database, "+525512345671", "es")
    create_contact(database, "+12135550171", "en")  # no RSVP: no reminder
    with database.session() as session:
        event = events.create_event(
            session,
            {"es": "Marcha", "en": "March"},
            {"es": "Plaza", "en": "Plaza"},
            utcnow() + dt.timedelta(hours=1),
            "America/Mexico_City",
            [dt.timedelta(days=1), dt.timedelta(hours=2), dt.timedelta(minutes=30)],
            now=utcnow() - dt.timedelta(days=3),  # made days ago: the first two are due now
        )
        events.rsvp(session, event.id, yes, True, utcnow())
        event_id = event.id
    run_everything(env)
    run_everything(env)
    redis_server.restart_empty()
    run_everything(env)
    with database.session() as session:
        fired = session.scalar(select(func.count()).select_from(Broadcast))
        event = session.get(Event, event_id)
        when = event_values(event, "es", "America/Mexico_City")["when"]
    assert fired == 2  # 1 day and 2 hours before are due; 30 minutes before is not yet
    assert Counter(m["to"] for m in fake_twilio.outbox()) == {"+525512345671": 2}
    # The default reminder comes from the catalog, in the contact's language.
    expected = (
        f"Puente recordatorio: Marcha, {when}, en Plaza. Responde BAJA para no recibir mensajes."
    )
    assert {m["body"] for m in fake_twilio.outbox()} == {expected}


def test_a_reminder_already_past_when_made_never_fires(
    database, database_url, redis_url, fake_twilio_server, fake_twilio
):
    """Made 1 hour before the event, a "1 day before" reminder would reach nobody."""
    env = worker_env(database_url, redis_url, fake_twilio_server[1])
    yes = create_contact(database, "+525512345672", "es")
    with database.session() as session:
        event = events.create_event(
            session,
            {"es": "Marcha", "en": "March"},
            {"es": "Plaza", "en": "Plaza"},
            utcnow() + dt.timedelta(hours=1),
            "America/Mexico_City",
            [dt.timedelta(days=1)],
        )
        events.rsvp(session, event.id, yes, True, utcnow())
    run_everything(env)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Broadcast)) == 0
    assert fake_twilio.outbox() == []


def test_a_welcome_series_step_reaches_each_new_member_once_when_due(
    database, database_url, redis_url, fake_twilio_server, fake_twilio
):
    env = worker_env(database_url, redis_url, fake_twilio_server[1])
    now = utcnow()
    with database.session() as session:
        events.create_series_step(
            session,
            "welcome day 1",
            dt.timedelta(days=1),
            {"es": "¡Gracias por unirte! Así puedes ayudar hoy.", "en": "Thanks for joining!"},
            now=now - dt.timedelta(days=10),
        )
    for phone, joined_ago in [
        ("+525512345681", dt.timedelta(days=3)),  # due
        ("+525512345682", dt.timedelta(hours=2)),  # not yet
        ("+525512345683", dt.timedelta(days=20)),  # before
    ]:
        create_contact(database, phone, "es", created_at=now - joined_ago)
    run_everything(env)
    run_everything(env)
    sent = [(m["to"], m["body"]) for m in fake_twilio.outbox()]
    assert sent == [("+525512345681", "¡Gracias por unirte! Así puedes ayudar hoy.")]
