"""``set_language``: switch the contact's language; the rest of the turn uses it.

- id: switch
  type: set_language
  language: es            # or  from_answer: lang  (an answer whose value is es/en)
"""

from __future__ import annotations

from bot.flows.model import Step
from bot.flows.steps.base import Go, StepType, Transition, is_identifier, register
from bot.flows.turn import FlowRun, SetLanguage
from bot.i18n import LANGUAGES


def validate(step: Step) -> list[str]:
    config = step.config
    if ("language" in config) == ("from_answer" in config):
        return ["a set_language step needs exactly one of 'language' or 'from_answer'"]
    if "language" in config and config["language"] not in LANGUAGES:
        return [f"language {config['language']!r} is not one of {', '.join(LANGUAGES)}"]
    if "from_answer" in config and not is_identifier(config["from_answer"]):
        return ["'from_answer' must be the name of an answer"]
    return []


def run(step: Step, turn: FlowRun) -> Transition:
    lang = step.config.get("language") or turn.answers.get(step.config.get("from_answer", ""))
    if lang in LANGUAGES and lang != turn.lang:
        turn.emit(SetLanguage(lang))
    return Go()


SET_LANGUAGE = register(
    StepType(
        name="set_language",
        keys=frozenset({"language", "from_answer"}),
        run=run,
        validate=validate,
    )
)
