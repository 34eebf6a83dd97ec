"""The flow engine: (session, inbound text) -> (new session, what to send, what to change).

Pure: no Flask, database, Twilio or RQ.  The integrator loads the contact's session,
builds a ``ContactView``, calls ``handle`` (after the compliance keywords had their
turn), sends ``Result.outputs``, applies ``Result.effects`` and stores
``Result.session`` (None: no conversation in progress).

    result = handle(flows, session, contact, "UNIRME", now, {"org_name": "Puente"})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot import i18n
from bot.flows import interactive, steps
from bot.flows.loader import WHATSAPP_WINDOW_LIMIT
from bot.flows.model import Flow, FlowSet, Step, parse_duration
from bot.flows.steps.base import Again, Go, Pass, StartFlow, Stop, Wait
from bot.flows.turn import (
    AddTag,
    AnswerPoll,
    ContactView,
    Effect,
    EndReason,
    FlowEnded,
    FlowRun,
    OptIn,
    Output,
    RecordReport,
    RecordRsvp,
    RemoveTag,
    SetField,
    SetLanguage,
    SignPetition,
    Translate,
)
from bot.text import normalize

__all__ = [
    "AddTag",
    "AnswerPoll",
    "ContactView",
    "Effect",
    "FlowEnded",
    "OptIn",
    "Output",
    "RecordReport",
    "RecordRsvp",
    "RemoveTag",
    "Result",
    "FlowState",
    "SetField",
    "SetLanguage",
    "SignPetition",
    "expire",
    "handle",
    "start",
    "translate_flows",
]

log = logging.getLogger(__name__)

MAX_STEPS_PER_TURN = 100  # a guard; the checker already refuses loops without a question


def translate_flows(lang: str, context: str | None, msgid: str) -> str:
    """Default translation: the ``flows`` Babel catalog in ``messages/``, by msgctxt and msgid."""
    return i18n.pgettext(lang, context, msgid, domain="flows")


@dataclass
class FlowState:
    """Where a contact is in a flow, between two messages (stored as JSON)."""

    flow_id: str
    step_id: str
    waiting: bool
    reasks: int
    started_at: datetime
    expires_at: datetime
    answers: dict[str, Any] = field(default_factory=dict)
    last_inbound_at: datetime | None = None  # opens the WhatsApp 24-hour window

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (datetimes as ISO 8601)."""
        return {
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "waiting": self.waiting,
            "reasks": self.reasks,
            "started_at": self.started_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "answers": dict(self.answers),
            "last_inbound_at": self.last_inbound_at.isoformat() if self.last_inbound_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowState:
        last = data.get("last_inbound_at")
        return cls(
            flow_id=data["flow_id"],
            step_id=data["step_id"],
            waiting=bool(data["waiting"]),
            reasks=int(data["reasks"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            answers=dict(data.get("answers") or {}),
            last_inbound_at=datetime.fromisoformat(last) if last else None,
        )


@dataclass
class Result:
    """What one call of the engine decided."""

    session: FlowState | None  # None: no flow in progress any more
    outputs: list[Output] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    handled: bool = True  # False: the message was not for a flow (the caller replies)


def start(
    flows: FlowSet,
    flow_id: str,
    contact: ContactView,
    now: datetime,
    variables: Mapping[str, str],
    *,
    translate: Translate = translate_flows,
    answers: Mapping[str, Any] | None = None,
    step_id: str | None = None,
) -> Result:
    """Start ``flow_id`` for the contact, as if they had just written (``now`` opens the window).

    ``answers`` are known before the first step (a petition's slug, when its
    keyword starts the petition flow) and kept with the session; ``step_id``
    starts at that step instead of the first (a keyword needs no "sign?").
    """
    turn = _turn(flows, flows.flows[flow_id], contact, now, variables, translate)
    return _start(turn, flow_id, now, answers=answers, step_id=step_id)


def handle(
    flows: FlowSet,
    session: FlowState | None,
    contact: ContactView,
    text: str,
    now: datetime,
    variables: Mapping[str, str],
    *,
    translate: Translate = translate_flows,
    payload: str | None = None,
) -> Result:
    """One inbound message: its text, and the id of a tapped WhatsApp button or list row.

    A trigger keyword starts its flow, interrupting the current one; otherwise a
    waiting session takes the message as its answer; otherwise ``handled`` is False.
    A tap on the waiting question's own buttons is its answer, whatever its text.
    A session whose wait has expired ends (``FlowEnded(expired)``) and the message
    is left unhandled.
    """
    own_tap = _own_tap(session, payload)
    keyword_flow = None if own_tap else flows.flow_for_keyword(normalize(text), contact.language)
    if keyword_flow is not None:
        return _restart(flows, session, keyword_flow, contact, text, now, variables, translate)
    if session is None or not session.waiting:
        return Result(session, handled=False)
    flow = flows.get(session.flow_id)
    step = flow.step(session.step_id) if flow else None
    if step is None or now >= session.expires_at:
        return Result(None, effects=[FlowEnded(session.flow_id, "expired")], handled=False)
    turn = _turn(flows, flow, contact, now, variables, translate, session.answers)
    turn.payload = payload
    transition = steps.get(step.type).answer(step, turn, text, session.reasks)
    session = replace(session, last_inbound_at=now)
    if isinstance(transition, Pass):  # not an answer: the inbox's, and the wait goes on
        return Result(session, handled=False)
    if isinstance(transition, Again):
        waiting = replace(session, reasks=session.reasks + 1, answers=turn.answers)
        return _result(turn, waiting)
    return _follow(turn, session, step, transition)


def _own_tap(session: FlowState | None, payload: str | None) -> bool:
    """Whether ``payload`` is a tap on the question the session waits at."""
    if not payload or session is None or not session.waiting:
        return False
    return interactive.tapped_value(session.step_id, payload) is not None


def expire(
    flows: FlowSet,
    session: FlowState | None,
    contact: ContactView,
    now: datetime,
    variables: Mapping[str, str],
    *,
    translate: Translate = translate_flows,
) -> Result:
    """The wait has timed out: take the question's ``on_timeout`` path, or end the flow.

    Called by a scheduled job at ``session.expires_at``; before that it changes nothing.
    """
    if session is None or now < session.expires_at:
        return Result(session, handled=False)
    flow = flows.get(session.flow_id)
    step = flow.step(session.step_id) if flow else None
    if step is None or "on_timeout" not in step.config or now >= _limit(flow, session, contact):
        return Result(None, effects=[FlowEnded(session.flow_id, "expired")])
    turn = _turn(flows, flow, contact, now, variables, translate, session.answers)
    return _run(turn, replace(session, reasks=0), step.config["on_timeout"])


# --- running steps ------------------------------------------------------------------


def _turn(
    flows: FlowSet,
    flow: Flow,
    contact: ContactView,
    now: datetime,
    variables: Mapping[str, str],
    translate: Translate,
    answers: Mapping[str, Any] | None = None,
) -> FlowRun:
    return FlowRun(flows, flow, contact, now, variables, translate, dict(answers or {}))


def _restart(
    flows: FlowSet,
    session: FlowState | None,
    flow: Flow,
    contact: ContactView,
    text: str,
    now: datetime,
    variables: Mapping[str, str],
    translate: Translate,
) -> Result:
    """A trigger keyword: end what was going on, start its flow in the keyword's language."""
    turn = _turn(flows, flow, contact, now, variables, translate)
    if session is not None:
        reason: EndReason = "expired" if now >= session.expires_at else "interrupted"
        turn.effects.append(FlowEnded(session.flow_id, reason))
    languages = flows.keyword_languages(normalize(text))
    if contact.language not in languages and len(languages) == 1:
        turn.emit(SetLanguage(next(iter(languages))))  # "UNIRME" means "in Spanish, please"
    return _start(turn, flow.id, now)


def _start(
    turn: FlowRun,
    flow_id: str,
    now: datetime,
    budget: int = MAX_STEPS_PER_TURN,
    answers: Mapping[str, Any] | None = None,
    step_id: str | None = None,
) -> Result:
    flow = turn.flowset.flows[flow_id]
    turn.flow, turn.answers = flow, dict(answers or {})
    first = flow.step(step_id) if step_id else flow.first_step
    session = FlowState(flow.id, first.id, False, 0, now, now, {}, last_inbound_at=now)
    return _run(turn, session, first.id, budget)


def _run(
    turn: FlowRun, session: FlowState, step_id: str | None, budget: int = MAX_STEPS_PER_TURN
) -> Result:
    """Run steps from ``step_id`` until one waits or the flow ends."""
    flow = turn.flow
    step = flow.step(step_id) if step_id else None
    while step is not None and budget > 0:
        budget -= 1
        transition = steps.get(step.type).run(step, turn)
        if isinstance(transition, Wait):
            return _result(turn, _waiting(turn, session, step))
        if isinstance(transition, Stop | StartFlow):
            return _follow(turn, session, step, transition, budget)
        step = _next_step(flow, step, transition)
    if step is not None:
        log.error("flow %s: more than %d steps in one turn; ending it", flow.id, MAX_STEPS_PER_TURN)
    return _end(turn, session, "completed")


def _follow(
    turn: FlowRun, session: FlowState, step: Step, transition: Any, budget: int = MAX_STEPS_PER_TURN
) -> Result:
    """Continue after ``step`` according to its transition."""
    if isinstance(transition, Stop):
        return _end(turn, session, transition.reason)
    if isinstance(transition, StartFlow):
        turn.effects.append(FlowEnded(session.flow_id, "completed"))
        if transition.flow_id not in turn.flowset.flows:  # disabled: not configured
            log.warning("flow %s: goes to disabled flow %s", turn.flow.id, transition.flow_id)
            return _result(turn, None)
        return _start(
            turn, transition.flow_id, turn.now, budget, transition.answers, transition.step_id
        )
    following = _next_step(turn.flow, step, transition)
    session = replace(session, reasks=0)
    return _run(turn, session, following.id if following else None, budget)


def _next_step(flow: Flow, step: Step, transition: Go) -> Step | None:
    target = transition.step_id or step.next
    return flow.step(target) if target else flow.following(step.id)


def _end(turn: FlowRun, session: FlowState, reason: EndReason) -> Result:
    turn.effects.append(FlowEnded(session.flow_id, reason))
    return _result(turn, None)


def _waiting(turn: FlowRun, session: FlowState, step: Step) -> FlowState:
    """The session waiting at ``step`` (a new question: no re-asks yet)."""
    return replace(
        session,
        flow_id=turn.flow.id,
        step_id=step.id,
        waiting=True,
        reasks=0,
        expires_at=_deadline(turn, step, session),
        answers=turn.answers,
    )


def _limit(flow: Flow, session: FlowState, contact: ContactView) -> datetime:
    """The flow expires ``expire_after`` after the contact last wrote, and on WhatsApp
    always before the 24-hour customer-service window closes."""
    opened = session.last_inbound_at or session.started_at
    limit = opened + flow.expire_after
    if contact.channel == "whatsapp":
        limit = min(limit, opened + WHATSAPP_WINDOW_LIMIT)
    return limit


def _deadline(turn: FlowRun, step: Step, session: FlowState) -> datetime:
    """When this wait times out: the question's ``timeout``, never past the flow's limit."""
    limit = _limit(turn.flow, session, turn.contact)
    timeout = parse_duration(step.config.get("timeout"))
    return min(turn.now + timeout, limit) if timeout else limit


def _result(turn: FlowRun, session: FlowState | None) -> Result:
    return Result(session, list(turn.outputs), list(turn.effects), handled=True)
