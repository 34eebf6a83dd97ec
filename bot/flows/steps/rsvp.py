"""``rsvp``: record the contact's answer for the event the flow was started for.

- id: record
  type: rsvp
  answer: rsvp        # the answer that holds yes / no / maybe
  guests: guests      # optional: the answer that holds how many come with them

The event is the ``event`` answer, set when the event's keyword (or RSVP and a
choice among the open events) started the flow, with its name, place, date
and keyword in each language as ``event_name``, ``event_place``,
``event_date`` and ``event_keyword`` (per language: ``event_name_es``…).
The integrator keeps one RSVP per person per event, the latest answer
counting. A flow run without an event records nothing.
"""

from __future__ import annotations

from bot.flows.model import Step
from bot.flows.steps.base import Go, StepType, Transition, register
from bot.flows.turn import FlowRun, RecordRsvp

# What the integrator gives with the ``event`` answer: usable as {placeholders}.
EVENT_ANSWERS = ["event_name", "event_place", "event_date", "event_keyword"]


def run(step: Step, turn: FlowRun) -> Transition:
    event = _number(turn.answers.get("event"))
    answer = turn.answers.get(step.config["answer"])
    if event is None or not isinstance(answer, str) or not answer:
        return Go()
    guests = _number(turn.answers.get(step.config.get("guests") or ""))
    turn.emit(RecordRsvp(turn.flow.id, event, answer, guests))
    return Go()


def _number(value: object) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _provides(step: Step) -> list[str]:
    return list(EVENT_ANSWERS)


RSVP = register(
    StepType(
        name="rsvp",
        keys=frozenset({"answer", "guests"}),
        required=frozenset({"answer"}),
        run=run,
        provides=_provides,
    )
)
