"""What the integrator (bot.conversations) does with a turn's effects, for the pure
engine tests: enough of it to carry a contact into the next turn."""

from __future__ import annotations

from dataclasses import replace

from bot.flows.engine import AddTag, ContactView, RemoveTag, SetField, SetLanguage


def apply(view: ContactView, effects) -> ContactView:
    """What the integrator does with effects, enough for the next turn."""
    for effect in effects:
        if isinstance(effect, SetField):
            view = replace(view, fields={**view.fields, effect.name: effect.value})
        elif isinstance(effect, AddTag):
            view = replace(view, tags=view.tags | {effect.tag})
        elif isinstance(effect, RemoveTag):
            view = replace(view, tags=view.tags - {effect.tag})
        elif isinstance(effect, SetLanguage):
            view = replace(view, language=effect.lang)
    return view
