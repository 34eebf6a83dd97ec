"""``send``: a message, with an optional media URL and WhatsApp quick-reply buttons.

- id: welcome
  type: send
  text: "Welcome to {org_name}!"
  media: "{kyr_media_url}"      # optional; skipped when the variable is not configured
  buttons: [Menu, Done]         # optional; WhatsApp only, at most 3
"""

from __future__ import annotations

from bot.flows import interactive
from bot.flows.model import Step
from bot.flows.steps.base import Go, StepType, Text, Transition, as_list, register
from bot.flows.turn import FlowRun, Interactive, Option, Output, fill

MAX_BUTTONS = interactive.MAX_QUICK_REPLIES


def media_url(step: Step, turn: FlowRun) -> str | None:
    """The media URL with placeholders filled; None when it comes out empty."""
    template = step.config.get("media")
    if not template:
        return None
    url = fill(str(template), turn.lang, [turn.variables, turn.answers, turn.contact.fields])
    return url.strip() or None


def validate_buttons(step: Step) -> list[str]:
    buttons = step.config.get("buttons")
    if buttons is None:
        return []
    if not isinstance(buttons, list) or not all(isinstance(b, str) and b.strip() for b in buttons):
        return ["'buttons' must be a list of texts"]
    if len(buttons) > MAX_BUTTONS:
        return [f"WhatsApp allows at most {MAX_BUTTONS} buttons, not {len(buttons)}"]
    return []


def validate(step: Step) -> list[str]:
    problems = []
    if not isinstance(step.config.get("text"), str) or not step.config["text"].strip():
        problems.append("'text' must be a non-empty text")
    media = step.config.get("media")
    if media is not None and not isinstance(media, str):
        problems.append("'media' must be a URL or a {variable}")
    return problems + validate_buttons(step)


def button_key(position: int) -> str:
    """Where a button's label is translated: ``button/1`` is the first of ``buttons``."""
    return f"button/{position}"


def button_texts(step: Step) -> list[Text]:
    line = step.line_of("buttons")
    listed = enumerate(as_list(step.config.get("buttons")), 1)
    return [Text(b, line, "button", button_key(n)) for n, b in listed if isinstance(b, str)]


def texts(step: Step) -> list[Text]:
    text = step.config.get("text")
    found = [Text(text, step.line_of("text"), "message", "text")] if isinstance(text, str) else []
    return found + button_texts(step)


def buttons(step: Step, turn: FlowRun) -> tuple[str, ...]:
    listed = enumerate(as_list(step.config.get("buttons")), 1)
    return tuple(turn.text(b, step, button_key(n)) for n, b in listed)


def options(step: Step, turn: FlowRun) -> list[Option]:
    """The written buttons as WhatsApp quick replies: ``<step>/button/<n>`` when tapped."""
    titles = enumerate(buttons(step, turn), 1)
    return [Option(interactive.option_id(step.id, button_key(n)), t) for n, t in titles]


def _message(step: Step, turn: FlowRun) -> Output:
    text = turn.text(step.config["text"], step)
    media = media_url(step, turn)
    # buttons under a picture would need a media content: a message with media goes as before
    form: Interactive | None = None
    if not media:
        form = interactive.build(text, options(step, turn), "")
    return Output(text, media, buttons(step, turn), form)


def run(step: Step, turn: FlowRun) -> Transition:
    message = _message(step, turn)
    turn.say(message.text, message.media_url, message.buttons, message.interactive)
    return Go()


def previews(step: Step, turn: FlowRun) -> list[tuple[str, Output]]:
    return [("message", _message(step, turn))]


SEND = register(
    StepType(
        name="send",
        keys=frozenset({"text", "media", "buttons"}),
        required=frozenset({"text"}),
        run=run,
        validate=validate,
        texts=texts,
        previews=previews,
    )
)
