"""``set_field``: store a value on the contact (placeholders allowed, not translated).

- id: remember_rsvp
  type: set_field
  field: summit_rsvp
  value: "{rsvp}"
"""

from __future__ import annotations

from bot.flows.model import Step
from bot.flows.steps.base import Go, StepType, Transition, is_identifier, register
from bot.flows.turn import FlowRun, SetField, fill


def validate(step: Step) -> list[str]:
    problems = []
    if not is_identifier(step.config.get("field")):
        problems.append("'field' must be a lower_snake_case name")
    if not isinstance(step.config.get("value"), str | int | float | bool):
        problems.append("'value' must be a text (use \"\" to clear the field)")
    return problems


def run(step: Step, turn: FlowRun) -> Transition:
    value = fill(str(step.config["value"]), turn.lang, [turn.answers, turn.contact.fields])
    turn.emit(SetField(step.config["field"], value))
    return Go()


SET_FIELD = register(
    StepType(
        name="set_field",
        keys=frozenset({"field", "value"}),
        required=frozenset({"field", "value"}),
        run=run,
        validate=validate,
        provides=lambda step: [step.config.get("field")],
    )
)
