"""``opt_in``: the contact agrees to receive this program's messages; record it as consent.

Put it where the contact has clearly asked (texting JOIN, answering yes to reminders),
and follow it with the CTIA confirmation: program name, how often, "Msg & data rates
may apply", how to get HELP and how to STOP.

    - id: consent
      type: opt_in
"""

from __future__ import annotations

from bot.flows.model import Step
from bot.flows.steps.base import Go, StepType, Transition, register
from bot.flows.turn import FlowRun, OptIn


def run(step: Step, turn: FlowRun) -> Transition:
    turn.emit(OptIn(turn.flow.id))
    return Go()


OPT_IN = register(StepType(name="opt_in", keys=frozenset(), run=run))
