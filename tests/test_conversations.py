"""Flows through the real webhook and database: joining, rights, reports, retries.

The pure engine has its own table tests (test_flow_*.py); these prove the
wiring: sessions stored between messages, effects applied to the contact,
compliance keywords winning over a waiting question, retries not advancing twice.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.contacts.models import ConsentEvent, Contact, FlowSession
from bot.reports import Report
from tests.twilio_requests import inbound_params, post_signed, reply_bodies, text

US = "+12135550123"
MX = "+525512345678"


def load(db, phone: str) -> Contact:
    with db.session() as session:
        return session.scalar(select(Contact).where(Contact.phone == phone))


def consent_log(db, phone: str) -> list[tuple[str, str]]:
    with db.session() as session:
        contact = session.scalar(select(Contact).where(Contact.phone == phone))
        rows = session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.contact_id == contact.id)
            .order_by(ConsentEvent.id)
        )
        return [(e.kind, e.source) for e in rows]


JOIN = [
    # (channel, phone, table of (they text, reply contains))
    (
        "sms",
        MX,
        [
            ("UNIRME", "Te inscribiste"),
            ("María", "código postal"),
            ("06700", "causas"),
            ("1 y 3", "¡Gracias!"),
        ],
    ),
    (
        "whatsapp",
        US,
        [
            ("JOIN", "You're signed up"),
            ("Sam", "ZIP code"),
            ("78701", "causes"),
            ("climate", "Thank you!"),
        ],
    ),
]


@pytest.mark.parametrize(("channel", "phone", "table"), JOIN)
def test_joining_records_consent_fields_and_tags(client, db, channel, phone, table):
    sender = f"whatsapp:{phone}" if channel == "whatsapp" else phone
    for said, expected in table:
        replies = text(client, sender, said)
        assert any(expected in r for r in replies), (said, replies)
    contact = load(db, phone)
    assert contact.opted_in_at is not None and contact.status == "active"
    assert contact.fields["name"] in ("María", "Sam")
    assert contact.region in ("MX-CMX", "US-TX")
    assert contact.tag_names & {"human_rights", "climate_justice"}
    assert consent_log(db, phone) == [("opt_in", "flow:join")]
    with db.session() as session:
        assert session.get(FlowSession, contact.id) is None  # the flow completed


def test_a_twilio_retry_in_the_middle_of_a_flow_does_not_advance_it(client, db):
    text(client, US, "JOIN")
    params = inbound_params(US, "Sam")
    first = reply_bodies(post_signed(client, "/twilio/messages", params).data)
    again = reply_bodies(post_signed(client, "/twilio/messages", params).data)
    assert first == again and "ZIP" in first[0]
    # the next real answer is taken as the ZIP code, not as a second name
    assert "causes" in text(client, US, "78701")[0]
    assert load(db, US).fields == {"name": "Sam", "zip": "78701", "state": "US-TX", "country": "US"}


def test_help_during_a_question_answers_help_and_the_question_still_waits(client):
    text(client, US, "JOIN")
    assert "for help contact" in text(client, US, "HELP")[0]
    assert "ZIP" in text(client, US, "Sam")[0]


def test_stop_during_a_flow_ends_it_and_silences_everything(client, db):
    text(client, US, "JOIN")
    assert "unsubscribed" in text(client, US, "STOP")[0]
    with db.session() as session:
        assert session.get(FlowSession, load(db, US).id) is None
    assert text(client, US, "Sam") == []
    assert text(client, US, "RIGHTS") == []


def test_joining_again_after_stop_is_a_re_opt_in(client, db):
    text(client, MX, "UNIRME")
    text(client, MX, "BAJA")
    replies = text(client, MX, "UNIRME")
    assert "Te inscribiste" in replies[0]
    assert load(db, MX).status == "active"
    assert [k for k, _ in consent_log(db, MX)] == ["opt_in", "opt_out", "re_opt_in"]


def test_another_flow_keyword_interrupts_cleanly(client, db):
    text(client, US, "JOIN")
    replies = text(client, "whatsapp:" + US, "RIGHTS")
    assert "general information, not legal advice" in "\n".join(replies)
    with db.session() as session:
        assert session.get(FlowSession, load(db, US).id).flow_id == "know_your_rights"


def test_a_report_lands_for_organizers(client, db):
    replies = text(client, "whatsapp:" + MX, "REPORTAR")
    assert replies
    answers = [
        "1",
        "Ciudad Juárez",
        "ayer",
        "Nos detuvieron en un retén sin explicación",
        "sí",
        "sí",
    ]
    for said in answers:
        replies = text(client, "whatsapp:" + MX, said)
        assert replies, said
    with db.session() as session:
        report = session.scalar(select(Report))
        assert report is not None and report.flow_id == "report"
        assert report.status == "new"
        assert "retén" in str(report.data)


def test_unhandled_text_waits_in_the_inbox_without_a_reply(client, db):
    text(client, US, "Hello")
    assert text(client, US, "when is the next march?") == []
    with db.session() as session:
        from bot.msgs.models import Message

        last = session.scalar(
            select(Message).where(Message.direction == "in").order_by(Message.id.desc())
        )
        assert last.handled_by is None
