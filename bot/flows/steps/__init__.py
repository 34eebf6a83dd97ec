"""Step types: one module each, registered by name (``type:`` in a flow file).

Adding a step type is adding a module here that calls ``register`` and importing
it below; the loader, engine, extractor and checker find it in ``REGISTRY``.
"""

from bot.flows.steps import (  # noqa: F401  (each module registers its type)
    ask,
    branch,
    end,
    goto,
    opt_in,
    poll_answer,
    report,
    rsvp,
    send,
    set_field,
    set_language,
    sign,
    tag,
)
from bot.flows.steps.base import REGISTRY, StepType, Text, register

__all__ = ["REGISTRY", "StepType", "Text", "get", "register"]


def get(type_name: str) -> StepType | None:
    """The step type registered under ``type_name``, or None."""
    return REGISTRY.get(type_name)
