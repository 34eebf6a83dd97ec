"""``sign``: sign the petition the flow was started for (its keyword gave it).

- id: sign
  type: sign

The petition is the ``petition`` answer, set when the petition's keyword
started the flow; the integrator records one signature per person and
confirms with its number. A flow run without one signs nothing.
"""

from __future__ import annotations

from bot.flows.model import Step
from bot.flows.steps.base import Go, StepType, Transition, register
from bot.flows.turn import FlowRun, SignPetition


def run(step: Step, turn: FlowRun) -> Transition:
    petition = turn.answers.get("petition")
    if isinstance(petition, str) and petition:
        turn.emit(SignPetition(turn.flow.id, petition))
    return Go()


SIGN = register(StepType(name="sign", keys=frozenset(), required=frozenset(), run=run))
