"""Events: create them with their reminders and RSVP keywords, and see who is coming.

A reminder is an offset before the event ("1d", "2h"); when it is due the
engine (``bot.broadcasts.events``) turns it into one broadcast to the
contacts who answered yes or maybe. Texting one of the event's keywords
(MARCHA / MARCH) starts its RSVP; a keyword taken elsewhere is refused with
the reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from bot.accounts.roles import EDIT
from bot.broadcasts import events
from bot.broadcasts.models import RSVP_YES, Broadcast, Event, Reminder, Rsvp
from bot.contacts.models import Contact
from bot.db import get_db, get_session, utcnow
from bot.flows.model import FlowSet
from bot.i18n import LANGUAGES, N_
from bot.partners.organizations import PartnerError
from bot.web.dashboard import scope
from bot.web.dashboard.auth import TIMEZONES, current_user, record, require
from bot.web.dashboard.language import _, explained

bp = Blueprint("events", __name__, url_prefix="/events")

DEFAULT_OFFSETS = "1d, 2h"
EVENT_FORM_PROBLEM = N_(
    "Give the event a name, a date and time, a time zone, and reminders like 1d, 2h."
)


def offsets_from(text: str) -> list[dt.timedelta]:
    """ "1d, 2h" -> [1 day, 2 hours]; ValueError for anything else."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    return [events.parse_offset(p) for p in parts]


def describe_offset(seconds: int) -> str:
    """-86400 -> "1d before" in the user's language."""
    before = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if before % size == 0:
            amount = f"{before // size}{unit}"
            return _("{amount} before", amount=amount)
    amount = f"{before // 60}m"
    return _("{amount} before", amount=amount)


def _rsvp_counts(session: Any) -> dict[int, dict[str, int]]:
    rows = session.execute(
        select(Rsvp.event_id, Rsvp.answer, func.count())
        .join(Event, Event.id == Rsvp.event_id)
        .where(
            scope.owned_clause(Event.organization_id),
            Rsvp.contact_id.in_(scope.visible_contact_ids()),
        )
        .group_by(Rsvp.event_id, Rsvp.answer)
    )
    counts: dict[int, dict[str, int]] = {}
    for event_id, answer, count in rows:
        counts.setdefault(event_id, {})[answer] = count
    return counts


@bp.before_request
def _in_scope_only() -> None:
    """An event of another organization is not there (404), for every page and action."""
    event_id = (request.view_args or {}).get("event_id")
    if event_id is not None:  # a session of its own: the view's writes must not wait
        with get_db().session() as db_session:
            scope.owned_or_404(db_session, Event, event_id)


@bp.get("/")
def index() -> str:
    """Upcoming events first, then past ones."""
    session = get_session()
    now = utcnow()
    rows = session.scalars(
        select(Event)
        .where(scope.owned_clause(Event.organization_id))
        .order_by(Event.starts_at.desc())
        .limit(100)
    ).all()
    return render_template(
        "dashboard/events/index.html",
        upcoming=sorted((e for e in rows if e.starts_at > now), key=lambda e: e.starts_at),
        past=[e for e in rows if e.starts_at <= now],
        rsvps=_rsvp_counts(session),
        event_time=event_time,
    )


def event_time(event: Event) -> str:
    """When the event starts, in its own time zone."""
    return event.starts_at.astimezone(ZoneInfo(event.timezone)).strftime("%Y-%m-%d %H:%M")


@bp.get("/new")
@require(EDIT)
def new() -> str:
    """The new-event form."""
    return _new_page({})


def _new_page(values: Any) -> str:
    """The form, with what was typed when it comes back with a problem."""
    return render_template(
        "dashboard/events/new.html",
        timezones=TIMEZONES,
        offsets=values.get("reminders") or DEFAULT_OFFSETS,
        default_texts=events.default_reminder_texts(),
        zone=values.get("timezone")
        or (current_user().timezone if current_user() else TIMEZONES[0]),  # type: ignore[union-attr]
        values=values,
    )


def error_text(error: events.EventError | PartnerError) -> str:
    """Why a keyword was refused, in the page's language, with its values filled in."""
    return explained(error)


def _flows() -> FlowSet | None:
    loaded = current_app.extensions.get("puente.flows")
    return loaded.flowset if loaded is not None else None


def keywords_from(form: Any) -> dict[str, list[str]]:
    """ "MARCHA, MARCHAR" per language -> language -> keywords."""
    return {
        lang: [w.strip() for w in form.get(f"keywords_{lang}", "").split(",") if w.strip()]
        for lang in LANGUAGES
    }


@bp.post("/")
@require(EDIT)
def create() -> Any:
    """Create an event and its reminders."""
    form = request.form
    names = {lang: form.get(f"name_{lang}", "").strip()[:200] for lang in ("es", "en")}
    places = {lang: form.get(f"place_{lang}", "").strip()[:200] for lang in ("es", "en")}
    zone = form.get("timezone", "")
    try:
        if not any(names.values()) or zone not in available_timezones():
            raise ValueError("name and zone")
        starts = dt.datetime.fromisoformat(form.get("starts_at", "")).replace(tzinfo=ZoneInfo(zone))
        offsets = offsets_from(form.get("reminders", ""))
    except ValueError:
        flash(_(EVENT_FORM_PROBLEM), "error")
        return _new_page(form), 400
    if starts <= utcnow():
        flash(_("The event must be in the future."), "error")
        return _new_page(form), 400
    texts = _texts(form)
    names = _filled(names)
    try:
        with get_db().session() as session:
            event = events.create_event(
                session, names, _filled(places), starts.astimezone(dt.UTC), zone, offsets, texts,
                now=utcnow(), keywords=keywords_from(form), flows=_flows(),
                organization_id=scope.acting_organization(),  # a partner's event is its own
            )  # fmt: skip
            event_id = event.id
    except (events.EventError, PartnerError) as exc:
        flash(error_text(exc), "error")
        return _new_page(form), 400
    record("event.create", f"event:{event_id}", reminders=[int(o.total_seconds()) for o in offsets])
    flash(_("Event saved. Reminders go to everyone who says yes."), "success")
    return redirect(url_for(".detail", event_id=event_id))


def _texts(form: Any) -> dict[str, str] | None:
    """The reminder texts typed (None: the standard ones)."""
    typed = {
        lang: form.get(f"text_{lang}", "").replace("\r\n", "\n").strip() for lang in ("es", "en")
    }
    return {lang: text for lang, text in typed.items() if text} or None


def _filled(values: dict[str, str]) -> dict[str, str]:
    """Both languages: an empty one takes the other's text."""
    fallback = values.get("es") or values.get("en") or ""
    return {lang: value or fallback for lang, value in values.items()}


@bp.get("/<int:event_id>")
def detail(event_id: int) -> str:
    """An event: its reminders (sent or not) and its RSVPs."""
    session = get_session()
    event = scope.owned_or_404(session, Event, event_id)
    due = session.execute(
        select(Reminder, Broadcast)
        .outerjoin(Broadcast, Broadcast.reminder_id == Reminder.id)
        .where(Reminder.event_id == event.id)
        .order_by(Reminder.offset_s)
    ).all()
    rsvps = session.execute(
        select(Rsvp, Contact)
        .join(Contact, Contact.id == Rsvp.contact_id)
        .where(Rsvp.event_id == event.id, scope.contacts_clause())
        .order_by(Rsvp.updated_at.desc())
    ).all()
    return render_template(
        "dashboard/events/detail.html",
        event=event,
        keywords=events.keywords_of(session, event.id),
        starts=event_time(event),
        reminders=[(r, b, event.starts_at + dt.timedelta(seconds=r.offset_s)) for r, b in due],
        rsvps=rsvps,
        yes=sum(1 for r, _c in rsvps if r.answer == RSVP_YES),
        describe_offset=describe_offset,
    )


@bp.post("/<int:event_id>/reminders")
@require(EDIT)
def add_reminder(event_id: int) -> Any:
    """Add one more reminder to an event."""
    try:
        offsets = offsets_from(request.form.get("offset", ""))
    except ValueError:
        offsets = []
    if len(offsets) != 1:
        flash(_("Write one offset, like 3h or 1d."), "error")
        return redirect(url_for(".detail", event_id=event_id))
    with get_db().session() as session:
        event = scope.owned_or_404(session, Event, event_id)
        reminder = events.add_event_reminder(session, event, offsets[0], _texts(request.form))
        reminder_id = reminder.id
    record("event.reminder_add", f"event:{event_id}", reminder=reminder_id)
    flash(_("Reminder added."), "success")
    return redirect(url_for(".detail", event_id=event_id))


@bp.post("/<int:event_id>/keywords")
@require(EDIT)
def set_keywords(event_id: int) -> Any:
    """Replace the event's RSVP keywords; a taken one is refused with the reason."""
    wanted = keywords_from(request.form)
    try:
        with get_db().session() as session:
            event = scope.owned_or_404(session, Event, event_id)
            events.set_keywords(session, event, wanted, _flows())
    except (events.EventError, PartnerError) as exc:
        flash(error_text(exc), "error")
        return redirect(url_for(".detail", event_id=event_id))
    record("event.keywords", f"event:{event_id}", keywords=wanted)
    flash(_("Keywords saved."), "success")
    return redirect(url_for(".detail", event_id=event_id))
