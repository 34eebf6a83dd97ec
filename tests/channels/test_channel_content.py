"""`bot.channels.twilio`'s Content API calls, with the real twilio-python client against the
local fake: a question's buttons or list made once as a content, fetched back, sent by
its ContentSid; a refusal or an unreachable API is None, never an exception."""

from __future__ import annotations

import dataclasses

from bot.channels import twilio
from bot.channels.fake_twilio import FakeTwilio, Rule
from bot.flows.turn import LIST_PICKER, QUICK_REPLY, Interactive, Option
from tests.channels.twilio_cases import MX_WA

RSVP = Interactive(
    QUICK_REPLY,
    "Will you come?",
    (Option("ask_rsvp/yes", "Yes"), Option("ask_rsvp/no", "No"), Option("ask_rsvp/maybe", "Maybe")),
)
TOPICS = Interactive(
    LIST_PICKER,
    "Choose a topic:",
    tuple(Option(f"menu/t{n}", f"Topic {n}", "Its long label" if n == 1 else "") for n in range(5)),
    "Choose",
)


def test_quick_replies_become_a_content_with_its_text(fake: FakeTwilio, sender) -> None:
    types = twilio.content_types(RSVP, "Will you come?\n1. Yes\n2. No\n3. Maybe")
    sid = twilio.create_content(sender, "puente_rsvp", "es", types)
    assert sid is not None and sid.startswith("HX") and len(sid) == 34
    stored = fake.find_content(sid)
    assert stored["language"] == "es"
    assert stored["types"]["twilio/quick-reply"]["actions"] == [
        {"id": "ask_rsvp/yes", "title": "Yes"},
        {"id": "ask_rsvp/no", "title": "No"},
        {"id": "ask_rsvp/maybe", "title": "Maybe"},
    ]
    assert stored["types"]["twilio/text"]["body"].endswith("3. Maybe")


def test_a_list_picker_has_its_button_and_rows(fake: FakeTwilio, sender) -> None:
    sid = twilio.create_content(sender, "puente_topics", "en", twilio.content_types(TOPICS, "x"))
    picker = fake.find_content(sid)["types"]["twilio/list-picker"]
    assert picker["button"] == "Choose"
    assert picker["items"][0] == {"id": "menu/t0", "item": "Topic 0"}  # no empty description
    assert picker["items"][1]["description"] == "Its long label"


def test_fetch_reads_a_content_back(fake: FakeTwilio, sender) -> None:
    sid = twilio.create_content(sender, "puente_rsvp", "en", twilio.content_types(RSVP, "x"))
    fetched = twilio.fetch_content(sender, sid)
    assert fetched["sid"] == sid and fetched["language"] == "en"
    assert "twilio/quick-reply" in fetched["types"]
    assert twilio.fetch_content(sender, "HX" + "0" * 32) is None  # gone: None, not an error


def test_a_refusal_or_a_server_error_is_none(fake: FakeTwilio, sender) -> None:
    fake.add_rule(Rule(to="content", code=20500, http_status=500, times=1))
    assert twilio.create_content(sender, "x", "en", twilio.content_types(RSVP, "x")) is None
    too_many = dataclasses.replace(RSVP, options=RSVP.options + (Option("ask_rsvp/x", "Four"),))
    assert twilio.create_content(sender, "x", "en", twilio.content_types(too_many, "x")) is None
    assert twilio.create_content(sender, "x", "en", twilio.content_types(RSVP, "x")) is not None


def test_an_unreachable_content_api_is_none(sender) -> None:
    nowhere = dataclasses.replace(sender, api_url="http://127.0.0.1:9", timeout_s=2.0)
    assert twilio.create_content(nowhere, "x", "en", twilio.content_types(RSVP, "x")) is None


def test_a_send_by_content_sid_carries_the_content_in_the_outbox(fake: FakeTwilio, sender) -> None:
    sid = twilio.create_content(sender, "puente_rsvp", "es", twilio.content_types(RSVP, "x"))
    result = twilio.send(sender, MX_WA, None, content_sid=sid)
    assert result.ok
    sent = fake.outbox()[-1]
    assert sent["content_sid"] == sid
    assert sent["content"]["twilio/quick-reply"]["body"] == "Will you come?"
