"""Events, RSVPs and reminders: before an event, and after each contact joined.

An event reminder fires once: when due, it becomes one broadcast to the
contacts who RSVP'd yes (``Broadcast.reminder_id`` is unique, so two workers
or a restart cannot fire it twice), expiring at the event's start. A
"joined" reminder (a welcome series step) owns one open broadcast; every
reconcile adds the contacts whose join date plus the offset has passed, and
the unique (broadcast, contact) key sends each of them once.

Texts may use {name}, {place} and {when}; {when} is written with Babel in
the contact's language and time zone ("sábado 6 de junio, 10:00 a.m.").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.broadcasts import broadcast
from bot.broadcasts.audiences import Filters
from bot.broadcasts.models import (
    BROADCAST_OPEN,
    REMINDER_EVENT,
    REMINDER_JOINED,
    RSVP_ANSWERS,
    RSVP_NO,
    RSVP_YES,
    Broadcast,
    Event,
    Reminder,
    Rsvp,
)
from bot.db import Database, utcnow
from bot.i18n import LANGUAGES, N_, gettext

# Used when the organizer gives no text of their own; translated in messages/.
DEFAULT_REMINDER = N_("{org_name} reminder: {name}, {when}, at {place}. Reply STOP to opt out.")


def default_reminder_texts() -> dict[str, str]:
    """The default reminder in every language ({org_name} is filled when sending)."""
    return {lang: gettext(lang, DEFAULT_REMINDER) for lang in LANGUAGES}


_OFFSET = re.compile(r"^(\d+)\s*([dhm])$")


def parse_offset(text: str) -> dt.timedelta:
    """ "1d", "2h", "30m" -> a timedelta; ValueError otherwise."""
    match = _OFFSET.match(text.strip().lower())
    if not match:
        raise ValueError(f"not an offset like 1d, 2h or 30m: {text!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return dt.timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})


def create_event(
    session: Session,
    names: Mapping[str, str],
    places: Mapping[str, str],
    starts_at: dt.datetime,
    timezone: str,
    reminders_before: Sequence[dt.timedelta] = (),
    texts: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> Event:
    """An event and its reminders (e.g. 1 day and 2 hours before)."""
    if starts_at.tzinfo is None:
        raise ValueError("the start time needs its time zone")
    event = Event(names=dict(names), places=dict(places), starts_at=starts_at, timezone=timezone)
    if now is not None:
        event.created_at = now
    session.add(event)
    session.flush()
    for before in reminders_before:
        add_event_reminder(session, event, before, texts, now)
    return event


def add_event_reminder(
    session: Session,
    event: Event,
    before: dt.timedelta,
    texts: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> Reminder:
    """A reminder ``before`` the event; one already past when made never fires."""
    reminder = Reminder(
        created_at=now or utcnow(),
        kind=REMINDER_EVENT,
        event_id=event.id,
        offset_s=-int(before.total_seconds()),
        texts=dict(texts or default_reminder_texts()),
        filters={},
    )
    session.add(reminder)
    session.flush()
    return reminder


def rsvp(session: Session, event_id: int, contact_id: int, yes: bool, now: dt.datetime) -> None:
    """Record (or change) a contact's yes or no; "yes" gets reminders."""
    record_answer(session, event_id, contact_id, RSVP_YES if yes else RSVP_NO, now)


def record_answer(
    session: Session, event_id: int, contact_id: int, answer: str, now: dt.datetime
) -> None:
    """Record (or change) yes / no / maybe; yes and maybe get reminders."""
    if answer not in RSVP_ANSWERS:
        raise ValueError(f"an RSVP is one of {RSVP_ANSWERS}, not {answer!r}")
    existing = session.get(Rsvp, (event_id, contact_id))
    if existing is None:
        session.add(Rsvp(event_id=event_id, contact_id=contact_id, answer=answer, updated_at=now))
    else:
        existing.answer, existing.updated_at = answer, now


def fire_due(db: Database, now: dt.datetime) -> int:
    """Turn each due event reminder into its broadcast, once; returns how many fired."""
    with db.session() as session:
        due = session.execute(
            select(Reminder, Event)
            .join(Event, Event.id == Reminder.event_id)
            .outerjoin(Broadcast, Broadcast.reminder_id == Reminder.id)
            .where(Reminder.kind == REMINDER_EVENT, Broadcast.id.is_(None), Event.starts_at > now)
        ).all()
        fired = 0
        for reminder, event in due:
            due_at = event.starts_at + dt.timedelta(seconds=reminder.offset_s)
            # A reminder whose moment had passed when it was made never fires: sent
            # at once, it would reach nobody who RSVPs afterwards, or everyone twice.
            if reminder.created_at < due_at <= now:
                fired += _fire(session, reminder, event, now)
    return fired


def _fire(session: Session, reminder: Reminder, event: Event, now: dt.datetime) -> int:
    try:
        with session.begin_nested():  # another worker may fire it at the same moment
            created = broadcast.create(
                session,
                f"reminder {reminder.id}: {event.names.get('en') or event.names.get('es')}",
                reminder.texts,
                Filters(event_id=event.id),
                default_language=_default_language(reminder.texts),
                expires_at=event.starts_at,
                reminder_id=reminder.id,
                organization_id=event.organization_id,  # a partner's event: its members
                now=now,
            )
            broadcast.send(session, created.id, now)
    except IntegrityError:
        return 0
    return 1


def _default_language(texts: Mapping[str, str]) -> str:
    return "en" if "en" in texts else next(iter(texts))


def create_series_step(
    session: Session,
    name: str,
    after: dt.timedelta,
    texts: Mapping[str, str],
    filters: Filters | None = None,
    now: dt.datetime | None = None,
) -> Reminder:
    """A welcome-series step: ``after`` each contact joins (from now on), send ``texts``."""
    reminder = Reminder(
        kind=REMINDER_JOINED,
        offset_s=int(after.total_seconds()),
        texts=dict(texts),
        filters=(filters or Filters()).to_dict(),
        name=name,
    )
    if now is not None:
        reminder.created_at = now
    session.add(reminder)
    session.flush()
    created = broadcast.create(
        session,
        f"series: {name}",
        texts,
        filters or Filters(),
        default_language=_default_language(texts),
        reminder_id=reminder.id,
        now=now or reminder.created_at,
    )
    created.status = BROADCAST_OPEN
    return reminder


def series_filters(
    session: Session, reminder_id: int | None, now: dt.datetime | None = None
) -> Filters | None:
    """Who a series step is due for now: joined since the step existed, offset passed."""
    if reminder_id is None:
        return None
    reminder = session.get(Reminder, reminder_id)
    if reminder is None or reminder.kind != REMINDER_JOINED:
        return None
    now = now or dt.datetime.now(dt.UTC)
    base = Filters.from_dict(reminder.filters)
    offset = dt.timedelta(seconds=reminder.offset_s)
    data = base.to_dict() | {
        "joined_after": reminder.created_at.isoformat(),
        "joined_before": (now - offset).isoformat(),
    }
    return Filters.from_dict(data)


def upcoming(session: Session, now: dt.datetime) -> list[Event]:
    """Events that have not started yet, soonest first."""
    return list(
        session.scalars(select(Event).where(Event.starts_at > now).order_by(Event.starts_at))
    )
