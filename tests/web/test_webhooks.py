"""The webhook as Twilio uses it: signatures, retries, payload shapes, status callbacks."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from bot.contacts.models import ConsentEvent, Contact
from bot.msgs.models import Message
from tests.settings import PUBLIC_URL
from tests.twilio_requests import fixture, inbound_params, post_signed, reply_bodies

US = "+12135550123"


def count(db, model, *where) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# --- signatures -----------------------------------------------------------------------


def test_valid_signature_is_accepted(client):
    response = post_signed(client, "/twilio/messages", inbound_params(US, "Hello"))
    assert response.status_code == 200
    assert response.mimetype == "application/xml"


@pytest.mark.parametrize(
    "forgery",
    [
        {"token": "wrong-token"},
        {"signed_url": "https://evil.example.org/twilio/messages"},
        {"signed_url": PUBLIC_URL.replace("https", "http") + "/twilio/messages"},
    ],
)
def test_forged_requests_get_403_and_change_nothing(client, db, forgery):
    response = post_signed(client, "/twilio/messages", inbound_params(US, "STOP"), **forgery)
    assert response.status_code == 403
    assert count(db, Message) == 0 and count(db, Contact) == 0


def test_missing_signature_gets_403(client, db):
    response = client.post("/twilio/messages", data=inbound_params(US, "STOP"))
    assert response.status_code == 403
    assert count(db, Message) == 0


def test_tampered_body_gets_403(client):
    params = inbound_params(US, "Hello")
    from bot.channels.twilio import compute_signature

    signature = compute_signature("test-auth-token", PUBLIC_URL + "/twilio/messages", params)
    params["Body"] = "STOP"
    response = client.post(
        "/twilio/messages", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403


def test_behind_a_tls_proxy_the_public_url_is_what_counts(client):
    # The app sees http://10.0.0.7:8000/... ; Twilio signed https://puente.example.org/...
    response = post_signed(
        client, "/twilio/messages", inbound_params(US, "Hello"), base_url="http://10.0.0.7:8000"
    )
    assert response.status_code == 200


def test_unknown_parameters_are_accepted_and_signed(client):
    params = inbound_params(US, "Hello", SomethingTwilioAddsLater="x", ChannelMetadata="{}")
    assert post_signed(client, "/twilio/messages", params).status_code == 200


def test_status_callback_needs_a_signature_too(client):
    response = client.post(
        "/twilio/status", data={"MessageSid": "SM1", "MessageStatus": "delivered"}
    )
    assert response.status_code == 403


def test_oversized_body_gets_413(client, db):
    params = inbound_params(US, "x" * 100_000)
    response = post_signed(client, "/twilio/messages", params)
    assert response.status_code == 413
    assert count(db, Message) == 0


# --- Twilio retries ------------------------------------------------------------------------


def test_a_retried_message_sid_gets_the_same_answer_and_no_second_effect(client, db):
    post_signed(client, "/twilio/messages", inbound_params(US, "Hello"))
    params = inbound_params(US, "STOP")
    first = post_signed(client, "/twilio/messages", params)
    again = post_signed(client, "/twilio/messages", params)
    assert first.status_code == again.status_code == 200
    assert reply_bodies(first.data) == reply_bodies(again.data) != []
    assert count(db, ConsentEvent, ConsentEvent.kind == "opt_out") == 1
    assert count(db, Message, Message.sid == params["MessageSid"]) == 1
    assert count(db, Message, Message.direction == "out") == 2  # welcome + one confirmation


def test_concurrent_copies_of_one_message_have_one_effect(app, db):
    post_signed(app.test_client(), "/twilio/messages", inbound_params(US, "Hello"))
    params = inbound_params(US, "HELP")
    barrier = threading.Barrier(4)
    answers: list[tuple[int, list[str]]] = []

    def deliver() -> None:
        client = app.test_client()
        barrier.wait()
        response = post_signed(client, "/twilio/messages", params)
        answers.append((response.status_code, reply_bodies(response.data)))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a[0] for a in answers] == [200] * 4
    assert all(a[1] == answers[0][1] and a[1] for a in answers)
    assert count(db, ConsentEvent, ConsentEvent.kind == "help") == 1
    assert count(db, Message, Message.sid == params["MessageSid"]) == 1


def test_first_messages_from_one_new_number_at_once_make_one_contact(app, db):
    barrier = threading.Barrier(3)
    codes: list[int] = []

    def deliver(body: str) -> None:
        barrier.wait()
        response = post_signed(app.test_client(), "/twilio/messages", inbound_params(US, body))
        codes.append(response.status_code)

    threads = [threading.Thread(target=deliver, args=(b,)) for b in ("Hola", "Hello", "hey")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200, 200, 200]
    assert count(db, Contact) == 1
    assert count(db, Message, Message.direction == "in") == 3


# --- real-shaped payloads ---------------------------------------------------------------------

FIXTURES = [
    # (fixture file, channel, contact phone, replies?)
    ("sms_text.json", "sms", None, True),
    ("sms_spanish_accents.json", "sms", None, True),
    ("sms_media.json", "sms", None, True),
    ("whatsapp_text.json", "whatsapp", "+525512345678", True),
    ("whatsapp_media.json", "whatsapp", None, True),
    ("whatsapp_location.json", "whatsapp", None, True),
    ("whatsapp_button.json", "whatsapp", None, True),
]


@pytest.mark.parametrize(("name", "channel", "phone", "replies"), FIXTURES)
def test_replay_real_payloads(client, db, name, channel, phone, replies):
    params = fixture(name)
    response = post_signed(client, "/twilio/messages", params)
    assert response.status_code == 200
    assert bool(reply_bodies(response.data)) is replies
    with db.session() as session:
        message = session.scalar(select(Message).where(Message.sid == params["MessageSid"]))
        assert message.channel == channel and message.direction == "in"
        assert message.body == params.get("Body", "")
        assert len(message.media) == int(params.get("NumMedia", 0))
        if params.get("NumMedia", "0") != "0":
            assert message.media[0]["url"] == params["MediaUrl0"]
        if "Latitude" in params:
            assert message.extra["Latitude"] == params["Latitude"]
        if "ButtonPayload" in params:
            assert message.extra["ButtonPayload"] == params["ButtonPayload"]
        if phone:
            assert session.get(Contact, message.contact_id).phone == phone


def test_stop_fixture_with_opt_out_type(client, db):
    params = fixture("sms_stop_with_optouttype.json")
    response = post_signed(client, "/twilio/messages", params)
    assert reply_bodies(response.data) == []
    assert count(db, Contact, Contact.status == "opted_out") == 1
