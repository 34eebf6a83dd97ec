"""``end``: the flow is complete; nothing after it runs.

- id: done
  type: end
"""

from __future__ import annotations

from bot.flows.model import Step
from bot.flows.steps.base import StepType, Stop, Transition, register
from bot.flows.turn import FlowRun


def run(step: Step, turn: FlowRun) -> Transition:
    return Stop("completed")


END = register(StepType(name="end", keys=frozenset(), run=run, falls_through=False))
