"""``report``: hand the answers to organizers as one record (an incident, a request...).

- id: record
  type: report
  kind: incident                          # what organizers see the record as
  include: [incident_type, where, what]   # optional; default every answer so far
"""

from __future__ import annotations

from bot.flows.model import Step
from bot.flows.steps.base import Go, StepType, Transition, as_list, is_identifier, register
from bot.flows.turn import FlowRun, RecordReport


def validate(step: Step) -> list[str]:
    problems = []
    if not is_identifier(step.config.get("kind")):
        problems.append("'kind' must be a lower_snake_case name, such as incident")
    include = step.config.get("include")
    if include is not None and not all(is_identifier(name) for name in as_list(include)):
        problems.append("'include' must list answer names")
    return problems


def run(step: Step, turn: FlowRun) -> Transition:
    names = as_list(step.config.get("include")) or list(turn.answers)
    data = {
        "kind": step.config["kind"],
        "answers": {name: turn.answers.get(name) for name in names},
        "language": turn.lang,
        "channel": turn.contact.channel,
    }
    turn.emit(RecordReport(turn.flow.id, data))
    return Go()


REPORT = register(
    StepType(
        name="report",
        keys=frozenset({"kind", "include"}),
        required=frozenset({"kind"}),
        run=run,
        validate=validate,
    )
)
