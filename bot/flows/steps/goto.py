"""``goto``: finish this flow and start another one in the same turn.

- id: to_rights
  type: goto
  flow: know_your_rights
"""

from __future__ import annotations

from bot.flows.model import Step
from bot.flows.steps.base import StartFlow, StepType, Transition, is_identifier, register
from bot.flows.turn import FlowRun


def validate(step: Step) -> list[str]:
    if not is_identifier(step.config.get("flow")):
        return ["'flow' must be the id of another flow"]
    return []


def run(step: Step, turn: FlowRun) -> Transition:
    return StartFlow(step.config["flow"])


GOTO = register(
    StepType(
        name="goto",
        keys=frozenset({"flow"}),
        required=frozenset({"flow"}),
        run=run,
        validate=validate,
        flows_called=lambda step: [step.config["flow"]] if validate(step) == [] else [],
        falls_through=False,
    )
)
