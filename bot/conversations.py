"""Conversation flows, wired to the database: the bridge to the pure engine.

`converse` loads the contact's flow session, lets `bot.flows.engine` decide,
then applies what it decided (fields, tags, language, consent, reports) and
stores the new session. Flows are loaded and fully checked once, at start-up:
a broken flow stops the app with the file, line, step and problem. A flow whose
required settings are not configured (LEGAL_HELP…) is disabled instead, with one
warning: its keywords start nothing. The RSVP flow takes its event from the
database: the event's keyword (or RSVP and a choice) gives it as answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.broadcasts import events
from bot.broadcasts.models import RSVP_ANSWERS, Event
from bot.channels.twilio import Sender
from bot.contacts import consent
from bot.contacts.models import (
    CHANNEL_SMS,
    Contact,
    ContactTag,
    FlowSession,
    StoredFlow,
    choose_language,
)
from bot.db import Database
from bot.flows import engine
from bot.flows.answers import parse_number
from bot.flows.check import load_checked_flows, missing_variables
from bot.flows.model import FlowSet
from bot.i18n import format_number, gettext
from bot.msgs.sending import send_to_contact
from bot.partners import organizations
from bot.partners.models import MEMBER, Membership
from bot.petitions import petitions
from bot.petitions.models import PETITION_OPEN, Petition
from bot.polls import polls
from bot.reports import media as report_media
from bot.reports.intake import new_report
from bot.text import normalize

log = logging.getLogger(__name__)

# Settings that flows may use as {placeholders}, by configuration name.
_VARIABLE_SETTINGS = {"org_name": "ORG_NAME", "legal_help": "LEGAL_HELP"}
_VARIABLE_PREFIXES = ("KYR_MEDIA_",)


def flow_variables(settings: Mapping[str, Any]) -> dict[str, str]:
    """The {placeholders} flows can use, from the settings (empty ones left out)."""
    values = {name: settings.get(key) or "" for name, key in _VARIABLE_SETTINGS.items()}
    for key, value in settings.items():
        if key.startswith(_VARIABLE_PREFIXES) and isinstance(value, str):
            values[key.lower()] = value
    return {name: value for name, value in values.items() if value}


def setting_name(variable: str) -> str:
    """The setting that gives a flow variable its value: legal_help -> LEGAL_HELP."""
    return _VARIABLE_SETTINGS.get(variable, variable.upper())


@dataclass(frozen=True)
class LoadedFlows:
    """The checked flows that can run, and the values of their {placeholders}."""

    flowset: FlowSet  # without the disabled flows
    variables: Mapping[str, str]
    disabled: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # id -> settings


def init_app(app: Flask) -> None:
    """Load and check every flow; refuse to start when one is broken."""
    app.extensions["puente.flows"] = load(app.config)


def load(settings: Mapping[str, Any]) -> LoadedFlows:
    """Flows from FLOWS_DIR (or the shipped ones), checked; unconfigured ones disabled."""
    directory = settings["FLOWS_DIR"]
    variables = flow_variables(settings)
    if not settings["PRODUCTION"]:
        variables = _development_stand_ins(directory, variables)
    flowset = load_checked_flows(directory)
    disabled = unconfigured_flows(flowset, variables)
    for flow_id, names in disabled.items():
        log.warning("flow %s is disabled: %s not configured", flow_id, ", ".join(names))
    return LoadedFlows(flowset.without(disabled), variables, disabled)


def unconfigured_flows(
    flowset: FlowSet, variables: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    """Flow id -> the settings it requires that are not configured (only such flows)."""
    disabled = {}
    for flow in flowset:
        if missing := missing_variables(flow, variables):
            disabled[flow.id] = tuple(setting_name(name) for name in missing)
    return disabled


def _development_stand_ins(directory: str | Path, variables: dict[str, str]) -> dict[str, str]:
    """Visible stand-ins for unset settings, so `make run` works before configuring.

    Only required ones: an optional one (a media link) is simply left out.
    Production disables such a flow instead: a contact must never see a stand-in.
    """
    from bot.flows.loader import read_flows

    flowset, _ = read_flows(directory)
    required = [name for name, needed in flowset.variables().items() if needed]
    stand_ins = {name: f"[{name.upper()} not configured]" for name in required}
    return {**stand_ins, **variables}


def contact_view(contact: Contact, channel: str) -> engine.ContactView:
    """What the engine may know about a contact."""
    fields = {k: str(v) for k, v in (contact.fields or {}).items() if v is not None}
    return engine.ContactView(
        language=contact.language,
        channel=channel,  # type: ignore[arg-type]
        fields=fields,
        tags=contact.tag_names,
        country=contact.country,
    )


def joining_flow(flows: FlowSet, language: str) -> tuple[str, str] | None:
    """(flow id, a trigger keyword in ``language``) of the flow that starts with an opt-in.

    A partner's keyword runs it, as if its own keyword had been texted.
    """
    candidates = sorted(
        (flow.id != "join", flow.id, flow.triggers.get(language) or ())
        for flow in flows
        if flow.steps and flow.steps[0].type == "opt_in"
    )
    for _, flow_id, triggers in candidates:
        if triggers:
            return flow_id, triggers[0]
    return None


def is_joining(flows: FlowSet, text: str, language: str) -> bool:
    """Whether ``text`` starts a flow whose first step is an opt-in (joining again)."""
    flow = flows.flow_for_keyword(normalize(text), language)
    return flow is not None and bool(flow.steps) and flow.steps[0].type == "opt_in"


def converse(
    session: Session,
    flows: LoadedFlows,
    contact: Contact,
    channel: str,
    text: str,
    now: dt.datetime,
    how: Mapping[str, str | None],
    stored: FlowSession | StoredFlow | None,
    variables: Mapping[str, str] | None = None,
    *,
    payload: str | None = None,
) -> engine.Result:
    """Run one inbound text through the flows and apply the result.

    ``stored`` is the contact's flow session as the caller loaded it with them;
    ``variables`` override the configured ones for this turn (a partner's name
    in the join confirmation, its legal help in the rights flows); ``payload`` is
    the id of a tapped WhatsApp button or list row.
    """
    current = engine.FlowState.from_dict(stored.data) if stored else None
    if _choosing_event(flows, current, contact, text, now):
        assert current is not None and stored is not None
        return _choose_event(session, flows, contact, channel, current, text, now, how, stored)
    view = contact_view(contact, channel)
    merged = {**flows.variables, **variables} if variables else flows.variables
    result = engine.handle(flows.flowset, current, view, text, now, merged, payload=payload)
    return _applied(session, flows, contact, result, now, how, stored)


def start_petition(
    session: Session,
    flows: LoadedFlows,
    contact: Contact,
    channel: str,
    petition: Petition,
    now: dt.datetime,
    how: Mapping[str, str | None],
    stored: FlowSession | StoredFlow | None,
) -> engine.Result:
    """A petition's keyword: the petition flow, which asks what is missing and signs.

    Without the flow (removed by a deployer) it signs at once.
    """
    if flows.flowset.get(petitions.FLOW_ID) is None:
        effects: list[engine.Effect] = [engine.SignPetition("keyword", petition.slug)]
        result = engine.Result(None, [], effects, handled=True)
    else:
        view = contact_view(contact, channel)
        result = engine.start(
            flows.flowset, petitions.FLOW_ID, view, now, flows.variables,
            answers={"petition": petition.slug}, step_id=petitions.KEYWORD_STEP,
        )  # fmt: skip
    return _applied(session, flows, contact, result, now, how, stored)


def start_rsvp(
    session: Session,
    flows: LoadedFlows,
    contact: Contact,
    channel: str,
    event: Event,
    now: dt.datetime,
    how: Mapping[str, str | None],
    stored: FlowSession | StoredFlow | None,
) -> engine.Result:
    """An event's keyword: the RSVP flow for that event, its name, place and date in the
    contact's language. A past event says it is over; the flow they were in goes on."""
    if flows.flowset.get(events.FLOW_ID) is None:  # removed by a deployer: the inbox's
        return engine.Result(None, handled=False)
    if event.starts_at <= now:
        name = events.event_name(event, contact.language)
        return _told(gettext(contact.language, events.EVENT_OVER, name=name))
    view = contact_view(contact, channel)
    result = engine.start(
        flows.flowset, events.FLOW_ID, view, now, flows.variables,
        answers=events.flow_answers(session, event),
    )  # fmt: skip
    return _applied(session, flows, contact, result, now, how, stored)


def rsvp_any(
    session: Session,
    flows: LoadedFlows,
    contact: Contact,
    channel: str,
    now: dt.datetime,
    how: Mapping[str, str | None],
    stored: FlowSession | StoredFlow | None,
) -> engine.Result:
    """RSVP alone: the one open event's RSVP, a numbered choice among several, or none."""
    open_events = events.upcoming(session, now)[: events.MAX_CHOICES]
    if len(open_events) == 1:
        return start_rsvp(session, flows, contact, channel, open_events[0], now, how, stored)
    flow = flows.flowset.get(events.FLOW_ID)
    if not open_events or flow is None:
        return _told(gettext(contact.language, events.NO_OPEN_EVENT))
    choosing = engine.FlowState(
        events.FLOW_ID, events.CHOOSE_STEP, True, 0, now, now + flow.expire_after,
        {"events": [e.id for e in open_events]}, last_inbound_at=now,
    )  # fmt: skip
    store_session(session, contact, choosing, now, stored)
    question = events.choice_text(open_events, contact.language)
    return engine.Result(choosing, [engine.Output(question)], [], handled=True)


def _choosing_event(
    flows: LoadedFlows,
    current: engine.FlowState | None,
    contact: Contact,
    text: str,
    now: dt.datetime,
) -> bool:
    """Whether the message answers RSVP's "which event?" (a flow's keyword starts that one)."""
    return (
        current is not None
        and current.flow_id == events.FLOW_ID
        and current.step_id == events.CHOOSE_STEP
        and now < current.expires_at
        and flows.flowset.flow_for_keyword(normalize(text), contact.language) is None
    )


def _choose_event(
    session: Session,
    flows: LoadedFlows,
    contact: Contact,
    channel: str,
    current: engine.FlowState,
    text: str,
    now: dt.datetime,
    how: Mapping[str, str | None],
    stored: FlowSession | StoredFlow,
) -> engine.Result:
    """The number of one of the listed events starts its RSVP; anything else asks again."""
    ids = [int(i) for i in current.answers.get("events", [])]
    listed = {e.id: e for e in session.scalars(select(Event).where(Event.id.in_(ids)))}
    shown = [listed[i] for i in ids if i in listed]
    number = parse_number(text)
    if number is not None and 1 <= number <= len(shown):
        return start_rsvp(session, flows, contact, channel, shown[number - 1], now, how, stored)
    again = replace(current, reasks=current.reasks + 1, last_inbound_at=now)
    store_session(session, contact, again, now, stored)
    question = events.choice_text(shown, contact.language, again=True)
    return engine.Result(again, [engine.Output(question)], [], handled=True)


def _told(text: str) -> engine.Result:
    """A reply that changes no flow session."""
    return engine.Result(None, [engine.Output(text)], [], handled=True)


def _applied(
    session: Session,
    flows: LoadedFlows,
    contact: Contact,
    result: engine.Result,
    now: dt.datetime,
    how: Mapping[str, str | None],
    stored: FlowSession | StoredFlow | None,
) -> engine.Result:
    """Apply the result's effects and keep its session; what they say is added to its outputs."""
    started = _started_at(stored) or now
    said = apply_effects(session, contact, result.effects, now, how, flow_started_at=started)
    store_session(session, contact, result.session, now, stored)
    return replace(result, outputs=[*result.outputs, *said]) if said else result


def _started_at(stored: FlowSession | StoredFlow | None) -> dt.datetime | None:
    """When the stored flow session began (its answers, and any photos, are since then)."""
    if stored is None:
        return None
    try:
        return engine.FlowState.from_dict(stored.data).started_at
    except (KeyError, TypeError, ValueError):
        return None


_FLOW_SESSIONS = FlowSession.__table__
_KEEP_SESSION = _FLOW_SESSIONS.update().where(
    _FLOW_SESSIONS.c.contact_id == bindparam("_contact_id")
)
_FORGET_SESSION = _FLOW_SESSIONS.delete().where(
    _FLOW_SESSIONS.c.contact_id == bindparam("_contact_id")
)


def store_session(
    session: Session,
    contact: Contact,
    flow_session: engine.FlowState | None,
    now: dt.datetime,
    stored: FlowSession | StoredFlow | None,
) -> None:
    """Keep the contact's place in a flow, or forget it when the flow ended.

    ``stored`` is the session as read before (None: there was none). One Core
    statement, run now, not at the flush: every inbound message in a flow
    writes it (docs/performance.md, "Inbound webhook").
    """
    if flow_session is None:
        if stored is not None:
            session.execute(_FORGET_SESSION, {"_contact_id": contact.id})
        return
    values = {
        "flow_id": flow_session.flow_id,
        "expires_at": flow_session.expires_at,
        "data": flow_session.to_dict(),
        "updated_at": now,
    }
    if stored is None:
        session.execute(_FLOW_SESSIONS.insert(), {"contact_id": contact.id, **values})
    else:
        session.execute(_KEEP_SESSION, {"_contact_id": contact.id, **values})
    if isinstance(stored, FlowSession):  # loaded by the ORM: keep it as the database has it
        for key, value in values.items():
            set_committed_value(stored, key, value)


def start_flows(
    session: Session,
    flows: LoadedFlows,
    contact_ids: Iterable[int],
    flow_id: str,
    now: dt.datetime,
    answers: Mapping[str, Any] | None = None,
) -> None:
    """Route the contacts' replies to ``flow_id``: a session waiting at its first step.

    A broadcast's text stands in for what the flow would have said first (the
    poll's or the RSVP's question), so its answer goes to that step. A flow
    that is no longer loaded starts nothing: the replies go where any text goes.
    ``answers`` are known already (the petition a broadcast carries).
    """
    flow = flows.flowset.get(flow_id)
    if flow is None or flow.first_step is None:
        log.warning("flow %s is not loaded: the broadcast's replies start no flow", flow_id)
        return
    started = engine.FlowState(
        flow_id, flow.first_step.id, True, 0, now, now + flow.expire_after, dict(answers or {})
    )
    ids = list(contact_ids)
    stored = {
        s.contact_id: s
        for s in session.scalars(select(FlowSession).where(FlowSession.contact_id.in_(ids)))
    }
    for contact_id in ids:
        if contact_id not in stored:
            stored[contact_id] = FlowSession(contact_id=contact_id)
            session.add(stored[contact_id])
        _keep(stored[contact_id], started, now)


def _keep(stored: FlowSession, flow_session: engine.FlowState, now: dt.datetime) -> None:
    stored.flow_id = flow_session.flow_id
    stored.expires_at = flow_session.expires_at
    stored.data = flow_session.to_dict()
    stored.updated_at = now


def apply_effects(
    session: Session,
    contact: Contact,
    effects: list[engine.Effect],
    now: dt.datetime,
    how: Mapping[str, str | None],
    flow_started_at: dt.datetime | None = None,
) -> list[engine.Output]:
    """Make the engine's decisions real: fields, tags, language, consent, reports, RSVPs,
    signatures, poll answers. Returns what must be said about them (a signature's number,
    the poll's answer). A report gets the photos, audio and video the contact sent since
    ``flow_started_at`` (the worker fetches them from Twilio)."""
    said: list[engine.Output] = []
    for effect in effects:
        match effect:
            case engine.SetField(name=name, value=value):
                _set_field(contact, name, value)
            case engine.RecordRsvp(event_id=event_id, answer=answer, guests=guests):
                known = answer in RSVP_ANSWERS and session.get(Event, event_id) is not None
                if known:  # an event deleted meanwhile, or another flow's values: nothing
                    events.record_answer(session, event_id, contact.id, answer, now, guests)
            case engine.AddTag(tag=tag):
                if tag not in contact.tag_names:
                    contact.tags.append(ContactTag(contact_id=contact.id, tag=tag))
            case engine.RemoveTag(tag=tag):
                contact.tags = [t for t in contact.tags if t.tag != tag]
            case engine.SetLanguage(lang=lang):
                choose_language(contact, lang)
            case engine.OptIn(flow_id=flow_id):
                # Only the contact's own message can opt them (back) in, never a timeout.
                if how.get("message_sid") and not consent.is_subscribed(contact):
                    consent.opt_in(session, contact, now, source=f"flow:{flow_id}", **how)
            case engine.RecordReport(flow_id=flow_id, data=data):
                report = new_report(
                    contact_id=contact.id, flow_id=flow_id, data=data, organization_id=None, now=now
                )
                report.organization_id = report_desk(session, contact, report.adm1)
                session.add(report)
                if flow_started_at is not None and how.get("message_sid"):
                    report_media.attach(session, report, contact.id, flow_started_at)
            case engine.SignPetition(flow_id=flow_id, petition=slug):
                said += _sign(session, contact, slug, now, how, source=f"flow:{flow_id}")
            case engine.AnswerPoll(poll_id=poll_id, choice=choice):
                said += polls.answer(session, contact, poll_id, choice, now, how)
            case engine.FlowEnded(flow_id=flow_id, reason=reason):
                log.info("flow %s ended for contact %s: %s", flow_id, contact.id, reason)
    return said


def _sign(
    session: Session,
    contact: Contact,
    slug: str,
    now: dt.datetime,
    how: Mapping[str, str | None],
    *,
    source: str,
) -> list[engine.Output]:
    """Sign for the contact (their own message only, never a timeout) and say their number."""
    petition = petitions.by_slug(session, slug)
    if petition is None or not how.get("message_sid"):
        return []
    language = contact.language
    title = petition.title(language)
    if petition.status != PETITION_OPEN:
        return [engine.Output(gettext(language, petitions.CLOSED, title=title))]
    signed = petitions.sign(
        session, petition, contact, now, source=source,
        channel=how.get("channel"), message_sid=how.get("message_sid"),
    )  # fmt: skip
    msgid = petitions.SIGNED if signed.new else petitions.ALREADY_SIGNED
    number = format_number(signed.number, language)
    return [engine.Output(gettext(language, msgid, title=title, number=number))]


def report_desk(session: Session, contact: Contact, adm1: str | None = None) -> int | None:
    """Whose desk a report reaches besides the coalition's (None: the coalition's only).

    The partner that serves the state it happened in, when one does; among several,
    the one that brought the reporter. Else the partner that brought them, while
    they are its member.
    """
    mine = _member_of_via(session, contact)
    serving = organizations.serving(session, adm1) if adm1 else []
    if len(serving) == 1:
        return serving[0]
    if serving:
        return mine if mine in serving else None
    return mine


def _member_of_via(session: Session, contact: Contact) -> int | None:
    via = contact.joined_via_id
    if via is None:
        return None
    row = session.get(Membership, (contact.id, via))
    return via if row is not None and row.status == MEMBER else None


def _set_field(contact: Contact, name: str, value: str) -> None:
    contact.fields = {**(contact.fields or {}), name: value}  # a new dict: JSON change tracked
    if name == "state" and value:
        contact.region = value  # where they say they live beats what the number suggests
    if name == "country" and value:
        contact.country = value


def expire_due(
    db: Database, sender: Sender, flows: LoadedFlows, now: dt.datetime, limit: int = 500
) -> int:
    """Run the timeout path of every flow whose wait has expired; returns how many.

    Each session is settled in its own transaction (locked, re-checked), then its
    messages are sent through the sending module, which still refuses opted-out
    contacts and closed WhatsApp windows. A crash between the two loses a timeout
    nudge rather than sending it twice.
    """
    with db.session() as session:
        due = session.scalars(
            select(FlowSession.contact_id).where(FlowSession.expires_at <= now).limit(limit)
        ).all()
    for contact_id in due:
        outputs, channel = _expire_one(db, flows, contact_id, now)
        for output in outputs:
            send_to_contact(
                db,
                sender,
                contact_id,
                channel,
                output.text,
                media_urls=[output.media_url] if output.media_url else (),
                now=now,
            )
    return len(due)


def _expire_one(
    db: Database, flows: LoadedFlows, contact_id: int, now: dt.datetime
) -> tuple[list[engine.Output], str]:
    with db.session() as session:
        stored = session.get(FlowSession, contact_id, with_for_update=True)
        if stored is None or stored.expires_at > now:
            return [], CHANNEL_SMS  # answered or settled by someone else meanwhile
        contact = session.get_one(Contact, contact_id)
        if not consent.can_receive(contact):
            session.delete(stored)  # opted out or invalid meanwhile: the flow just ends
            return [], CHANNEL_SMS
        channel = _last_channel(contact)
        current = engine.FlowState.from_dict(stored.data)
        view = contact_view(contact, channel)
        result = engine.expire(flows.flowset, current, view, now, flows.variables)
        apply_effects(  # nothing to say: a timeout signs nothing
            session, contact, result.effects, now, {"channel": channel}
        )
        store_session(session, contact, result.session, now, stored)
        return list(result.outputs), channel


def _last_channel(contact: Contact) -> str:
    """The channel the contact wrote on most recently."""
    written = [a for a in contact.addresses if a.last_inbound_at is not None]
    if not written:
        return CHANNEL_SMS
    return max(written, key=lambda a: a.last_inbound_at).channel  # type: ignore[arg-type,return-value]
