"""bot.channels.twilio: the real twilio client against the fake on a localhost port."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.serving import make_server

from bot.channels import twilio
from bot.channels.errors import Consequence, classify_error, retry_limit
from bot.channels.fake_twilio import FakeTwilio, Rule, run_fake_twilio, stop_fake_twilio
from tests import paths
from tests.channels.twilio_cases import (
    ERROR_CASES,
    HX_SID,
    MG_SID,
    MX_WA,
    SMS_FROM,
    STATUS_URL,
    TOKEN,
    US,
    WA_FROM,
    only_message,
)

FIXTURES = paths.FIXTURES / "twilio"


# -- sending ----------------------------------------------------------------


def test_sms_is_sent_from_the_sms_number(fake: FakeTwilio, sender: twilio.Sender) -> None:
    result = twilio.send(sender, US, "Hola, ¿cómo estás?")
    assert result.ok
    assert result.consequence is Consequence.NONE and not result.retryable
    assert result.sid and result.sid.startswith("SM") and len(result.sid) == 34
    assert result.status == "queued" and result.http_status == 201
    sent = only_message(fake)
    assert (sent["sid"], sent["to"], sent["from"]) == (result.sid, US, SMS_FROM)
    assert sent["body"] == "Hola, ¿cómo estás?"
    assert sent["messaging_service_sid"] is None


def test_whatsapp_is_sent_from_the_whatsapp_sender(fake: FakeTwilio, sender: twilio.Sender) -> None:
    assert twilio.send(sender, MX_WA, "Hola").ok
    sent = only_message(fake)
    assert (sent["to"], sent["from"]) == (MX_WA, WA_FROM)


def test_whatsapp_sender_without_prefix_gets_it(fake: FakeTwilio, sender: twilio.Sender) -> None:
    sender = dataclasses.replace(sender, whatsapp_from="+15125550101")
    assert twilio.send(sender, MX_WA, "Hola").ok
    assert only_message(fake)["from"] == WA_FROM


@pytest.mark.parametrize("to", [US, MX_WA])
def test_messaging_service_takes_precedence(
    fake: FakeTwilio, sender: twilio.Sender, to: str
) -> None:
    sender = dataclasses.replace(sender, messaging_service_sid=MG_SID)
    result = twilio.send(sender, to, "Hola")
    assert result.ok and result.status == "accepted"
    sent = only_message(fake)
    assert sent["messaging_service_sid"] == MG_SID
    assert sent["from"] is None


def test_media_urls(fake: FakeTwilio, sender: twilio.Sender) -> None:
    urls = ["https://puente.example.org/m/flyer.png", "https://puente.example.org/m/map.jpg"]
    assert twilio.send(sender, US, None, media_urls=urls).ok
    sent = only_message(fake)
    assert sent["media_urls"] == urls
    assert sent["body"] == "" and sent["num_media"] == "2"


def test_content_sid_and_variables_as_json(fake: FakeTwilio, sender: twilio.Sender) -> None:
    variables = {"1": "Ana María", "2": "sábado 10:00"}
    assert twilio.send(sender, MX_WA, None, content_sid=HX_SID, content_variables=variables).ok
    sent = only_message(fake)
    assert sent["content_sid"] == HX_SID
    assert sent["content_variables"] == variables


def test_content_variables_are_a_json_string(sender: twilio.Sender) -> None:
    params = twilio.message_params(sender, MX_WA, None, (), HX_SID, {"1": "Ñoño", 2: "x"})
    assert isinstance(params["content_variables"], str)
    assert json.loads(params["content_variables"]) == {"1": "Ñoño", "2": "x"}


def test_status_callback_is_always_sent(fake: FakeTwilio, sender: twilio.Sender) -> None:
    twilio.send(sender, US, "uno")
    twilio.send(sender, MX_WA, "dos")
    twilio.send(dataclasses.replace(sender, messaging_service_sid=MG_SID), US, "tres")
    assert [m["status_callback"] for m in fake.outbox()] == [STATUS_URL] * 3


# -- errors -----------------------------------------------------------------


@pytest.mark.parametrize(("code", "http_status", "consequence", "retryable"), ERROR_CASES)
def test_injected_error_maps_to_consequence(
    fake: FakeTwilio,
    sender: twilio.Sender,
    code: int,
    http_status: int,
    consequence: Consequence,
    retryable: bool,
) -> None:
    fake.add_rule(Rule(to=US, code=code, http_status=http_status, message=f"boom {code}"))
    result = twilio.send(sender, US, "Hola")
    assert (result.consequence, result.retryable) == (consequence, retryable)
    assert (result.error_code, result.http_status) == (code, http_status)
    assert result.error_message == f"boom {code}"
    assert result.sid is None and not result.ok
    assert fake.outbox() == []


def test_http_429_without_code_is_20429(fake: FakeTwilio, sender: twilio.Sender) -> None:
    fake.add_rule(Rule.from_json({"to": "*", "http_status": 429}))
    result = twilio.send(sender, MX_WA, "Hola")
    assert (result.error_code, result.http_status, result.consequence) == (
        20429,
        429,
        Consequence.RETRY,
    )
    assert result.retryable


def test_rule_for_another_number_does_not_apply(fake: FakeTwilio, sender: twilio.Sender) -> None:
    fake.add_rule(Rule(to="+15125550199", code=21610))
    assert twilio.send(sender, US, "Hola").ok


def test_connection_refused_is_retryable(sender: twilio.Sender) -> None:
    with socket.socket() as held:  # bound, not listening: refused, and no one else can take it
        held.bind(("127.0.0.1", 0))
        sender = dataclasses.replace(sender, api_url=f"http://127.0.0.1:{held.getsockname()[1]}")
        try:
            result = twilio.send(sender, US, "Hola")
        finally:
            twilio.close_clients()
    assert (result.consequence, result.retryable, result.http_status) == (
        Consequence.RETRY,
        True,
        None,
    )
    assert result.sid is None and result.error_message


def test_timeout_after_sending_is_unknown_fate(sender: twilio.Sender) -> None:
    # The answer comes long after the 0.2 s timeout, however late the client gets to read.
    srv, thread, base_url = run_fake_twilio(auth_token=TOKEN, latency_s=5.0)
    slow = dataclasses.replace(sender, api_url=base_url, timeout_s=0.2)
    try:
        result = twilio.send(slow, US, "Hola")
    finally:
        twilio.close_clients()
        stop_fake_twilio(srv, thread)
    assert (result.consequence, result.retryable) == (Consequence.UNKNOWN_FATE, False)
    assert result.sid is None and result.http_status is None


def test_unreadable_success_is_unknown_fate(sender: twilio.Sender) -> None:
    def app(environ: dict, start_response: Callable) -> list[bytes]:
        start_response("201 Created", [("Content-Type", "text/html")])
        return [b"<html>proxy page</html>"]

    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}"
        result = twilio.send(dataclasses.replace(sender, api_url=url), US, "Hola")
    finally:
        twilio.close_clients()
        srv.shutdown()
        thread.join()
        srv.server_close()
    assert (result.consequence, result.retryable, result.sid) == (
        Consequence.UNKNOWN_FATE,
        False,
        None,
    )


def test_wrong_token_is_a_permanent_failure(fake: FakeTwilio, sender: twilio.Sender) -> None:
    result = twilio.send(dataclasses.replace(sender, auth_token="wrong"), US, "Hola")
    assert (result.http_status, result.error_code) == (401, 20003)
    assert (result.consequence, result.retryable) == (Consequence.PERMANENT_FAILURE, False)


# -- conditional rules ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "kwargs", "match"),
    [
        ({}, {"body": None}, "body, media_urls or content_sid"),
        ({}, {"body": ""}, "body, media_urls or content_sid"),
        ({"sms_from": None}, {}, "sms_from"),
        ({"whatsapp_from": None}, {"to": MX_WA}, "whatsapp_from"),
        ({}, {"content_variables": {"1": "x"}}, "content_sid"),
        ({}, {"media_urls": [f"https://e.example/{i}.png" for i in range(11)]}, "at most 10"),
        ({"status_callback_url": None}, {}, "status_callback_url"),
        ({}, {"to": ""}, "'to'"),
    ],
)
def test_conditional_rules_raise_value_error(
    fake: FakeTwilio, sender: twilio.Sender, changes: dict, kwargs: dict, match: str
) -> None:
    args = {"to": US, "body": "Hola"} | kwargs
    with pytest.raises(ValueError, match=match):
        twilio.send(dataclasses.replace(sender, **changes), **args)
    assert fake.outbox() == []


def test_messaging_service_alone_is_enough(fake: FakeTwilio, sender: twilio.Sender) -> None:
    sender = dataclasses.replace(
        sender, sms_from=None, whatsapp_from=None, messaging_service_sid=MG_SID
    )
    assert twilio.send(sender, MX_WA, "Hola").ok


# -- error table --------------------------------------------------------------


def test_classify_error_prefers_the_code() -> None:
    assert classify_error(21610, 400) == (Consequence.OPTED_OUT, False)
    assert classify_error(21610, None) == (Consequence.OPTED_OUT, False)  # status callback
    assert classify_error(None, 429) == (Consequence.RETRY, True)
    assert classify_error(None, 502) == (Consequence.RETRY, True)
    assert classify_error(12345, 400) == (Consequence.PERMANENT_FAILURE, False)
    assert classify_error(None, None) == (Consequence.PERMANENT_FAILURE, False)


def test_retry_limits() -> None:
    assert retry_limit(30003) == 3
    assert retry_limit(20429) is None
    assert retry_limit(None) is None


# -- client -----------------------------------------------------------------


def test_client_is_cached_and_points_at_api_url(sender: twilio.Sender) -> None:
    try:
        client = twilio.make_client(sender)
        assert twilio.make_client(dataclasses.replace(sender)) is client
        assert client.api.base_url == sender.api_url
        other = dataclasses.replace(sender, api_url=sender.api_url + "/")
        assert twilio.make_client(other) is not client
        assert twilio.make_client(other).api.base_url == sender.api_url
    finally:
        twilio.close_clients()


def test_real_twilio_when_api_url_is_none(sender: twilio.Sender) -> None:
    try:
        client = twilio.make_client(dataclasses.replace(sender, api_url=None))
        assert client.api.base_url == "https://api.twilio.com"
    finally:
        twilio.close_clients()


# -- privacy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("whatsapp:+5215512345678", "whatsapp:…5678"),
        ("+525512345678", "…5678"),
        ("+15125550142", "…0142"),
        ("", "…"),
    ],
)
def test_mask_phone(address: str, masked: str) -> None:
    from bot.phones import mask

    assert mask(address) == masked


def test_logs_hide_number_and_body(
    fake: FakeTwilio, sender: twilio.Sender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # a send Twilio accepted is logged at DEBUG
    fake.add_rule(Rule(to=MX_WA, code=63016))
    twilio.send(sender, US, "Mensaje secreto")
    twilio.send(sender, MX_WA, "Otro mensaje secreto")
    text = caplog.text
    assert "…0142" in text and "whatsapp:…5678" in text
    assert "5125550142" not in text and "5512345678" not in text
    assert "secreto" not in text


# -- signatures -------------------------------------------------------------


def load_fixture(name: str) -> dict[str, str]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_signature_valid_and_invalid() -> None:
    url = "https://puente.example.org/twilio/messages"
    params = load_fixture("sms_spanish_accents.json")
    signature = twilio.compute_signature(TOKEN, url, params)
    assert twilio.validate_signature(TOKEN, url, params, signature)
    assert twilio.validate_signature(TOKEN, url, MultiDict(params), signature)
    assert not twilio.validate_signature("other-token", url, params, signature)
    assert not twilio.validate_signature(TOKEN, url, params | {"Body": "ALTO"}, signature)
    assert not twilio.validate_signature(TOKEN, url, params, None)
    assert not twilio.validate_signature(TOKEN, url, params, "")


def test_signature_fails_on_scheme_mismatch() -> None:
    """Behind a TLS proxy the app sees http://; Twilio signed https://."""
    params = load_fixture("whatsapp_text.json")
    public = "https://puente.example.org/twilio/messages"
    signature = twilio.compute_signature(TOKEN, public, params)
    assert not twilio.validate_signature(
        TOKEN, "http://puente.example.org/twilio/messages", params, signature
    )
    assert twilio.validate_signature(
        TOKEN, "https://puente.example.org:443/twilio/messages", params, signature
    )


def test_signature_covers_repeated_values() -> None:
    url = "https://puente.example.org/twilio/messages"
    params = MultiDict([("Body", "hola"), ("MediaUrl", "a"), ("MediaUrl", "b")])
    signature = twilio.compute_signature(TOKEN, url, params)
    assert twilio.validate_signature(TOKEN, url, params, signature)
    changed = MultiDict([("Body", "hola"), ("MediaUrl", "a"), ("MediaUrl", "c")])
    assert not twilio.validate_signature(TOKEN, url, changed, signature)


# -- TwiML ------------------------------------------------------------------


def test_twiml_empty_reply() -> None:
    root = ET.fromstring(twilio.twiml_reply([]))
    assert root.tag == "Response" and list(root) == []


def test_twiml_messages_with_body_and_media() -> None:
    xml = twilio.twiml_reply(
        [
            ("¡Bienvenida! Responde AYUDA <ayuda> & más", []),
            ("Mapa", ["https://puente.example.org/m/map.png"]),
            ("", ["https://puente.example.org/m/a.png", "https://puente.example.org/m/b.png"]),
        ]
    )
    root = ET.fromstring(xml)
    messages = root.findall("Message")
    assert len(messages) == 3
    assert messages[0].findtext("Body") == "¡Bienvenida! Responde AYUDA <ayuda> & más"
    assert messages[0].findall("Media") == []
    assert messages[1].findtext("Body") == "Mapa"
    assert [m.text for m in messages[1].findall("Media")] == [
        "https://puente.example.org/m/map.png"
    ]
    assert messages[2].find("Body") is None
    assert len(messages[2].findall("Media")) == 2


# -- fixtures ---------------------------------------------------------------

FIXTURE_NAMES = [
    "sms_text.json",
    "sms_spanish_accents.json",
    "sms_media.json",
    "whatsapp_text.json",
    "whatsapp_media.json",
    "whatsapp_location.json",
    "whatsapp_button.json",
    "sms_stop_with_optouttype.json",
    "status_delivered.json",
    "status_failed_21610.json",
]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_is_a_twilio_form(name: str) -> None:
    params = load_fixture(name)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
    assert params["AccountSid"].startswith("AC") and len(params["AccountSid"]) == 34
    assert params["MessageSid"][:2] in ("SM", "MM") and len(params["MessageSid"]) == 34
    if name.startswith("whatsapp"):
        assert params["From"] == MX_WA and params["WaId"] == "5215512345678"
        assert params["MessageType"]
