"""WhatsApp's interactive forms of a question: quick-reply buttons or a list picker.

Which form a question takes depends only on how many options it has: 1 to 3
go as buttons, 4 to 10 as a list (a button that opens it), more stay numbered
text. SMS always gets the numbered text. The limits are WhatsApp's, for
session messages (inside the 24-hour window: no approval needed).

Each option's id is what WhatsApp sends back when it is tapped (``ButtonPayload``
or ``ListId``): ``<step id>/<choice value>``, so a tap maps to its choice exactly
and a tap on an older question's buttons is known as such.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.flows.turn import LIST_PICKER, QUICK_REPLY, Interactive, Option

MAX_QUICK_REPLIES = 3  # buttons under a quick-reply message
MAX_LIST_ITEMS = 10  # rows of a list picker
BUTTON_TITLE_LIMIT = 20  # characters of a quick-reply button, and of the list's button
LIST_ITEM_LIMIT = 24  # characters of a list row's title
LIST_DESCRIPTION_LIMIT = 72  # characters of a list row's description
BODY_LIMIT = 1024  # characters of the text above the buttons or the list


def option_id(step_id: str, value: str) -> str:
    """What a tap on this option sends back: ``ask_causes/human_rights``."""
    return f"{step_id}/{value}"


def tapped_value(step_id: str, payload: str) -> str | None:
    """The value of a tapped option of this step's question; None for another step's."""
    prefix = f"{step_id}/"
    return payload[len(prefix) :] if payload.startswith(prefix) else None


def build(body: str, options: Sequence[Option], list_button: str) -> Interactive | None:
    """The form for these options: buttons (1 to 3), a list (4 to 10), or None (text)."""
    if not options or len(options) > MAX_LIST_ITEMS:
        return None
    if len(options) <= MAX_QUICK_REPLIES:
        return Interactive(QUICK_REPLY, body, tuple(options))
    return Interactive(LIST_PICKER, body, tuple(options), list_button)


def limit_problems(interactive: Interactive) -> list[str]:
    """What WhatsApp would refuse in this message, said for an organizer."""
    problems = []
    if len(interactive.body) > BODY_LIMIT:
        problems.append(f"text is over {BODY_LIMIT} characters")
    if interactive.kind == QUICK_REPLY:
        for option in interactive.options:
            if len(option.title) > BUTTON_TITLE_LIMIT:
                problems.append(f"button {option.title!r} is over {BUTTON_TITLE_LIMIT} characters")
        return problems
    if len(interactive.button) > BUTTON_TITLE_LIMIT:
        problems.append(
            f"list button {interactive.button!r} is over {BUTTON_TITLE_LIMIT} characters"
        )
    for option in interactive.options:
        if len(option.title) > LIST_ITEM_LIMIT:
            problems.append(
                f"list row {option.title!r} is over {LIST_ITEM_LIMIT} characters "
                "(give the choice a 'short' label)"
            )
        if len(option.description) > LIST_DESCRIPTION_LIMIT:
            problems.append(
                f"list row description {option.description!r} is over "
                f"{LIST_DESCRIPTION_LIMIT} characters"
            )
    return problems
