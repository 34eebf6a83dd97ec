"""`puente flows check`: each kind of broken flow is reported with its file, line and step.

Broken flows live in tests/flows_broken/<kind>/; the shipped flows in flows/ must be
clean, translated in every language, and their catalogs up to date.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import i18n
from bot.flows import steps
from bot.flows.check import check_flows, load_checked_flows, segment_counts
from bot.flows.engine import ContactView, handle
from bot.flows.extract import build_template, extract_flows, read_catalog, update_catalogs
from bot.flows.loader import FlowError, load_flows, read_flows
from bot.flows.steps.ask import BUILTIN_TEXTS, matcher_choices
from bot.flows.turn import FlowRun
from tests.paths import FLOWS, TESTS

BROKEN = TESTS / "flows_broken"
NOW = datetime(2026, 5, 13, 15, 0, tzinfo=UTC)
CONFIGURED = {
    "org_name": "Puente",
    "legal_help": "LEGAL-HELP-CONTACT",
    "event_name": "Cumbre",
    "event_place": "Ciudad Juárez",
    "event_date": "June 6",
}


@pytest.mark.parametrize(
    ("kind", "severity", "expected"),
    [
        ("unknown_type", "error",
         "unknown_type.yaml:8: step 'ask_zip': unknown step type 'aks', did you mean 'ask'?"),
        ("dangling", "error", "dangling.yaml:7: step 'hello': goes to unknown step 'goodbye'"),
        ("dangling", "error", "dangling.yaml:12: step 'route': goes to unknown step 'nowhere'"),
        ("unreachable", "error",
         "unreachable.yaml:9: step 'orphan': unreachable: no step leads here"),
        ("duplicate_keyword", "error",
         "second.yaml:2: keyword 'JOIN' is also a trigger of 'first'"),
        ("duplicate_step", "error",
         "duplicate_step.yaml:7: step 'hello': duplicate step id 'hello'"),
        ("schema", "error", "schema.yaml:3: 'expire_after' 'soon' is not a duration like 23h"),
        ("schema", "error", "schema.yaml:4: unknown key 'colour'"),
        ("schema", "error", "schema.yaml:6: step 'hello': send needs 'text'"),
        ("schema", "error",
         "schema.yaml:8: step 'hello': unknown key 'txt' for send, did you mean 'text'?"),
        ("schema", "error", "schema.yaml:9: step 'ask': expect: choice needs 'choices'"),
        ("schema", "error", "schema.yaml:9: step 'ask': 'max_reasks' must be a whole number"),
        ("schema", "error", "schema.yaml:14: step #3 needs an 'id'"),
        ("bad_expect", "error", "bad_expect.yaml:4: step 'ask_zip': unknown expect 'zipcode'"),
        ("bad_yaml", "error",
         "bad_yaml.yaml:8: not valid YAML: found unexpected end of stream "
         "(while scanning a quoted scalar at line 6)"),
        ("loop", "error",
         "loop.yaml:4: step 'hello': loops without asking anything: hello -> again -> hello"),
        ("placeholder", "error", "placeholder.yaml:8: step 'hello': unknown placeholder {orgname}"),
        ("reserved_keyword", "error",
         "reserved_keyword.yaml:3: keyword 'HELP' is taken by the compliance keywords (help)"),
        ("reserved_keyword", "error",
         "reserved_keyword.yaml:4: keyword 'BAJA' is taken by the compliance keywords (opt_out)"),
        ("unknown_flow", "error",
         "unknown_flow.yaml:9: step 'jump': goes to unknown flow 'nowhere'"),
        ("missing_translation", "error",
         "missing_translation.yaml:6: step 'hello': es: 'This sentence is in no catalog.' "
         "is missing from the catalog"),
        ("ucs2", "warning",
         "ucs2.yaml:6: step 'invite': warning: en message is UCS-2 because of á: "
         "3 SMS segments instead of 1"),
        ("choice_words", "warning",
         "choice_words.yaml:3: warning: on WhatsApp a wait ends after 23h50m"),
        ("choice_words", "warning",
         "choice_words.yaml:9: step 'ask_more': warning: choice word 'salir' never arrives: "
         "compliance takes it (opt_out)"),
        ("choice_words", "warning",
         "choice_words.yaml:9: step 'ask_more': warning: choice word 'words' starts flow "
         "'choice_words' instead"),
        ("unclosed_mark", "warning",
         "unclosed_mark.yaml:6: step 'hello': warning: en message has an unclosed * (bold): "
         "it is shown as typed"),
        ("long_button", "error",
         "long_button.yaml:7: step 'hello': es button 'Absolutely, count me in!' "
         "is over 20 characters"),
    ],
)  # fmt: skip
def test_broken_flow_is_reported_where_it_is(kind, severity, expected):
    problems = check_flows(BROKEN / kind)
    found = [p for p in problems if expected in str(p)]
    assert found, f"{expected!r} not in:\n" + "\n".join(map(str, problems))
    assert found[0].severity == severity
    assert (
        str(found[0]).startswith(str(Path("tests/flows_broken") / kind))
        or Path(found[0].file).is_absolute()
    )


def test_a_list_row_too_long_in_one_language_is_an_error_for_that_language():
    folder = BROKEN / "long_list_row"
    problems = [str(p) for p in check_flows(folder, messages_dir=folder / "messages")]
    expected = (
        "long_list_row.yaml:8: step 'pick': es list row 'Agentes de inmigración en tu puerta' "
        "is over 24 characters (give the choice a 'short' label)"
    )
    assert [p for p in problems if p.endswith(expected)], "\n".join(problems)
    assert not [p for p in problems if "en list row" in p]  # English fits
    assert str(Path("tests/flows_broken/long_list_row")) in problems[0]


@pytest.mark.parametrize(
    ("expected"),
    [
        "bad_translation.yaml:7: step 'hello': es: the translation of 'Welcome to {org_name}!' "
        "must keep the same {placeholders}",
        "bad_translation.yaml:10: step 'fuzzy': es: 'See you soon.' is fuzzy",
        "flows.po:1: built-in text: es: 'Yes' is missing from the catalog",
    ],
)
def test_catalog_problems(expected):
    folder = BROKEN / "bad_translation"
    problems = check_flows(folder, messages_dir=folder / "messages")
    assert any(expected in str(p) and p.severity == "error" for p in problems), "\n".join(
        map(str, problems)
    )


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("error",
         "step_translation.yaml:9: step 'thanks_rsvp': es: 'Thank you!' is missing from the "
         'catalog (msgctxt "step_translation/thanks_rsvp/text"; run python -m bot.flows.extract)'),
        ("error",
         "step_translation.yaml:12: step 'ask_more': es: 'Anything else?' is not translated "
         '(msgctxt "step_translation/ask_more/text")'),
        ("warning",
         str(Path("es") / "LC_MESSAGES" / "flows.po") + ":17: warning: es: stale entry "
         "'Thank you!' (msgctxt \"step_translation/thanks_old/text\"): no step of flow "
         "'step_translation' has this text; run python -m bot.flows.extract to drop it"),
    ],
)  # fmt: skip
def test_each_step_needs_its_own_translation(severity, expected):
    """Another step's entry for the same English text does not translate this one."""
    folder = BROKEN / "step_translation"
    problems = check_flows(folder, messages_dir=folder / "messages")
    found = [p for p in problems if expected in str(p)]
    assert found, f"{expected!r} not in:\n" + "\n".join(map(str, problems))
    assert found[0].severity == severity
    assert not any(p.step_id == "thanks_join" for p in problems)  # its own entry is there


SAME_TEXT = """\
flow: thanks
triggers: {en: [THANKS], es: [GRACIAS]}
steps:
  - id: thanks_join
    type: send
    text: Thank you!
  - id: ask_rsvp
    type: ask
    text: Coming on Saturday?
    expect: yes_no
  - id: thanks_rsvp
    type: send
    text: Thank you!
"""


def _translate_po(path: Path, spanish: dict[str, str]) -> None:
    """What a translator does: fill the msgstr of each entry, found by its msgctxt."""
    text = path.read_text(encoding="utf-8")
    for context, translation in spanish.items():
        entry = f'msgctxt "{context}"\n'
        start = text.index(entry)
        empty = text.index('msgstr ""', start)
        text = text[:empty] + f'msgstr "{translation}"' + text[empty + len('msgstr ""') :]
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def same_text(tmp_path, monkeypatch):
    """A flow whose two steps say "Thank you!", extracted into catalogs of its own."""
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "thanks.yaml").write_text(SAME_TEXT, encoding="utf-8")
    messages = tmp_path / "messages"
    update_catalogs(messages_dir=messages, root=tmp_path)
    monkeypatch.setattr(i18n, "MESSAGES_DIR", messages)
    i18n.reload()
    yield tmp_path
    monkeypatch.undo()
    i18n.reload()


def test_two_steps_with_the_same_english_text_read_differently_in_spanish(same_text):
    po = same_text / "messages" / "es" / "LC_MESSAGES" / "flows.po"
    entries = [(m.context, m.id) for m in read_catalog("es", same_text / "messages") if m.id]
    assert entries == [
        ("thanks/thanks_join/text", "Thank you!"),
        ("thanks/ask_rsvp/text", "Coming on Saturday?"),
        ("thanks/thanks_rsvp/text", "Thank you!"),
    ]
    _translate_po(
        po,
        {
            "thanks/thanks_join/text": "¡Gracias por unirte!",
            "thanks/ask_rsvp/text": "¿Vienes el sábado?",
            "thanks/thanks_rsvp/text": "¡Gracias por confirmar!",
        },
    )
    i18n.reload()
    problems = check_flows(same_text / "flows", messages_dir=same_text / "messages")
    in_the_flow = [p for p in problems if Path(p.file).name == "thanks.yaml"]
    assert [str(p) for p in in_the_flow if p.severity == "error"] == []

    flows = load_flows(same_text / "flows")
    contact = ContactView(language="es")
    first = handle(flows, None, contact, "GRACIAS", NOW, {})
    assert [o.text for o in first.outputs] == ["¡Gracias por unirte!", "¿Vienes el sábado?"]
    second = handle(flows, first.session, contact, "sí", NOW, {})
    assert [o.text for o in second.outputs] == ["¡Gracias por confirmar!"]
    english = handle(flows, None, ContactView(language="en"), "THANKS", NOW, {})
    assert [o.text for o in english.outputs] == ["Thank you!", "Coming on Saturday?"]


def test_a_catalog_keyed_by_the_english_text_keeps_its_translations(same_text):
    """Catalogs from before contexts: each step starts from the Spanish its text had."""
    po = same_text / "messages" / "es" / "LC_MESSAGES" / "flows.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Thank you!"\nmsgstr "¡Gracias!"\n\n'
        '#, fuzzy\nmsgid "Coming on Saturday?"\nmsgstr "¿Vienes?"\n',
        encoding="utf-8",
    )
    update_catalogs(messages_dir=same_text / "messages", root=same_text)
    catalog = read_catalog("es", same_text / "messages")
    entries = {(m.context, m.id): (m.string, m.fuzzy) for m in catalog if m.id}
    assert entries == {
        ("thanks/thanks_join/text", "Thank you!"): ("¡Gracias!", False),
        ("thanks/ask_rsvp/text", "Coming on Saturday?"): ("¿Vienes?", True),  # still to check
        ("thanks/thanks_rsvp/text", "Thank you!"): ("¡Gracias!", False),
    }


def test_every_text_a_step_shows_has_its_own_entry():
    """What the steps translate at run time is exactly what the extractor wrote down."""
    flowset, _ = read_flows(FLOWS)
    asked = set()

    def recording(lang, context, msgid):
        asked.add((context, msgid))
        return msgid

    for lang in i18n.LANGUAGES:
        for flow in flowset:
            turn = FlowRun(flowset, flow, ContactView(language=lang), NOW, CONFIGURED, recording)
            for step in flow.steps:
                if step.config.get("expect") == "choice":
                    matcher_choices(step, turn)
                for _, output in steps.REGISTRY[step.type].previews(step, turn):
                    assert output.text
    template = {(m.context, m.id) for m in build_template() if m.id}
    assert {key for key in asked if key[0]} <= template
    assert {key for key in asked if not key[0]} <= {(None, t) for t in BUILTIN_TEXTS}
    assert {key for key in template if key[0]} <= asked  # nothing extracted goes unused


def test_a_missing_catalog_is_an_error(tmp_path):
    problems = check_flows(BROKEN / "unreachable", messages_dir=tmp_path)
    assert any("no es catalog: run python -m bot.flows.extract" in str(p) for p in problems)


def test_the_app_refuses_a_broken_flow_saying_why():
    with pytest.raises(FlowError) as raised:
        load_flows(BROKEN / "unknown_type")
    assert str(raised.value).endswith(
        "unknown_type.yaml:8: step 'ask_zip': unknown step type 'aks', did you mean 'ask'? "
        "(one of: ask, branch, end, goto, opt_in, poll_answer, report, rsvp, send, set_field, "
        "set_language, sign, tag)"
    )
    assert (raised.value.line, raised.value.step_id) == (8, "ask_zip")
    with pytest.raises(FlowError, match="is missing from the catalog"):
        load_checked_flows(BROKEN / "missing_translation")


def test_the_shipped_flows_are_clean():
    errors = [p for p in check_flows(FLOWS, variables=CONFIGURED) if p.severity == "error"]
    assert errors == []
    assert sorted(load_checked_flows(FLOWS, variables=CONFIGURED).flows) == [
        "join",
        "know_your_rights",
        "petition",
        "poll",
        "report",
        "summit_rsvp",
    ]


def test_required_variables_must_be_configured():
    problems = check_flows(FLOWS, variables={"org_name": "Puente"})
    messages = {str(p) for p in problems if p.severity == "error"}
    assert any("know_your_rights.yaml:13: variable 'legal_help' is required" in m for m in messages)
    assert not any("kyr_media_url" in m for m in messages)  # optional
    assert not any("summit_rsvp" in m for m in messages)  # its event comes from the database


def test_every_flow_text_is_in_every_catalog():
    flowset, _ = read_flows(FLOWS)
    template = build_template()
    template_ids = {m.id for m in template if m.id}
    template_keys = {(m.context, m.id) for m in template if m.id}
    for lang in i18n.LANGUAGES:
        catalog = read_catalog(lang)
        ids = {m.id for m in catalog if m.id}
        assert template_ids == ids, f"{lang}: run python -m bot.flows.extract"
        keys = {(m.context, m.id) for m in catalog if m.id}
        assert template_keys == keys, f"{lang}: run python -m bot.flows.extract"
    assert set(BUILTIN_TEXTS) <= template_ids
    assert i18n.missing_translations("flows") == []


@pytest.mark.parametrize("lang", ["es"])
def test_spanish_is_really_spanish(lang):
    catalog = read_catalog(lang)
    for message in catalog:
        if message.id and message.id not in ("No",):
            assert message.string and message.string != message.id, message.id
            assert not message.fuzzy, message.id


def test_segments_per_language():
    flowset, _ = read_flows(FLOWS)
    counts = {(c.flow_id, c.step_id, c.what, c.lang): c for c in segment_counts(flowset)}
    english = counts[("join", "confirm", "message", "en")]
    spanish = counts[("join", "confirm", "message", "es")]
    assert (english.encoding, english.segments) == ("GSM-7", 1)
    assert spanish.encoding == "UCS-2" and spanish.segments > spanish.gsm7_segments
    assert set(spanish.ucs2_chars) == {"ó", "í"}
    goodbye = counts[("know_your_rights", "goodbye", "message", "es")]
    assert goodbye.encoding == "GSM-7"  # "Que estés bien": é is in GSM-7


def test_segments_are_counted_without_whatsapps_marks():
    """162 characters as written, 156 as SMS gets them: one segment, not two."""
    flowset, _ = read_flows(BROKEN / "unclosed_mark")
    counts = {(c.step_id, c.lang): c for c in segment_counts(flowset, ["en"])}
    assert (counts[("counted", "en")].segments, counts[("counted", "en")].encoding) == (1, "GSM-7")
    problems = [str(p) for p in check_flows(BROKEN / "unclosed_mark")]
    assert not any("'counted'" in p and "has an unclosed" in p for p in problems)


def test_the_extractor_gives_babel_every_text_with_its_line():
    path = FLOWS / "join.yaml"
    found = list(extract_flows(io.BytesIO(path.read_bytes()), ["_"], [], {}))
    by_text = {message: (line, comments) for line, _, (_, message), comments in found}
    contexts = {message: context for _, _, (context, message), _ in found}
    assert {keyword for _, keyword, _, _ in found} == {"pgettext"}  # (msgctxt, msgid)
    assert contexts["Welcome back, {name}!"] == "join/welcome_back/text"
    assert contexts["Human rights"] == "join/ask_causes/choice/human_rights"
    assert by_text["Welcome back, {name}!"] == (
        34,
        ["flow join, step welcome_back: message"],
    )
    assert by_text["Human rights"][1] == ["flow join, step ask_causes: choice"]
    assert "Please reply with numbers from the list, like 1 3, or ALL." in by_text
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[by_text["Human rights"][0] - 1].strip() == "label: Human rights"
