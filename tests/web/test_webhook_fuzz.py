"""Any signed request to either webhook gets a 2xx or a 4xx, never a 5xx.

Property-based (hypothesis): senders that are no phone number, fields of any
length and content, NumMedia that is no number or a huge one, unknown
statuses and error codes. The examples are derandomized so a run is the same
every time; PUENTE_FUZZ_EXAMPLES raises their number for a long local run.
Replayed fixtures of odd payloads pin down what each case gets.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.inbound import MAX_BODY, MAX_MEDIA, Inbound
from bot.msgs.models import Message
from tests.twilio_requests import fixture, inbound_params, new_sid, post_signed, reply_bodies

EXAMPLES = int(os.environ.get("PUENTE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # no timing in tests: a loaded machine is not a failure
    derandomize=not os.environ.get("PUENTE_FUZZ_RANDOM"),  # a long local run explores more
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text that a form can carry (no lone surrogates), from empty to long.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
LONG_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=2000, max_size=9000)
SENDERS = st.one_of(
    st.sampled_from(
        [
            "+12135550150",
            "whatsapp:+5215512340150",
            "+525512340150",
            "12345",  # a short code
            "+",
            "",
            "whatsapp:",
            "whatsapp:+",
            "messenger:1234567890",
            "rcs:puente_agent",
            "Puente",  # an alphanumeric sender
            "+1" + "9" * 60,
            "+1 (213) 555-0150",
        ]
    ),
    ANY_TEXT,
)
SIDS = st.one_of(st.just(None), st.builds(new_sid), ANY_TEXT, st.just("SM" + "a" * 80))
NUMBERS = st.one_of(
    st.sampled_from(["0", "1", "3", "10", "11", "-1", "1e9", "99999999999999", " 2", "abc"]),
    ANY_TEXT,
)


@st.composite
def inbound_forms(draw: st.DrawFn) -> dict[str, str]:
    params = inbound_params("+12135550150", "")
    params.pop("NumMedia")
    for name, value in (
        ("From", draw(SENDERS)),
        ("MessageSid", draw(SIDS)),
        ("Body", draw(st.one_of(ANY_TEXT, LONG_TEXT, st.sampled_from(["STOP", "JOIN", "1"])))),
        ("NumMedia", draw(st.one_of(st.none(), NUMBERS))),
        ("MediaUrl0", draw(st.one_of(st.none(), ANY_TEXT))),
        ("MediaContentType0", draw(st.one_of(st.none(), ANY_TEXT))),
        ("OptOutType", draw(st.one_of(st.none(), st.sampled_from(["STOP", "start", "x"])))),
        ("ProfileName", draw(st.one_of(st.none(), ANY_TEXT, LONG_TEXT))),
        ("ButtonPayload", draw(st.one_of(st.none(), ANY_TEXT))),
        ("Latitude", draw(st.one_of(st.none(), ANY_TEXT))),
        ("To", draw(st.one_of(st.none(), ANY_TEXT))),
    ):
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return params


@st.composite
def status_forms(draw: st.DrawFn) -> dict[str, str]:
    params: dict[str, str] = {"AccountSid": "AC" + "1" * 32, "ApiVersion": "2010-04-01"}
    for name, value in (
        ("MessageSid", draw(SIDS)),
        (
            "MessageStatus",
            draw(st.one_of(st.none(), st.sampled_from(["delivered", "FAILED", "read"]), ANY_TEXT)),
        ),
        ("ErrorCode", draw(st.one_of(st.none(), NUMBERS))),
        ("To", draw(st.one_of(st.none(), ANY_TEXT))),
    ):
        if value is not None:
            params[name] = value
    return params


@FUZZ
@given(params=inbound_forms())
def test_any_signed_inbound_message_gets_2xx_or_4xx(client, params):
    response = post_signed(client, "/twilio/messages", params)
    assert response.status_code in (200, 400), response.data[:300]


@FUZZ
@given(params=status_forms())
def test_any_signed_status_callback_gets_2xx_or_4xx(client, params):
    response = post_signed(client, "/twilio/status", params)
    assert response.status_code in (204, 400), response.data[:300]


# --- what each odd case gets ----------------------------------------------------

ODD = [
    # (fixture, status, replies, recorded as (channel, address) or None)
    ("odd_short_code.json", 200, 0, ("sms", "12345")),
    ("odd_messenger.json", 200, 0, ("messenger", "messenger:1234567890")),
    ("odd_rcs.json", 200, 0, ("rcs", "rcs:puente_agent")),
    ("odd_bare_plus.json", 200, 0, ("sms", "+")),
    ("odd_num_media_not_a_number.json", 200, 1, ("sms", "+12135550151")),
    ("odd_num_media_huge.json", 200, 1, ("sms", "+12135550152")),
    ("odd_nul_in_body.json", 200, 1, ("sms", "+12135550153")),
    ("odd_no_from.json", 400, 0, None),
    ("odd_no_sid.json", 400, 0, None),
]


@pytest.mark.parametrize(("name", "status", "replies", "recorded"), ODD)
def test_replay_odd_payloads(client, db, name, status, replies, recorded):
    params = fixture(name)
    response = post_signed(client, "/twilio/messages", params)
    assert response.status_code == status
    with db.session() as session:
        rows = session.scalars(select(Message).where(Message.direction == "in")).all()
        if recorded is None:
            assert rows == []
            return
        assert [(m.channel, m.address) for m in rows] == [recorded]
        assert len(rows[0].media) <= MAX_MEDIA and "\x00" not in rows[0].body
    assert len(reply_bodies(response.data)) == replies


def test_unsupported_sender_waits_in_the_inbox_without_a_contact(client, db):
    post_signed(client, "/twilio/messages", fixture("odd_short_code.json"))
    with db.session() as session:
        message = session.scalar(select(Message))
        assert message.contact_id is None and message.handled_by is None
        assert session.scalar(select(func.count()).select_from(Message)) == 1


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_inbox_shows_an_unsupported_sender_with_no_reply_form(client, sign_in, language):
    post_signed(client, "/twilio/messages", fixture("odd_messenger.json"))
    page = sign_in("admin", language).get("/dashboard/inbox/").get_data(as_text=True)
    expected = {"en": "Unsupported sender", "es": "Remitente no compatible"}[language]
    assert page.count(expected) == 2 and "hola" in page
    assert 'name="body"' not in page  # no reply form: Puente cannot answer it


STATUS_ODD = [
    ({"MessageStatus": "delivered", "ErrorCode": "abc"}, 204),
    ({"MessageStatus": "DELIVERED"}, 204),
    ({"MessageStatus": "teleported"}, 400),
    ({"MessageStatus": "x" * 500}, 400),
    ({"MessageStatus": ""}, 400),
    ({"MessageStatus": "failed", "ErrorCode": "30007"}, 204),
    ({"MessageStatus": "failed", "ErrorCode": "99999999999999"}, 204),  # PostgreSQL's integer
]


@pytest.mark.parametrize(("fields", "status"), STATUS_ODD)
def test_odd_status_callbacks(client, fields, status):
    params = {"MessageSid": new_sid(), "AccountSid": "AC" + "1" * 32, **fields}
    assert post_signed(client, "/twilio/status", params).status_code == status


def test_a_sid_too_long_for_its_column_is_refused(client):
    params = {"MessageSid": "SM" + "a" * 80, "MessageStatus": "sent"}
    assert post_signed(client, "/twilio/status", params).status_code == 400


def test_a_unique_key_other_than_the_sid_is_settled_by_handling_it_again(client, monkeypatch):
    """A row a concurrent message wrote first (their contact, an address): once more."""
    from sqlalchemy.exc import IntegrityError

    from bot import inbound

    handle, calls = inbound._receive, []  # noqa: SLF001

    def first_loses_a_race(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("INSERT INTO addresses", {}, Exception("unique"))
        return handle(*args, **kwargs)

    monkeypatch.setattr(inbound, "_receive", first_loses_a_race)
    response = post_signed(client, "/twilio/messages", inbound_params("+12135550155", "Hello"))
    assert response.status_code == 200 and len(calls) == 2
    assert "Welcome" in reply_bodies(response.data)[0]


# --- bounded memory: caps, not trust --------------------------------------------


def test_num_media_is_capped_at_twilios_ten():
    params = {"MessageSid": new_sid(), "From": "+12135550150", "NumMedia": "10000000000000"}
    params.update({f"MediaUrl{i}": f"https://api.twilio.com/m/{i}" for i in range(50)})
    assert len(Inbound.from_params(params).media) == MAX_MEDIA


@pytest.mark.parametrize("raw", ["abc", "-3", "", " ", "1.5", "٣"])
def test_num_media_that_is_no_number_counts_as_none(raw):
    params = {"MessageSid": new_sid(), "From": "+12135550150", "NumMedia": raw}
    assert Inbound.from_params(params).media == []


def test_every_field_is_cut_to_its_cap():
    huge = "x" * 100_000
    params = {
        "MessageSid": new_sid(),
        "From": "+12135550150",
        "Body": huge,
        "ProfileName": huge,
        "ButtonPayload": huge,
        "To": huge,
        "NumMedia": "1",
        "MediaUrl0": huge,
    }
    inbound = Inbound.from_params(params)
    assert len(inbound.body) == MAX_BODY
    assert len(inbound.profile_name or "") <= 128 and len(inbound.recipient) <= 40
    assert all(len(v) <= 256 for v in inbound.extra.values())
    assert len(inbound.media[0]["url"]) <= 1024
