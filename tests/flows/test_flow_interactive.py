"""Questions as WhatsApp shows them: buttons (2-3 choices) or a list (4-10), and taps.

The shipped flows and catalogs, in both languages; SMS keeps the numbered text.
A tap carries its option's id (``<step>/<value>``), which maps to its choice exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.flows.engine import ContactView, FlowState, SetField, handle, start
from bot.flows.loader import load_flows
from bot.flows.turn import LIST_PICKER, QUICK_REPLY, RecordRsvp
from tests.paths import FLOWS

NOW = datetime(2026, 5, 13, 18, 0, tzinfo=UTC)
VARIABLES = {
    "org_name": "Puente",
    "legal_help": "LEGAL-HELP-CONTACT",
    "event_name": "Cumbre por la Paz",
    "event_place": "Ciudad Juárez",
    "event_date": "June 6",
}


@pytest.fixture(scope="module")
def flows():
    return load_flows(FLOWS)


def waiting_at(flow_id: str, step_id: str, answers=None) -> FlowState:
    later = NOW + timedelta(hours=2)
    return FlowState(flow_id, step_id, True, 0, NOW, later, dict(answers or {}), NOW)


def ask(flows, flow_id, step_id, lang="en", channel="whatsapp"):
    """The question at ``step_id`` as the contact gets it (a re-ask of a wrong answer)."""
    view = ContactView(language=lang, channel=channel)
    result = handle(flows, waiting_at(flow_id, step_id), view, "zzzz", NOW, VARIABLES)
    return result.outputs[-1]


@pytest.mark.parametrize(
    ("flow_id", "step_id", "lang", "kind", "titles", "button"),
    [
        ("summit_rsvp", "ask_rsvp", "en", QUICK_REPLY,
         ("Yes, I'll be there", "No, I can't", "Maybe"), ""),
        ("summit_rsvp", "ask_rsvp", "es", QUICK_REPLY,
         ("Sí, ahí estaré", "No puedo", "Tal vez"), ""),
        ("join", "ask_causes", "en", LIST_PICKER,
         ("Human rights", "Gun trafficking", "Right to stay home", "Demilitarization",
          "Climate justice"), "Choose"),
        ("join", "ask_causes", "es", LIST_PICKER,
         ("Derechos humanos", "Tráfico de armas", "Derecho a quedarse", "Desmilitarización",
          "Justicia climática"), "Elegir"),
        ("know_your_rights", "more", "es", QUICK_REPLY, ("Menú", "Listo"), ""),
    ],
)  # fmt: skip
def test_whatsapp_gets_buttons_for_three_choices_and_a_list_for_more(
    flows, flow_id, step_id, lang, kind, titles, button
):
    question = ask(flows, flow_id, step_id, lang)
    assert question.interactive is not None
    assert question.interactive.kind == kind
    assert tuple(o.title for o in question.interactive.options) == titles
    assert question.interactive.button == button
    assert "1. " not in question.interactive.body  # the numbered lines stay in the fallback
    assert "1. " in question.text or step_id == "more"


def test_the_know_your_rights_menu_is_a_list_with_each_full_label_below_its_row(flows):
    menu = ask(flows, "know_your_rights", "menu", "es").interactive
    assert menu.kind == LIST_PICKER and len(menu.options) == 9  # the hidden "menu" is not listed
    door = menu.options[0]
    assert (door.id, door.title, door.description) == (
        "menu/door", "Agentes en tu puerta", "Agentes de inmigración en tu puerta",
    )  # fmt: skip
    assert menu.options[1].description == ""  # "En el trabajo" needs no short label


@pytest.mark.parametrize("lang", ["en", "es"])
def test_sms_keeps_the_numbered_text(flows, lang):
    question = ask(flows, "join", "ask_causes", lang, channel="sms")
    assert question.interactive is None and question.buttons == ()
    assert "\n1. " in question.text and "\n5. " in question.text


def test_more_than_ten_choices_stay_numbered_text_on_whatsapp(tmp_path: Path):
    choices = "".join(f"\n      - {{value: c{n}, label: Choice {n}}}" for n in range(11))
    (tmp_path / "big.yaml").write_text(
        "flow: big\ntriggers: {en: [BIG]}\nsteps:\n  - id: pick\n    type: ask\n"
        f"    text: Pick one.\n    expect: choice\n    choices:{choices}\n",
        encoding="utf-8",
    )
    flows = load_flows(tmp_path)
    view = ContactView(language="en", channel="whatsapp")
    result = handle(flows, None, view, "BIG", NOW, {})
    assert result.outputs[-1].interactive is None
    assert "11. Choice 10" in result.outputs[-1].text


ORDERS = """
flow: orders
triggers: {en: [ORDER]}
steps:
  - id: pick
    type: ask
    text: Which one?
    expect: choice
    save_as: picked
    choices:
      - {value: red, label: Blue}
      - {value: blue, label: Red}
      - {value: green, label: Green}
  - id: done
    type: end
"""


WHATSAPP = ContactView(language="en", channel="whatsapp")


def as_written(lang: str, context: str | None, msgid: str) -> str:
    return msgid


def test_a_tap_maps_to_its_choice_exactly_whatever_its_text_reads(orders):
    session = waiting_at("orders", "pick")
    # Typed, "Red" is choice red (its value) or blue (its label); the tapped id says green.
    tapped = handle(orders, session, WHATSAPP, "Red", NOW, {}, payload="pick/green",
                    translate=as_written)  # fmt: skip
    typed = handle(orders, session, WHATSAPP, "Red", NOW, {}, translate=as_written)
    assert tapped.session is None and tapped.handled
    assert ("picked", "green") in _answers(orders, tapped)
    assert ("picked", "green") not in _answers(orders, typed)


def _answers(flows, result) -> list[tuple[str, str]]:
    return [(e.name, e.value) for e in result.effects if isinstance(e, SetField)]


@pytest.fixture
def orders(tmp_path: Path):
    text = ORDERS.replace("save_as: picked", "save_as: picked\n    field: picked")
    (tmp_path / "orders.yaml").write_text(text, encoding="utf-8")
    return load_flows(tmp_path)


@pytest.mark.parametrize("payload", ["pick/purple", "pick/", "pick/button/7"])
def test_a_tap_that_matches_no_choice_gets_the_reask(orders, payload):
    session = waiting_at("orders", "pick")
    result = handle(orders, session, WHATSAPP, "Green", NOW, {}, payload=payload,
                    translate=as_written)  # fmt: skip
    assert result.session is not None and result.session.reasks == 1
    assert "didn't understand" in result.outputs[-1].text
    assert result.outputs[-1].interactive is not None  # asked again with its buttons


def test_a_typed_number_still_answers(orders):
    result = handle(orders, waiting_at("orders", "pick"), WHATSAPP, "3", NOW, {},
                    translate=as_written)  # fmt: skip
    assert ("picked", "green") in _answers(orders, result)
    assert result.session is None and result.handled


def test_a_tap_on_an_older_question_counts_as_its_text(orders):
    result = handle(orders, waiting_at("orders", "pick"), WHATSAPP, "Green", NOW, {},
                    payload="x/y", translate=as_written)  # fmt: skip
    assert ("picked", "green") in _answers(orders, result)


@pytest.mark.parametrize(
    ("payload", "topic"), [("more/button/1", "menu"), ("more/button/2", "done")]
)
def test_a_tapped_written_button_means_what_it_says(flows, payload, topic):
    session = waiting_at("know_your_rights", "more")
    view = ContactView(language="es", channel="whatsapp")
    result = handle(flows, session, view, "Menú", NOW, VARIABLES, payload=payload)
    if topic == "menu":
        assert result.session.step_id == "menu"
    else:
        assert result.session is None


def test_rsvp_by_tapping_in_spanish(flows):
    view = ContactView(language="es", channel="whatsapp")
    event = {  # what an event's keyword starts the RSVP flow with (bot.broadcasts.events)
        "event": 7,
        "event_name_es": "Cumbre por la Paz",
        "event_place_es": "Ciudad Juárez",
        "event_date_es": "sábado 6 de junio, 10:00 a.m.",
        "event_keyword_es": "CUMBRE",
    }
    started = start(flows, "summit_rsvp", view, NOW, VARIABLES, answers=event)
    ids = [o.id for o in started.outputs[-1].interactive.options]
    assert ids == ["ask_rsvp/yes", "ask_rsvp/no", "ask_rsvp/maybe"]
    result = handle(flows, started.session, view, "Tal vez", NOW, VARIABLES, payload=ids[2])
    assert RecordRsvp("summit_rsvp", 7, "maybe") in result.effects


def test_join_causes_by_tapping_a_list_row(flows):
    session = waiting_at("join", "ask_causes")
    view = ContactView(language="en", channel="whatsapp")
    result = handle(flows, session, view, "Gun trafficking", NOW, VARIABLES,
                    payload="ask_causes/gun_trafficking")  # fmt: skip
    assert "Thank you!" in result.outputs[0].text
