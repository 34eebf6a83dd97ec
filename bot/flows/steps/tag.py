"""``tag``: add or remove contact tags, fixed or taken from a (multiple) choice answer.

- id: tag_causes
  type: tag
  from_answer: causes     # every chosen value becomes a tag
  prefix: ""              # optional: "summit_" turns "yes" into "summit_yes"
  add: [member]           # optional
  remove: [lapsed]        # optional; removals happen before additions
"""

from __future__ import annotations

from bot.flows.model import Step
from bot.flows.steps.base import Go, StepType, Transition, as_list, is_identifier, register
from bot.flows.turn import AddTag, FlowRun, RemoveTag


def validate(step: Step) -> list[str]:
    config = step.config
    if not any(config.get(k) for k in ("add", "remove", "from_answer")):
        return ["a tag step needs 'add', 'remove' or 'from_answer'"]
    problems = [
        f"tag {tag!r} must be lower_snake_case"
        for key in ("add", "remove")
        for tag in as_list(config.get(key))
        if not is_identifier(tag)
    ]
    if "from_answer" in config and not is_identifier(config["from_answer"]):
        problems.append("'from_answer' must be the name of an answer")
    if "prefix" in config and not isinstance(config["prefix"], str):
        problems.append("'prefix' must be a text")
    return problems


def run(step: Step, turn: FlowRun) -> Transition:
    config = step.config
    for tag in as_list(config.get("remove")):
        if tag in turn.contact.tags:
            turn.emit(RemoveTag(tag))
    added = list(as_list(config.get("add")))
    if config.get("from_answer"):
        chosen = as_list(turn.answers.get(config["from_answer"]))
        added += [f"{config.get('prefix', '')}{value}" for value in chosen]
    for tag in dict.fromkeys(added):
        turn.emit(AddTag(tag))
    return Go()


TAG = register(
    StepType(
        name="tag",
        keys=frozenset({"add", "remove", "from_answer", "prefix"}),
        run=run,
        validate=validate,
    )
)
