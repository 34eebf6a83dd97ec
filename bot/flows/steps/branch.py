"""``branch``: go to a step depending on an answer, a contact field, tags or the contact.

    - id: has_name
      type: branch
      on: field.name          # answer.<name> | field.<name> | tags
                              # | contact.language | contact.channel | contact.country
      cases:                  # value -> step id, compared forgivingly ("Sí" == "si")
        yes: thanks_yes
      empty: ask_name         # optional: when the value is missing or blank
      default: ask_zip        # optional: otherwise (without it: the following step)

A list answer or ``tags`` matches a case when any of its values does.
"""

from __future__ import annotations

from typing import Any

from bot.flows.model import Step
from bot.flows.steps.base import Go, StepType, Transition, as_list, is_identifier, register
from bot.flows.turn import FlowRun
from bot.text import normalize

CONTACT_ATTRIBUTES = ("language", "channel", "country")


def subject_problem(on: Any) -> str | None:
    """Why ``on`` cannot be branched on, or None when it can."""
    if on == "tags":
        return None
    if not isinstance(on, str) or "." not in on:
        return f"'on' must be answer.<name>, field.<name>, tags or contact.<attribute>, not {on!r}"
    kind, name = on.split(".", 1)
    if kind in ("answer", "field") and is_identifier(name):
        return None
    if kind == "contact" and name in CONTACT_ATTRIBUTES:
        return None
    return f"cannot branch on {on!r}"


def validate(step: Step) -> list[str]:
    problems = [p for p in [subject_problem(step.config.get("on"))] if p]
    cases = step.config.get("cases", {})
    if not isinstance(cases, dict) or not all(isinstance(t, str) for t in cases.values()):
        problems.append("'cases' must map values to step ids")
    if not cases and "empty" not in step.config:
        problems.append("a branch needs 'cases' or 'empty'")
    return problems


def targets(step: Step) -> list[str]:
    cases = step.config.get("cases") or {}
    found = list(cases.values()) if isinstance(cases, dict) else []
    return found + [step.config[k] for k in ("empty", "default") if k in step.config]


def values_of(on: str, turn: FlowRun) -> list[str]:
    """The normalized values to compare with the cases."""
    if on == "tags":
        raw: list[Any] = sorted(turn.contact.tags)
    else:
        kind, name = on.split(".", 1)
        if kind == "answer":
            raw = as_list(turn.answers.get(name))
        elif kind == "field":
            raw = as_list(turn.contact.fields.get(name))
        else:
            raw = as_list(getattr(turn.contact, name))
    return [v for v in (normalize(str(item)) for item in raw) if v]


def run(step: Step, turn: FlowRun) -> Transition:
    values = values_of(step.config["on"], turn)
    if not values and "empty" in step.config:
        return Go(step.config["empty"])
    for case, target in (step.config.get("cases") or {}).items():
        if normalize(str(case)) in values:
            return Go(target)
    return Go(step.config.get("default"))


BRANCH = register(
    StepType(
        name="branch",
        keys=frozenset({"on", "cases", "empty", "default"}),
        required=frozenset({"on"}),
        run=run,
        validate=validate,
        targets=targets,
    )
)
