"""What every step type provides, and the registry they add themselves to.

A step type is one module in ``bot/flows/steps/`` that builds a ``StepType`` and
calls ``register``.  The loader validates with it, the engine runs it, the
extractor and the checker ask it for its texts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.flows.model import Step
from bot.flows.turn import EndReason, FlowRun, Output


@dataclass(frozen=True)
class Go:
    """Continue with ``step_id``, or with the following step when None."""

    step_id: str | None = None


@dataclass(frozen=True)
class Wait:
    """Stop here until the contact answers (only questions wait)."""


@dataclass(frozen=True)
class Again:
    """The answer did not fit: the question was asked again; keep waiting."""


@dataclass(frozen=True)
class Pass:
    """Not an answer to this question: the message is left unhandled (the inbox); keep
    waiting, saying nothing."""


@dataclass(frozen=True)
class Stop:
    """End the flow."""

    reason: EndReason = "completed"


@dataclass(frozen=True)
class StartFlow:
    """End this flow and start another one in the same turn: at ``step_id`` (else its
    first step), knowing ``answers`` from the start (else nothing)."""

    flow_id: str
    step_id: str | None = None
    answers: Mapping[str, Any] | None = None


Transition = Go | Wait | Again | Pass | Stop | StartFlow


@dataclass(frozen=True)
class Text:
    """A translatable string of a step, where it is, and what it is for translators."""

    msgid: str
    line: int
    role: str  # for translators: "message", "question", "re-ask", "choice", "button"
    key: str  # which text of the step, in its msgctxt: "text", "reask", "choice/<value>"...


def _nothing(step: Step) -> list[Any]:
    return []


@dataclass(frozen=True)
class StepType:
    """One kind of step. Only ``name``, ``keys`` and ``run`` are required."""

    name: str
    keys: frozenset[str]  # config keys the type accepts, besides id, type and next
    run: Callable[[Step, FlowRun], Transition]
    required: frozenset[str] = frozenset()
    validate: Callable[[Step], list[str]] = _nothing  # problems with the step's own config
    texts: Callable[[Step], list[Text]] = _nothing  # what translators must translate
    targets: Callable[[Step], list[str]] = _nothing  # step ids it may jump to (besides next)
    flows_called: Callable[[Step], list[str]] = _nothing  # other flows it may start
    provides: Callable[[Step], list[str]] = _nothing  # answer and field names it sets
    previews: Callable[[Step, FlowRun], list[tuple[str, Output]]] = field(
        default=lambda step, turn: []
    )  # (what, message) as a contact would read it, for segment counts and button checks
    answer: Callable[[Step, FlowRun, str, int], Transition] | None = None  # waiting types only
    falls_through: bool = True  # without ``next`` it continues to the following step

    @property
    def waits(self) -> bool:
        return self.answer is not None


REGISTRY: dict[str, StepType] = {}


def register(step_type: StepType) -> StepType:
    """Make a step type known by its ``type:`` name in flow files."""
    REGISTRY[step_type.name] = step_type
    return step_type


def as_list(value: Any) -> list[Any]:
    """A YAML value that may be one item or a list of items."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def is_identifier(value: Any) -> bool:
    """Step ids, field names, tags and answer names: lower_snake_case."""
    return isinstance(value, str) and value.isidentifier() and value == value.lower()
