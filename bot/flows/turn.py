"""One turn of a conversation: who the contact is, what the bot says, what should change.

Steps read the contact through a ``ContactView`` and report changes as effects; the
integrator applies the effects to the database.  Nothing here touches the outside world.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from bot.flows.model import Flow, FlowSet, Step, text_context

# (lang, msgctxt or None for a built-in text, msgid) -> the text in that language
Translate = Callable[[str, str | None, str], str]
Channel = Literal["sms", "whatsapp"]
EndReason = Literal["completed", "expired", "interrupted", "reasks_exhausted"]

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class ContactView:
    """What a flow may know about the contact; the integrator builds it from the database."""

    language: str = "es"  # "es" or "en"
    channel: Channel = "sms"
    fields: Mapping[str, str] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    country: str | None = None  # "US", "MX" or None when unknown


@dataclass(frozen=True)
class Option:
    """One button or list row of a WhatsApp interactive message."""

    id: str  # what WhatsApp sends back when it is tapped (ButtonPayload or ListId)
    title: str  # what the contact reads on it, in their language
    description: str = ""  # a list row's second line (the full label when it has a short one)


QUICK_REPLY = "quick_reply"  # up to 3 buttons under the text
LIST_PICKER = "list_picker"  # a button that opens a list of up to 10 rows
InteractiveKind = Literal["quick_reply", "list_picker"]


@dataclass(frozen=True)
class Interactive:
    """A question as WhatsApp shows it: its text, then buttons or a list to tap.

    The ``Output``'s own ``text`` (the numbered choices) is what goes when the
    Content API cannot make this one, and what SMS always gets.
    """

    kind: InteractiveKind
    body: str  # the question without its numbered lines
    options: tuple[Option, ...]
    button: str = ""  # the list picker's button, that opens the list


@dataclass(frozen=True)
class Output:
    """One message to send, already translated and filled in."""

    text: str
    media_url: str | None = None
    buttons: tuple[str, ...] = ()  # WhatsApp quick replies; always empty on SMS
    interactive: Interactive | None = None  # WhatsApp only: None on SMS


@dataclass(frozen=True)
class SetField:
    name: str
    value: str


@dataclass(frozen=True)
class AddTag:
    tag: str


@dataclass(frozen=True)
class RemoveTag:
    tag: str


@dataclass(frozen=True)
class SetLanguage:
    lang: str


@dataclass(frozen=True)
class OptIn:
    """The contact started an opt-in flow: record it as consent (when, how, to what)."""

    flow_id: str


@dataclass(frozen=True)
class RecordReport:
    """A report for organizers (an incident, an RSVP note...): store ``data`` as JSON."""

    flow_id: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class SignPetition:
    """Sign the petition named by the flow's ``petition`` answer (set when it started);
    the integrator confirms with the signature's number."""

    flow_id: str
    petition: str  # its slug


@dataclass(frozen=True)
class RecordRsvp:
    """Record the contact's answer (yes / no / maybe, and their guests when they said) for
    the event named by the flow's ``event`` answer (set when its keyword started it)."""

    flow_id: str
    event_id: int
    answer: str
    guests: int | None = None


@dataclass(frozen=True)
class AnswerPoll:
    """Record the contact's answer to a broadcast's poll (the ``poll`` answer, set when the
    broadcast left them waiting); the integrator confirms it, or the change."""

    flow_id: str
    poll_id: int
    choice: str  # the chosen value


@dataclass(frozen=True)
class FlowEnded:
    flow_id: str
    reason: EndReason


Effect = (
    SetField | AddTag | RemoveTag | SetLanguage | OptIn | RecordReport | SignPetition
    | RecordRsvp | AnswerPoll | FlowEnded
)  # fmt: skip


def display(value: Any) -> str:
    """An answer as text: lists of choices become "a, b"."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def fill(text: str, lang: str, sources: list[Mapping[str, Any]]) -> str:
    """Replace ``{name}`` from the first source that has it; unknown names become ''.

    A source key ``name_<lang>`` wins over ``name`` so configuration can give
    per-language values (``event_date_es``, ``legal_help_en``).
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        for source in sources:
            for key in (f"{name}_{lang}", name):
                found = source.get(key)
                if found not in (None, "", [], ()):
                    return display(found)
        return ""

    return PLACEHOLDER.sub(value, text)


@dataclass
class FlowRun:
    """Mutable state while the engine runs steps for one inbound message."""

    flowset: FlowSet
    flow: Flow
    contact: ContactView
    now: datetime
    variables: Mapping[str, str]
    translate: Translate
    answers: dict[str, Any] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    payload: str | None = None  # the id of a tapped WhatsApp button or list row, if any

    @property
    def lang(self) -> str:
        return self.contact.language

    def context(self, step: Step, key: str) -> str:
        """The msgctxt of the text at ``key`` of ``step`` in this flow: "join/ask_name/text"."""
        return text_context(self.flow.id, step.id, key)

    def text(self, msgid: str, step: Step | None = None, key: str = "text") -> str:
        """``msgid``, written at ``key`` of ``step``, in the contact's language, filled in.

        Without a step it is a built-in text of a step type (no context), the same
        in every flow.
        """
        context = self.context(step, key) if step is not None else None
        translated = self.translate(self.lang, context, msgid)
        return fill(translated, self.lang, [self.variables, self.answers, self.contact.fields])

    def say(
        self,
        text: str,
        media_url: str | None = None,
        buttons: tuple[str, ...] = (),
        interactive: Interactive | None = None,
    ) -> None:
        """Queue an already translated message; buttons and lists only exist on WhatsApp."""
        if self.contact.channel != "whatsapp":
            buttons, interactive = (), None
        self.outputs.append(Output(text, media_url or None, buttons, interactive))

    def emit(self, effect: Effect) -> None:
        """Record an effect and apply it to the contact view for the rest of the turn."""
        self.effects.append(effect)
        contact = self.contact
        if isinstance(effect, SetField):
            self.contact = replace(contact, fields={**contact.fields, effect.name: effect.value})
        elif isinstance(effect, AddTag):
            self.contact = replace(contact, tags=contact.tags | {effect.tag})
        elif isinstance(effect, RemoveTag):
            self.contact = replace(contact, tags=contact.tags - {effect.tag})
        elif isinstance(effect, SetLanguage):
            self.contact = replace(contact, language=effect.lang)
