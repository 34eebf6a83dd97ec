"""``ask``: send a question and wait for the answer, re-asking when it does not fit.

    - id: ask_causes
      type: ask
      text: Which causes matter most to you?
      expect: choice          # choice | yes_no | number | postal_code | date | text
      multiple: true          # choice only: "1 3", "1 y 3", "todos"
      choices:
        - value: human_rights
          label: Human rights
          short: Rights            # optional: the WhatsApp button or list row (label: below it)
          synonyms: {en: [rights], es: [derechos humanos]}
        - value: menu
          hidden: true        # accepted, not listed
          synonyms: {en: [menu], es: [menú]}
      save_as: causes         # the answer's name in this session (branches, {causes})
      field: causes           # optional: also store it on the contact
      optional: true          # "skip"/"saltar" moves on without an answer
      reask: Please reply with the numbers from the list.
      max_reasks: 2           # then on_fail, or the flow ends (reasks_exhausted)
      on_fail: some_step
      timeout: 2h             # optional; default the flow's expire_after
      on_timeout: nudge       # optional; default the flow ends (expired)
      list_choices: true      # append "1. Human rights" lines to the question
      buttons: [Menu, Done]   # optional WhatsApp buttons (else: the choices, see below)
      min: 1                  # number only
      max: 20
      direction: future       # date only: future | past | any

A postal_code answer stores the code in ``field`` (default ``zip``) and also the
derived ``state`` ("US-TX", "MX-JAL") and ``country`` ("US", "MX") fields.

On WhatsApp a question also carries its interactive form (``bot.flows.interactive``):
its ``buttons``, or yes and no, or its listed choices as buttons (up to 3) or as a
list (up to 10). A tapped option's id maps to its choice exactly; a typed answer is
matched as always.
"""

from __future__ import annotations

from typing import Any

from bot.flows import answers, interactive
from bot.flows.model import Step, parse_duration
from bot.flows.steps.base import (
    Again,
    Go,
    StepType,
    Stop,
    Text,
    Transition,
    Wait,
    as_list,
    is_identifier,
    register,
)
from bot.flows.steps.send import button_texts, validate_buttons
from bot.flows.steps.send import options as written_options
from bot.flows.turn import QUICK_REPLY, FlowRun, Interactive, Option, Output, SetField, display
from bot.i18n import LANGUAGES
from bot.text import normalize


def N_(msgid: str) -> str:
    """Mark a built-in text for extraction into the flows catalog (gettext_noop).

    Built-in texts have no context: they are the same in every flow and step.
    """
    return msgid


SORRY = N_("Sorry, I didn't understand that.")
GIVE_UP = N_("Sorry, I still didn't understand. Let's stop here for now.")
YES = N_("Yes")
NO = N_("No")
LIST_BUTTON = N_("Choose")  # the button that opens a WhatsApp list of choices
BUILTIN_TEXTS = (SORRY, GIVE_UP, YES, NO, LIST_BUTTON)

EXPECTS = ("choice", "yes_no", "number", "postal_code", "date", "text")
DIRECTIONS = ("future", "past", "any")
DEFAULT_MAX_REASKS = 2


def _choices(step: Step) -> list[dict[str, Any]]:
    return [c for c in as_list(step.config.get("choices")) if isinstance(c, dict)]


def _listed(step: Step) -> list[dict[str, Any]]:
    return [c for c in _choices(step) if not c.get("hidden")]


def _validate_choice(choice: Any) -> list[str]:
    if not isinstance(choice, dict):
        return ["each choice needs a 'value' and a 'label'"]
    problems = []
    unknown = set(choice) - {"value", "label", "short", "synonyms", "hidden"}
    if unknown:
        problems.append(f"unknown choice key(s): {', '.join(sorted(unknown))}")
    if not is_identifier(choice.get("value")):
        problems.append(f"choice value {choice.get('value')!r} must be lower_snake_case")
    if not choice.get("hidden") and not isinstance(choice.get("label"), str):
        problems.append(f"choice {choice.get('value')!r} needs a 'label' (or hidden: true)")
    if "short" in choice and (not isinstance(choice["short"], str) or not choice["short"].strip()):
        problems.append(f"choice {choice.get('value')!r}: 'short' must be a text")
    synonyms = choice.get("synonyms", {})
    if not isinstance(synonyms, dict) or not all(
        lang in LANGUAGES and isinstance(words, list) for lang, words in synonyms.items()
    ):
        problems.append(
            f"choice {choice.get('value')!r}: 'synonyms' must map a language "
            f"({', '.join(LANGUAGES)}) to a list of words"
        )
    return problems


def _validate_expect(step: Step) -> list[str]:
    config = step.config
    expect = config.get("expect")
    if expect not in EXPECTS:
        return [f"unknown expect {expect!r} (one of: {', '.join(EXPECTS)})"]
    problems = []
    if expect == "choice":
        if not _listed(step) and not _choices(step):
            problems.append("expect: choice needs 'choices'")
        for choice in as_list(config.get("choices")):
            problems += _validate_choice(choice)
        values = [c.get("value") for c in _choices(step)]
        if len(values) != len(set(map(str, values))):
            problems.append("two choices have the same value")
    elif "choices" in config or "multiple" in config:
        problems.append(f"'choices' and 'multiple' only apply to expect: choice, not {expect}")
    if expect == "date" and config.get("direction", "any") not in DIRECTIONS:
        problems.append(f"'direction' must be one of: {', '.join(DIRECTIONS)}")
    for key in ("min", "max"):
        if key in config and (expect != "number" or not isinstance(config[key], int)):
            problems.append(f"'{key}' must be a whole number, for expect: number")
    return problems


def validate(step: Step) -> list[str]:
    config = step.config
    problems = []
    if not isinstance(config.get("text"), str) or not config["text"].strip():
        problems.append("'text' must be a non-empty text")
    problems += _validate_expect(step)
    for key in ("save_as", "field"):
        if key in config and not is_identifier(config[key]):
            problems.append(f"'{key}' must be a lower_snake_case name")
    if "reask" in config and not isinstance(config["reask"], str):
        problems.append("'reask' must be a text")
    max_reasks = config.get("max_reasks", DEFAULT_MAX_REASKS)
    if not isinstance(max_reasks, int) or max_reasks < 0:
        problems.append("'max_reasks' must be a whole number, 0 or more")
    if "timeout" in config and parse_duration(config["timeout"]) is None:
        problems.append(f"'timeout' {config['timeout']!r} is not a duration like 2h or 90m")
    return problems + validate_buttons(step)


def choice_key(choice: dict[str, Any]) -> str:
    """Where a choice's label is translated: ``choice/<value>``."""
    return f"choice/{choice.get('value')}"


def short_key(choice: dict[str, Any]) -> str:
    """Where a choice's short label (its WhatsApp button or list row) is translated."""
    return f"choice/{choice.get('value')}/short"


def texts(step: Step) -> list[Text]:
    found = []
    for key, role in (("text", "question"), ("reask", "re-ask")):
        if isinstance(step.config.get(key), str):
            found.append(Text(step.config[key], step.line_of(key), role, key))
    for choice in _listed(step):
        if isinstance(choice.get("label"), str):
            line = getattr(choice, "key_lines", {}).get("label", step.line_of("choices"))
            found.append(Text(choice["label"], line, "choice", choice_key(choice)))
        if isinstance(choice.get("short"), str):
            line = step.line_of("choices")
            found.append(Text(choice["short"], line, "choice on WhatsApp", short_key(choice)))
    return found + button_texts(step)


def targets(step: Step) -> list[str]:
    return [step.config[k] for k in ("on_fail", "on_timeout") if k in step.config]


def answer_name(step: Step) -> str | None:
    """Where the answer is kept: ``save_as``, else ``field``."""
    if step.config.get("expect") == "postal_code":
        return step.config.get("save_as") or step.config.get("field", "zip")
    return step.config.get("save_as") or step.config.get("field")


def provides(step: Step) -> list[str]:
    names = [answer_name(step), step.config.get("field")]
    if step.config.get("expect") == "postal_code":
        names += [step.config.get("field", "zip"), "state", "country"]
    return [n for n in dict.fromkeys(names) if n]


# --- what the contact reads --------------------------------------------------


def _choice_lines(step: Step, turn: FlowRun) -> str:
    if step.config.get("expect") != "choice" or not step.config.get("list_choices", True):
        return ""
    listed = _listed(step)
    labels = (turn.text(c["label"], step, choice_key(c)) for c in listed)
    return "\n".join(f"{n}. {label}" for n, label in enumerate(labels, 1))


def _choice_option(step: Step, turn: FlowRun, choice: dict[str, Any]) -> Option:
    """A choice as a button or list row: its short label, and its label below it."""
    label = turn.text(choice["label"], step, choice_key(choice))
    option_id = interactive.option_id(step.id, str(choice["value"]))
    if not isinstance(choice.get("short"), str):
        return Option(option_id, label)
    return Option(option_id, turn.text(choice["short"], step, short_key(choice)), label)


def _options(step: Step, turn: FlowRun) -> list[Option]:
    """What a WhatsApp contact can tap: the written buttons, yes and no, or the choices."""
    if "buttons" in step.config:
        return written_options(step, turn)
    expect = step.config.get("expect")
    if expect == "yes_no":
        return [
            Option(interactive.option_id(step.id, "yes"), turn.text(YES)),
            Option(interactive.option_id(step.id, "no"), turn.text(NO)),
        ]
    if expect == "choice":
        return [_choice_option(step, turn, c) for c in _listed(step)]
    return []


def _interactive(step: Step, turn: FlowRun, body: str) -> Interactive | None:
    return interactive.build(body, _options(step, turn), turn.text(LIST_BUTTON))


def _buttons(form: Interactive | None) -> tuple[str, ...]:
    """The quick-reply buttons' titles (a list picker has none)."""
    if form is None or form.kind != QUICK_REPLY:
        return ()
    return tuple(o.title for o in form.options)


def question(step: Step, turn: FlowRun) -> str:
    """The question as sent: the text, then the numbered choices."""
    lines = (turn.text(step.config["text"], step), _choice_lines(step, turn))
    return "\n".join(p for p in lines if p)


def _reask_body(step: Step, turn: FlowRun) -> str:
    """The re-ask without its numbered lines."""
    if isinstance(step.config.get("reask"), str):
        return turn.text(step.config["reask"], step, "reask")
    return f"{turn.text(SORRY)}\n{turn.text(step.config['text'], step)}"


def reask_text(step: Step, turn: FlowRun) -> str:
    if isinstance(step.config.get("reask"), str):
        lines = (turn.text(step.config["reask"], step, "reask"), _choice_lines(step, turn))
        return "\n".join(p for p in lines if p)
    return f"{turn.text(SORRY)}\n{question(step, turn)}"


def _question_output(step: Step, turn: FlowRun) -> Output:
    form = _interactive(step, turn, turn.text(step.config["text"], step))
    return Output(question(step, turn), None, _buttons(form), form)


def _reask_output(step: Step, turn: FlowRun) -> Output:
    form = _interactive(step, turn, _reask_body(step, turn))
    return Output(reask_text(step, turn), None, _buttons(form), form)


def _say(turn: FlowRun, output: Output) -> None:
    turn.say(output.text, buttons=output.buttons, interactive=output.interactive)


def run(step: Step, turn: FlowRun) -> Transition:
    _say(turn, _question_output(step, turn))
    return Wait()


def previews(step: Step, turn: FlowRun) -> list[tuple[str, Output]]:
    return [("question", _question_output(step, turn)), ("re-ask", _reask_output(step, turn))]


# --- understanding the answer -------------------------------------------------


def matcher_choices(step: Step, turn: FlowRun) -> list[answers.Choice]:
    """Each choice with every way of saying it: labels in all languages, synonyms, value.

    A hidden choice's label, if it has one, is not translated (it is never shown).
    """
    found = []
    number = 0
    for choice in _choices(step):
        phrases = [str(choice["value"]).replace("_", " ")]
        if "label" in choice and choice.get("hidden"):
            phrases.append(str(choice["label"]))
        elif "label" in choice:
            context = turn.context(step, choice_key(choice))
            phrases += [turn.translate(lang, context, choice["label"]) for lang in LANGUAGES]
        if isinstance(choice.get("short"), str) and not choice.get("hidden"):
            context = turn.context(step, short_key(choice))
            phrases += [turn.translate(lang, context, choice["short"]) for lang in LANGUAGES]
        for words in (choice.get("synonyms") or {}).values():
            phrases += [str(w) for w in words]
        if not choice.get("hidden"):
            number += 1
        position = None if choice.get("hidden") else number
        normalized = tuple(dict.fromkeys(p for p in map(normalize, phrases) if p))
        found.append(answers.Choice(str(choice["value"]), position, normalized))
    return found


def _tapped(step: Step, turn: FlowRun, value: str) -> Any:
    """The answer a tap on this question's option ``value`` means, or None (re-ask).

    Exact: a choice by its value, never by how its label reads. A written
    button is the text it shows, as if typed.
    """
    config = step.config
    if value.startswith("button/"):
        titles = as_list(config.get("buttons"))
        position = value.removeprefix("button/")
        if position.isdigit() and 0 < int(position) <= len(titles):
            return parse(step, turn, str(titles[int(position) - 1]))
        return None
    if config["expect"] == "yes_no":
        return value if value in ("yes", "no") else None
    if config["expect"] == "choice" and value in {str(c["value"]) for c in _listed(step)}:
        return [value] if config.get("multiple") else value
    return None


def parse(step: Step, turn: FlowRun, text: str) -> Any:
    """The answer as stored, or None when it does not fit the question."""
    config = step.config
    expect = config["expect"]
    if expect == "choice":
        chosen = answers.match_choices(text, matcher_choices(step, turn), config.get("multiple"))
        if chosen is None:
            return None
        return chosen if config.get("multiple") else chosen[0]
    if expect == "yes_no":
        value = answers.parse_yes_no(text)
        return None if value is None else ("yes" if value else "no")
    if expect == "number":
        number = answers.parse_number(text)
        low, high = config.get("min"), config.get("max")
        if number is None or (low is not None and number < low):
            return None
        return None if high is not None and number > high else number
    if expect == "postal_code":
        return answers.parse_postal_code(text, turn.contact.country)
    if expect == "date":
        direction = config.get("direction", "any")
        day = answers.parse_date(text, turn.now.date(), turn.lang, direction)
        return day.isoformat() if day else None
    return text.strip() or None


def store(step: Step, turn: FlowRun, value: Any) -> None:
    """Keep the answer in the session and, when asked, on the contact."""
    config = step.config
    if config["expect"] == "postal_code":
        turn.answers[answer_name(step)] = value.code
        turn.answers["state"] = value.state
        turn.emit(SetField(config.get("field", "zip"), value.code))
        turn.emit(SetField("state", value.state))
        turn.emit(SetField("country", value.country))
        return
    name = answer_name(step)
    if name:
        turn.answers[name] = value
    if config.get("field"):
        turn.emit(SetField(config["field"], display(value)))


def answer(step: Step, turn: FlowRun, text: str, reasks: int) -> Transition:
    """Handle the contact's reply to this question."""
    tapped = interactive.tapped_value(step.id, turn.payload) if turn.payload else None
    if tapped is None and step.config.get("optional") and answers.is_skip(text):
        return Go()
    value = _tapped(step, turn, tapped) if tapped is not None else parse(step, turn, text)
    if value is not None:
        store(step, turn, value)
        return Go()
    if reasks >= step.config.get("max_reasks", DEFAULT_MAX_REASKS):
        if "on_fail" in step.config:
            return Go(step.config["on_fail"])
        turn.say(turn.text(GIVE_UP))
        return Stop("reasks_exhausted")
    _say(turn, _reask_output(step, turn))
    return Again()


ASK = register(
    StepType(
        name="ask",
        keys=frozenset(
            {
                "text",
                "expect",
                "choices",
                "multiple",
                "save_as",
                "field",
                "optional",
                "reask",
                "max_reasks",
                "on_fail",
                "timeout",
                "on_timeout",
                "list_choices",
                "buttons",
                "min",
                "max",
                "direction",
            }
        ),  # fmt: skip
        required=frozenset({"text", "expect"}),
        run=run,
        validate=validate,
        texts=texts,
        targets=targets,
        provides=provides,
        previews=previews,
        answer=answer,
    )
)
