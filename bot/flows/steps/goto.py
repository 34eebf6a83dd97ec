"""``goto``: finish this flow and start another one in the same turn.

- id: to_rights
  type: goto
  flow: know_your_rights
  keep: [poll, poll_choices]   # optional: answers the other flow starts with
"""

from __future__ import annotations

from bot.flows.model import Step
from bot.flows.steps.base import StartFlow, StepType, Transition, is_identifier, register
from bot.flows.turn import FlowRun


def validate(step: Step) -> list[str]:
    if not is_identifier(step.config.get("flow")):
        return ["'flow' must be the id of another flow"]
    keep = step.config.get("keep", [])
    if not isinstance(keep, list) or not all(is_identifier(k) for k in keep):
        return ["'keep' must be a list of answer names"]
    return []


def run(step: Step, turn: FlowRun) -> Transition:
    keep = step.config.get("keep", [])
    answers = {name: turn.answers[name] for name in keep if name in turn.answers}
    return StartFlow(step.config["flow"], answers=answers or None)


GOTO = register(
    StepType(
        name="goto",
        keys=frozenset({"flow", "keep"}),
        required=frozenset({"flow"}),
        run=run,
        validate=validate,
        flows_called=lambda step: [step.config["flow"]] if validate(step) == [] else [],
        falls_through=False,
    )
)
