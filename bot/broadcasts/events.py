"""Events, RSVPs and reminders: before an event, and after each contact joined.

An event reminder fires once: when due, it becomes one broadcast to the
contacts who RSVP'd yes (``Broadcast.reminder_id`` is unique, so two workers
or a restart cannot fire it twice), expiring at the event's start. A
"joined" reminder (a welcome series step) owns one open broadcast; every
reconcile adds the contacts whose join date plus the offset has passed, and
the unique (broadcast, contact) key sends each of them once.

Texts may use {name}, {place} and {when}; {when} is written with Babel in
the contact's language and time zone ("sábado 6 de junio, 10:00 a.m.").

An event has keywords per language (CUMBRE / SUMMIT) in the partners' shared
namespace (``organization_keywords.event_id``): texting one starts the RSVP
flow for that event; RSVP alone answers the one open event or asks which.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
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
from bot.exceptions import ExplainedError
from bot.flows.model import FlowSet
from bot.i18n import LANGUAGES, N_, format_datetime, gettext
from bot.partners import organizations
from bot.partners.models import OrganizationKeyword

FLOW_ID = "summit_rsvp"  # flows/summit_rsvp.yaml: yes / no / maybe for one event
CHOOSE_STEP = "choose_event"  # RSVP with several open events: waiting for the number
MAX_CHOICES = 9  # RSVP lists at most this many open events, soonest first

# What a contact is told, in their language.
NO_OPEN_EVENT = N_("No event is taking RSVPs right now. We will text you when there is one.")
EVENT_OVER = N_("“{name}” is over and takes no more RSVPs. Thank you for caring!")
WHICH_EVENT = N_("Which event are you answering? Reply with its number:")
WHICH_EVENT_AGAIN = N_("Please reply with the number of the event, from 1 to {count}:")
TEXTS = (NO_OPEN_EVENT, EVENT_OVER, WHICH_EVENT, WHICH_EVENT_AGAIN)


class EventError(ExplainedError):
    """An event cannot be created or changed, and why."""


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
    *,
    keywords: Mapping[str, Sequence[str]] | None = None,
    flows: FlowSet | None = None,
    organization_id: int | None = None,
) -> Event:
    """An event, its reminders (e.g. 1 day and 2 hours before) and its RSVP keywords.

    A partner's event (``organization_id``) reminds that partner's members; a
    keyword taken anywhere raises PartnerError (or EventError) with the reason.
    """
    if starts_at.tzinfo is None:
        raise ValueError("the start time needs its time zone")
    event = Event(
        names=dict(names), places=dict(places), starts_at=starts_at, timezone=timezone,
        organization_id=organization_id,
    )  # fmt: skip
    if now is not None:
        event.created_at = now
    wanted = _wanted_keywords(session, None, keywords or {}, flows)
    session.add(event)
    session.flush()
    _store_keywords(session, event, wanted)
    for before in reminders_before:
        add_event_reminder(session, event, before, texts, now)
    return event


def set_keywords(
    session: Session, event: Event, keywords: Mapping[str, Sequence[str]], flows: FlowSet | None
) -> None:
    """Replace the event's keywords (none: it takes RSVPs by the RSVP keyword only)."""
    wanted = _wanted_keywords(session, event.id, keywords, flows)
    session.execute(delete(OrganizationKeyword).where(OrganizationKeyword.event_id == event.id))
    _store_keywords(session, event, wanted)


def keywords_of(session: Session, event_id: int) -> dict[str, list[str]]:
    """language -> the event's keywords, in alphabetical order."""
    rows = session.execute(
        select(OrganizationKeyword.language, OrganizationKeyword.keyword)
        .where(OrganizationKeyword.event_id == event_id)
        .order_by(OrganizationKeyword.keyword)
    )
    found: dict[str, list[str]] = {}
    for language, keyword in rows:
        found.setdefault(language, []).append(keyword)
    return found


def _wanted_keywords(
    session: Session,
    event_id: int | None,
    keywords: Mapping[str, Sequence[str]],
    flows: FlowSet | None,
) -> dict[str, str]:
    """normalized keyword -> language; one taken by anything but this event is refused."""
    own = set() if event_id is None else _own_keywords(session, event_id)
    wanted: dict[str, str] = {}
    for language, words in keywords.items():
        if language not in LANGUAGES:
            raise EventError(N_("Keywords are in Spanish (es) or English (en)."))
        for word in words:
            form = organizations.keyword_form(word)
            problem = None if form in own else organizations.keyword_problem(session, word, flows)
            if problem is not None:
                raise problem
            if wanted.get(form, language) != language:
                raise EventError(N_("%(keyword)s is given for both languages."), keyword=form)
            wanted[form] = language
    return wanted


def _own_keywords(session: Session, event_id: int) -> set[str]:
    return set(
        session.scalars(
            select(OrganizationKeyword.keyword).where(OrganizationKeyword.event_id == event_id)
        )
    )


def _store_keywords(session: Session, event: Event, wanted: Mapping[str, str]) -> None:
    owner = event.organization_id
    if owner is None:
        owner = organizations.root(session).id
    for form, language in wanted.items():
        session.add(
            OrganizationKeyword(
                keyword=form, organization_id=owner, language=language, event_id=event.id
            )
        )
    session.flush()
    organizations.forget_keywords()


def by_keyword(session: Session, text: str) -> tuple[Event, str] | None:
    """(event, keyword's language) when the whole message is an event's keyword."""
    form = organizations.keyword_form(text)
    found = organizations.keyword_index(session).get(form) if form else None
    if found is None or found.event_id is None:
        return None
    event = session.get(Event, found.event_id)
    return (event, found.language) if event is not None else None


def flow_answers(session: Session, event: Event) -> dict[str, Any]:
    """What the RSVP flow knows of the event, per language: its name, place, date
    (Babel, in the event's time zone) and a keyword to text again."""
    keywords = keywords_of(session, event.id)
    answers: dict[str, Any] = {"event": event.id}
    for lang in LANGUAGES:
        answers[f"event_name_{lang}"] = event_name(event, lang)
        answers[f"event_place_{lang}"] = _in(event.places, lang)
        answers[f"event_date_{lang}"] = format_datetime(event.starts_at, lang, event.timezone)
        own = keywords.get(lang) or [k for words in keywords.values() for k in words]
        answers[f"event_keyword_{lang}"] = own[0] if own else "RSVP"
    return answers


def event_name(event: Event, lang: str) -> str:
    """The event's name in ``lang`` (the other language's when it has none)."""
    return _in(event.names, lang)


def _in(values: Mapping[str, str], lang: str) -> str:
    return values.get(lang) or next((v for v in values.values() if v), "")


def choice_text(events: Sequence[Event], lang: str, *, again: bool = False) -> str:
    """The question RSVP asks when several events are open, with their numbered names."""
    if again:
        first = gettext(lang, WHICH_EVENT_AGAIN, count=len(events))
    else:
        first = gettext(lang, WHICH_EVENT)
    lines = [f"{n}. {event_name(e, lang)}" for n, e in enumerate(events, start=1)]
    return "\n".join([first, *lines])


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
    session: Session,
    event_id: int,
    contact_id: int,
    answer: str,
    now: dt.datetime,
    guests: int | None = None,
) -> None:
    """Record (or change) yes / no / maybe, and the guests when given; yes and maybe
    get reminders. One per person per event: the latest answer counts."""
    if answer not in RSVP_ANSWERS:
        raise ValueError(f"an RSVP is one of {RSVP_ANSWERS}, not {answer!r}")
    existing = session.get(Rsvp, (event_id, contact_id))
    if existing is None:
        existing = Rsvp(event_id=event_id, contact_id=contact_id, answer=answer, updated_at=now)
        session.add(existing)
    else:
        existing.answer, existing.updated_at = answer, now
    if guests is not None or answer != RSVP_YES:
        existing.guests = guests if answer == RSVP_YES else None


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
