"""The flow engine, step type by step type, on small flows written for these tests.

Each conversation is a table of (they text, the bot answers containing...). The
engine is pure, so no app, database or network is involved.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.flows.engine import (
    AddTag,
    ContactView,
    FlowEnded,
    FlowState,
    OptIn,
    RecordReport,
    RemoveTag,
    Result,
    SetField,
    SetLanguage,
    expire,
    handle,
    start,
)
from bot.flows.loader import load_flows
from tests.flows.integrator import apply

NOW = datetime(2026, 5, 13, 15, 0, tzinfo=UTC)  # a Wednesday
VARIABLES = {"org_name": "Puente"}

FLOWS = {
    "survey.yaml": """
flow: survey
expire_after: 2h
variables: {org_name: required, media_url: optional}
triggers: {en: [SURVEY], es: [ENCUESTA]}
steps:
  - id: hello
    type: send
    text: "Hello from {org_name}!"
    media: "{media_url}"
    buttons: [Okay]
  - id: has_name
    type: branch
    on: field.name
    empty: ask_name
    default: greet
  - id: greet
    type: send
    text: "Hi again, {name}."
    next: ask_age
  - id: ask_name
    type: ask
    text: Your name?
    expect: text
    field: name
  - id: ask_age
    type: ask
    text: How old are you?
    expect: number
    min: 14
    max: 120
    save_as: age
    reask: A number between 14 and 120, please.
    max_reasks: 1
    on_fail: no_age
  - id: ask_day
    type: ask
    text: Which day can you come?
    expect: date
    direction: future
    save_as: day
    timeout: 1h
    on_timeout: nudge
  - id: ask_ok
    type: ask
    text: "Is {day} right?"
    expect: yes_no
    save_as: ok
  - id: set_status
    type: set_field
    field: status
    value: "age {age}, day {day}"
  - id: tags
    type: tag
    add: [surveyed]
    remove: [pending, never_had_it]
  - id: record
    type: report
    kind: survey
    include: [age, day, ok]
  - id: bye
    type: send
    text: "Thanks, {name}!"
  - id: finish
    type: end
  - id: nudge
    type: send
    text: Still there?
    next: ask_day
  - id: no_age
    type: send
    text: No problem, let's skip that.
    next: ask_day
""",
    "switch.yaml": """
flow: switch
triggers: {en: [SWITCH, CAMBIO], es: [CAMBIO]}
steps:
  - id: consent
    type: opt_in
  - id: pick
    type: ask
    text: English or Spanish?
    expect: choice
    save_as: lang
    choices:
      - {value: en, label: English}
      - {value: es, label: Spanish, synonyms: {es: [castellano]}}
  - id: switch
    type: set_language
    from_answer: lang
  - id: confirm
    type: send
    text: Language saved.
  - id: jump
    type: goto
    flow: survey
""",
    "where.yaml": """
flow: where
triggers: {en: [WHERE]}
steps:
  - id: by_channel
    type: branch
    on: contact.channel
    cases: {whatsapp: on_whatsapp}
    default: on_sms
  - id: on_whatsapp
    type: send
    text: You're on WhatsApp.
    next: by_country
  - id: on_sms
    type: send
    text: You're on SMS.
  - id: by_country
    type: branch
    on: contact.country
    cases: {mx: in_mexico}
    empty: unknown_country
    default: by_tag
  - id: in_mexico
    type: send
    text: In Mexico.
    next: by_tag
  - id: unknown_country
    type: send
    text: Somewhere.
  - id: by_tag
    type: branch
    on: tags
    cases: {volunteer: volunteer}
  - id: done
    type: end
  - id: volunteer
    type: send
    text: Thanks for volunteering.
""",
    "long.yaml": """
flow: long
expire_after: 3d
triggers: {en: [LONG]}
steps:
  - id: wait
    type: ask
    text: Anything?
    expect: text
    save_as: anything
""",
}

SPANISH = {
    "Hello from {org_name}!": "¡Hola de parte de {org_name}!",
    "Okay": "Vale",
    "Hi again, {name}.": "Hola otra vez, {name}.",
    "Your name?": "¿Tu nombre?",
    "How old are you?": "¿Cuántos años tienes?",
    "Which day can you come?": "¿Qué día puedes venir?",
    "Language saved.": "Idioma guardado.",
    "Spanish": "Español",
    "English": "Inglés",
    "Sorry, I didn't understand that.": "Perdón, no entendí.",
}


def translate(lang: str, context: str | None, msgid: str) -> str:
    return SPANISH.get(msgid, msgid) if lang == "es" else msgid


@pytest.fixture(scope="module")
def flows(tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("flows")
    for name, text in FLOWS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return load_flows(folder)


def contact(lang="en", channel="sms", **kw) -> ContactView:
    return ContactView(language=lang, channel=channel, **kw)


def converse(flows, view, table, session=None, variables=VARIABLES, minutes=1):
    """Play a table of (they text, [texts the replies contain], or None for silence)."""
    now = NOW
    effects = []
    for text, expected in table:
        result = handle(flows, session, view, text, now, variables, translate=translate)
        replies = "\n".join(o.text for o in result.outputs)
        if expected is None:
            assert replies == "", f"after {text!r} expected silence, got:\n{replies}"
        for piece in expected or []:
            assert piece in replies, f"after {text!r} expected {piece!r} in:\n{replies}"
        view = apply(view, result.effects)
        effects += result.effects
        session = result.session
        now += timedelta(minutes=minutes)
    return session, effects, view


def test_a_whole_survey_touches_every_common_step(flows):
    session, effects, view = converse(
        flows,
        contact(tags=frozenset({"pending"})),
        [
            ("survey", ["Hello from Puente!", "Your name?"]),
            ("Ana María", ["How old are you?"]),
            ("treinta", ["A number between 14 and 120"]),  # 30 in Spanish is not a known word
            ("30", ["Which day can you come?"]),
            ("el viernes", ["Is 2026-05-15 right?"]),
            ("sí", ["Thanks, Ana María!"]),
        ],
    )
    assert session is None
    report = {
        "kind": "survey",
        "answers": {"age": 30, "day": "2026-05-15", "ok": "yes"},
        "language": "en",
        "channel": "sms",
    }
    assert effects == [
        SetField("name", "Ana María"),
        SetField("status", "age 30, day 2026-05-15"),
        RemoveTag("pending"),  # removals first; never_had_it: the contact never had it
        AddTag("surveyed"),
        RecordReport("survey", report),
        FlowEnded("survey", "completed"),
    ]
    assert view.tags == frozenset({"surveyed"})
    assert view.fields == {"name": "Ana María", "status": "age 30, day 2026-05-15"}


def test_known_contact_skips_the_name_and_dates_are_relative_to_now(flows):
    session, effects, _ = converse(
        flows,
        contact(fields={"name": "Ana"}),
        [
            ("SURVEY", ["Hi again, Ana.", "How old are you?"]),
            ("30", ["Which day"]),
            ("tomorrow", ["Is 2026-05-14 right?"]),
            ("nop", ["Thanks, Ana!"]),
        ],
    )
    report = next(e for e in effects if isinstance(e, RecordReport))
    assert report.data["answers"] == {"age": 30, "day": "2026-05-14", "ok": "no"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [({}, "Your name?"), ({"name": "Luz"}, "Hi again, Luz."), ({"name": "  "}, "Your name?")],
)
def test_branch_on_a_contact_field(flows, fields, expected):
    result = start(flows, "survey", contact(fields=fields), NOW, VARIABLES, translate=translate)
    assert result.outputs[1].text == expected


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (contact(channel="whatsapp", country="MX"), ["You're on WhatsApp.", "In Mexico."]),
        (contact(channel="sms", country="US"), ["You're on SMS."]),
        (contact(channel="sms"), ["You're on SMS.", "Somewhere."]),
        (
            contact(country="US", tags=frozenset({"volunteer"})),
            ["You're on SMS.", "Thanks for volunteering."],
        ),  # fmt: skip
        (
            contact(channel="whatsapp", country="MX", tags=frozenset({"volunteer"})),
            ["You're on WhatsApp.", "In Mexico.", "Thanks for volunteering."],
        ),  # fmt: skip
    ],
)
def test_branch_on_channel_country_and_tags(flows, view, expected):
    result = handle(flows, None, view, "WHERE", NOW, {}, translate=translate)
    assert [o.text for o in result.outputs] == expected
    assert result.session is None
    assert result.effects[-1] == FlowEnded("where", "completed")


@pytest.mark.parametrize(
    ("channel", "variables", "media", "buttons"),
    [
        ("sms", VARIABLES, None, ()),
        ("whatsapp", VARIABLES, None, ("Okay",)),
        (
            "whatsapp",
            {**VARIABLES, "media_url": "https://example.org/card.png"},
            "https://example.org/card.png",
            ("Okay",),
        ),  # fmt: skip
    ],
)
def test_send_media_only_when_configured_and_buttons_only_on_whatsapp(
    flows, channel, variables, media, buttons
):
    result = handle(flows, None, contact(channel=channel), "SURVEY", NOW, variables)
    hello = result.outputs[0]
    assert (hello.text, hello.media_url, hello.buttons) == ("Hello from Puente!", media, buttons)


def test_spanish_contact_reads_spanish_and_per_language_variables_win(flows):
    variables = {"org_name": "Puente", "org_name_es": "Puente MX"}
    result = handle(flows, None, contact("es"), "encuesta", NOW, variables, translate=translate)
    assert [o.text for o in result.outputs] == ["¡Hola de parte de Puente MX!", "¿Tu nombre?"]


def test_reask_then_on_fail_path(flows):
    converse(
        flows,
        contact(fields={"name": "Ana"}),
        [
            ("SURVEY", ["How old are you?"]),
            ("old enough", ["A number between 14 and 120, please."]),
            ("200", ["No problem, let's skip that.", "Which day can you come?"]),
        ],
    )


def test_default_reask_repeats_the_question(flows):
    session, _, _ = converse(
        flows,
        contact(fields={"name": "Ana"}),
        [
            ("SURVEY", ["How old"]),
            ("30", ["Which day"]),
            ("someday", ["Sorry, I didn't understand that.\nWhich day can you come?"]),
        ],
    )
    assert (session.step_id, session.reasks) == ("ask_day", 1)


def test_reasks_exhausted_ends_the_flow(flows):
    session, effects, _ = converse(
        flows,
        contact(),
        [
            ("switch", ["English or Spanish?\n1. English\n2. Spanish"]),
            ("french", ["Sorry, I didn't understand that."]),
            ("german", ["Sorry, I didn't understand that."]),
            ("italian", ["Sorry, I still didn't understand. Let's stop here for now."]),
        ],
    )
    assert session is None
    assert effects[-1] == FlowEnded("switch", "reasks_exhausted")


def test_set_language_applies_to_the_rest_of_the_turn_and_goto_starts_a_flow(flows):
    result = handle(flows, None, contact("en"), "SWITCH", NOW, VARIABLES, translate=translate)
    assert result.effects == [OptIn("switch")]
    session = result.session
    result = handle(
        flows, session, contact("en"), "castellano", NOW, VARIABLES, translate=translate
    )
    assert [o.text for o in result.outputs] == [
        "Idioma guardado.",
        "¡Hola de parte de Puente!",
        "¿Tu nombre?",
    ]
    assert result.effects == [SetLanguage("es"), FlowEnded("switch", "completed")]
    assert (result.session.flow_id, result.session.step_id) == ("survey", "ask_name")


def test_labels_match_in_every_language(flows):
    session = start(flows, "switch", contact("en"), NOW, {}, translate=translate).session
    result = handle(flows, session, contact("en"), "Español", NOW, {}, translate=translate)
    assert SetLanguage("es") in result.effects


def test_a_keyword_interrupts_the_current_flow_cleanly(flows):
    session = start(flows, "survey", contact(), NOW, VARIABLES, translate=translate).session
    result = handle(flows, session, contact(), "switch!", NOW, VARIABLES, translate=translate)
    assert result.effects[0] == FlowEnded("survey", "interrupted")
    assert result.outputs[0].text.startswith("English or Spanish?")
    assert result.session.flow_id == "switch"


def test_a_keyword_in_another_language_switches_language(flows):
    result = handle(flows, None, contact("en"), "ENCUESTA", NOW, VARIABLES, translate=translate)
    assert result.effects == [SetLanguage("es")]
    assert result.outputs[0].text == "¡Hola de parte de Puente!"


def test_a_keyword_in_both_languages_keeps_the_language(flows):
    result = handle(flows, None, contact("en"), "cambio", NOW, {}, translate=translate)
    assert not any(isinstance(e, SetLanguage) for e in result.effects)


@pytest.mark.parametrize("text", ["hello", "1", "survey please"])
def test_without_a_session_other_messages_are_not_handled(flows, text):
    result = handle(flows, None, contact(), text, NOW, VARIABLES, translate=translate)
    assert result == Result(None, [], [], handled=False)


def test_the_wait_times_out_through_on_timeout(flows):
    session, _, view = converse(
        flows, contact(fields={"name": "Ana"}), [("SURVEY", []), ("30", ["Which day"])]
    )
    answered_at = NOW + timedelta(minutes=1)
    assert session.expires_at == answered_at + timedelta(hours=1)  # the question's timeout
    early = expire(flows, session, view, session.expires_at - timedelta(seconds=1), VARIABLES)
    assert early.session is session and not early.outputs and not early.handled
    later = expire(flows, session, view, session.expires_at, VARIABLES, translate=translate)
    assert [o.text for o in later.outputs] == ["Still there?", "Which day can you come?"]
    assert later.session.step_id == "ask_day"
    # the flow's own limit: 2 hours after the contact last wrote
    assert later.session.expires_at == answered_at + timedelta(hours=2)
    final = expire(flows, later.session, view, answered_at + timedelta(hours=2), VARIABLES)
    assert final == Result(None, [], [FlowEnded("survey", "expired")], handled=True)


def test_a_late_answer_finds_the_flow_expired(flows):
    session = start(flows, "survey", contact(), NOW, VARIABLES, translate=translate).session
    result = handle(flows, session, contact(), "Ana", session.expires_at, VARIABLES)
    assert result == Result(None, [], [FlowEnded("survey", "expired")], handled=False)


@pytest.mark.parametrize(
    ("channel", "wait"),
    [("sms", timedelta(days=3)), ("whatsapp", timedelta(hours=23, minutes=50))],
)
def test_whatsapp_waits_end_before_the_24_hour_window(flows, channel, wait):
    session = start(flows, "long", contact(channel=channel), NOW, {}, translate=translate).session
    assert session.expires_at == NOW + wait


def test_a_removed_flow_ends_the_session(flows):
    ghost = FlowState("gone", "ask", True, 0, NOW, NOW + timedelta(hours=1), {})
    result = handle(flows, ghost, contact(), "hello", NOW, {})
    assert result.effects == [FlowEnded("gone", "expired")] and result.session is None


def test_session_survives_json(flows):
    session, _, _ = converse(flows, contact(fields={"name": "Ana"}), [("SURVEY", []), ("30", [])])
    data = json.loads(json.dumps(session.to_dict()))
    assert FlowState.from_dict(data) == session
    assert data["answers"] == {"age": 30}
