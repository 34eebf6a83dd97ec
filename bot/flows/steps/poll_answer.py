"""``poll_answer``: a reply to a broadcast's poll, matched to one of its choices.

- id: answer
  type: poll_answer

A broadcast that carries a poll (``puente broadcast create … --poll "SÍ|YES,NO"``)
leaves each recipient waiting here, with the poll's id and choices as the
``poll`` and ``poll_choices`` answers. A reply that names a choice (its number,
its text in either language, accents and case ignored; sí/si/yes, no/nop and
quizás/maybe for choices that are a yes, a no or a maybe) emits ``AnswerPoll``
and keeps waiting, so a later answer changes it; the integrator confirms. Any
other reply is not an answer: it is left unhandled (the organizers' inbox) and
nothing is said.

A broadcast that carries a petition too (its ``petition`` answer; its poll then
has no yes or no choice) takes a YES / SÍ as signing: the petition flow starts
where a keyword starts it, and comes back here when it is done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.flows import answers
from bot.flows.model import Step
from bot.flows.steps.base import Again, Pass, StartFlow, StepType, Transition, Wait, register
from bot.flows.turn import AnswerPoll, FlowRun
from bot.text import normalize

SIGN_FLOW, SIGN_STEP = "petition", "known_name"  # flows/petition.yaml, past its "sign?"


def choice_phrases(choice: Mapping[str, Any]) -> tuple[str, ...]:
    """A poll choice's own texts, normalized: ``{"es": "SÍ", "en": "YES"}`` -> ("si", "yes")."""
    texts = (str(choice.get(lang) or "") for lang in ("es", "en"))
    return tuple(dict.fromkeys(p for p in map(normalize, texts) if p))


def _kind(phrases: Sequence[str]) -> str | None:
    """Whether a choice is a yes, a no or a maybe (its texts say so), else None."""
    for phrase in phrases:
        if phrase in answers.UNSURE:
            return "unsure"
        said = answers.parse_yes_no(phrase)
        if said is not None:
            return "yes" if said else "no"
    return None


def _unsure(text: str) -> bool:
    """ "quizás", "no sé", "no sé si puedo": neither a yes nor a no."""
    words = normalize(text)
    return any(
        words == u
        or (" " in u and words.startswith(u + " "))
        or (" " not in u and len(u) >= 4 and answers.similar(words, u))
        for u in answers.UNSURE
    )


def match(text: str, choices: Sequence[Mapping[str, Any]]) -> str | None:
    """The value of the choice the reply names, or None when it names none (or several).

    Its number (1..n, digits or words) or its text in either language first, with
    the flows' forgiving matching; then, for a choice that is a yes, a no or a
    maybe (only one of each), every way of saying so ("claro", "nop", "quizás").
    """
    listed = [
        answers.Choice(str(c["value"]), n, choice_phrases(c)) for n, c in enumerate(choices, 1)
    ]
    kinds: dict[str, list[str]] = {}
    for choice in listed:
        kind = _kind(choice.phrases)
        if kind is not None:
            kinds.setdefault(kind, []).append(choice.value)
    own = [c.value for c in listed if normalize(text) in c.phrases]
    if not own and _unsure(text):  # "no sé" is not NO
        found = kinds.get("unsure", [])
        return found[0] if len(found) == 1 else None
    chosen = answers.match_choices(text, listed)
    if chosen:
        return chosen[0]
    said = answers.parse_yes_no(text)
    if said is None:
        return None
    found = kinds.get("yes" if said else "no", [])
    return found[0] if len(found) == 1 else None


def run(step: Step, turn: FlowRun) -> Transition:
    return Wait()  # the broadcast asked the question


def answer(step: Step, turn: FlowRun, text: str, reasks: int) -> Transition:
    poll, choices = turn.answers.get("poll"), turn.answers.get("poll_choices")
    if not isinstance(poll, int) or not isinstance(choices, list) or not choices:
        return Pass()
    value = match(text, choices)
    if value is None:
        if turn.answers.get("petition") and answers.parse_yes_no(text):
            return StartFlow(SIGN_FLOW, step_id=SIGN_STEP, answers=dict(turn.answers))
        return Pass()
    turn.emit(AnswerPoll(turn.flow.id, poll, value))
    return Again()  # keep waiting: a later answer changes it


POLL_ANSWER = register(
    StepType(name="poll_answer", keys=frozenset(), run=run, answer=answer, falls_through=False)
)
