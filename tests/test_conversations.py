"""Flows through the real webhook and database: joining, rights, reports, retries.

The pure engine has its own table tests (test_flow_*.py); these prove the
wiring: sessions stored between messages, effects applied to the contact,
compliance keywords winning over a waiting question, retries not advancing twice.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.contacts.identity import find_by_phone
from bot.contacts.models import ConsentEvent, FlowSession
from bot.reports.models import Report
from tests.factories import contact_by_phone, create_event
from tests.twilio_requests import inbound_params, post_signed, reply_bodies, text

US = "+12135550123"
MX = "+525512345678"


def consent_log(db, phone: str) -> list[tuple[str, str]]:
    with db.session() as session:
        contact = find_by_phone(session, phone)
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
    contact = contact_by_phone(db, phone)
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
    assert contact_by_phone(db, US).fields == {
        "name": "Sam",
        "zip": "78701",
        "state": "US-TX",
        "country": "US",
    }


def test_help_during_a_question_answers_help_and_the_question_still_waits(client):
    text(client, US, "JOIN")
    assert "for help contact" in text(client, US, "HELP")[0]
    assert "ZIP" in text(client, US, "Sam")[0]


def test_stop_during_a_flow_ends_it_and_silences_everything(client, db):
    text(client, US, "JOIN")
    assert "unsubscribed" in text(client, US, "STOP")[0]
    with db.session() as session:
        assert session.get(FlowSession, contact_by_phone(db, US).id) is None
    assert text(client, US, "Sam") == []
    assert text(client, US, "RIGHTS") == []


def test_joining_again_after_stop_is_a_re_opt_in(client, db):
    text(client, MX, "UNIRME")
    text(client, MX, "BAJA")
    replies = text(client, MX, "UNIRME")
    assert "Te inscribiste" in replies[0]
    assert contact_by_phone(db, MX).status == "active"
    assert [k for k, _ in consent_log(db, MX)] == ["opt_in", "opt_out", "re_opt_in"]


def test_another_flow_keyword_interrupts_cleanly(client, db):
    text(client, US, "JOIN")
    replies = text(client, "whatsapp:" + US, "RIGHTS")
    assert "general information, not legal advice" in "\n".join(replies)
    with db.session() as session:
        assert session.get(FlowSession, contact_by_phone(db, US).id).flow_id == "know_your_rights"


def test_a_report_lands_for_organizers(client, db):
    replies = text(client, "whatsapp:" + MX, "REPORTAR")
    assert replies
    answers = [
        "no",
        "no",
        "1",
        "Ciudad Juárez",
        "ayer",
        "Nos detuvieron en un retén sin explicación",
        "no",  # no photos
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


def test_a_wait_that_times_out_takes_its_timeout_path_once(app, client, db, fake_twilio):
    import datetime as dt

    from bot.conversations import expire_due
    from bot.db import utcnow
    from bot.msgs.sending import sender_from_config

    create_event(db)
    assert text(client, US, "SUMMIT")
    assert "How many people" in text(client, US, "1")[0]
    flows = app.extensions["puente.flows"]
    sender = sender_from_config(app.config)
    assert expire_due(db, sender, flows, utcnow() + dt.timedelta(minutes=30)) == 0
    later = utcnow() + dt.timedelta(hours=2, minutes=1)
    assert expire_due(db, sender, flows, later) == 1
    assert expire_due(db, sender, flows, later) == 0  # settled: nothing fires twice
    bodies = [m["body"] for m in fake_twilio.outbox()]
    assert len(bodies) == 2
    assert bodies[0].startswith("We'll count you in") and "see you there" in bodies[1]
    assert contact_by_phone(db, US).opted_in_at is not None
    assert consent_log(db, US)[-1] == ("opt_in", "flow:summit_rsvp")


def test_a_timed_out_wait_sends_nothing_to_someone_who_stopped_meanwhile(
    app, client, db, fake_twilio
):
    import datetime as dt

    from bot.conversations import expire_due
    from bot.db import utcnow
    from bot.msgs.sending import sender_from_config

    create_event(db)
    text(client, US, "SUMMIT")
    text(client, US, "1")
    with db.session() as session:  # opted out at the carrier, say: the session stays
        contact = find_by_phone(session, US)
        contact.status = "opted_out"
    later = utcnow() + dt.timedelta(hours=3)
    expire_due(db, sender_from_config(app.config), app.extensions["puente.flows"], later)
    assert fake_twilio.outbox() == []


def test_unconfigured_optional_media_is_left_out_not_invented(client):
    from tests.twilio_requests import inbound_params, post_signed

    text(client, "whatsapp:" + MX, "DERECHOS")
    response = post_signed(client, "/twilio/messages", inbound_params("whatsapp:" + MX, "1"))
    assert b"<Media>" not in response.data
    assert "not configured" not in response.data.decode()


def test_replies_to_a_broadcast_with_a_flow_go_to_that_flow(app, client, db):
    """A broadcast asked an event's RSVP question; the contact's answer lands on that event."""
    from bot.broadcasts import events
    from bot.broadcasts.models import Event, Rsvp
    from bot.conversations import start_flows
    from bot.db import utcnow

    event_id = create_event(db)
    text(client, MX, "Hola")
    contact_id = contact_by_phone(db, MX).id
    with db.session() as session:
        answers = events.flow_answers(session, session.get(Event, event_id))
        flows = app.extensions["puente.flows"]
        start_flows(session, flows, [contact_id], "summit_rsvp", utcnow(), answers)
    replies = text(client, MX, "sí")
    assert any("Cuántas personas" in r or "personas vienen" in r for r in replies), replies
    with db.session() as session:
        assert session.get(Rsvp, (event_id, contact_id)).answer == "yes"


def test_summit_rsvp_by_text_signs_up_for_the_events_reminders(client, db):
    """The event's keyword ties the answer to it: yes and maybe get its reminders, no does not."""
    import datetime as dt

    from bot.broadcasts.audiences import Filters, size
    from bot.broadcasts.models import Rsvp
    from bot.db import utcnow

    event_id = create_event(db, reminders_before=[dt.timedelta(days=1)])
    for phone, answer in (("+525512345678", "1"), ("+525512345679", "3"), (US, "2")):
        text(client, phone, "CUMBRE")
        text(client, phone, answer)
    with db.session() as session:
        answers = sorted(r.answer for r in session.scalars(select(Rsvp)))
        assert answers == ["maybe", "no", "yes"]
        assert size(session, Filters(event_id=event_id), ("sms",), utcnow()) == 2


def test_the_workers_reconcile_tick_runs_flow_timeouts(app, client, db, fake_twilio, redis_url):
    import datetime as dt

    import redis

    from bot.db import utcnow
    from bot.sending import process, reconcile

    create_event(db)
    text(client, US, "SUMMIT")
    text(client, US, "1")
    runtime = process.build(app.config, redis.Redis.from_url(redis_url))
    try:
        done = reconcile.run(runtime, runtime.redis, utcnow() + dt.timedelta(hours=2, minutes=1))
    finally:
        runtime.close()
    assert done["flow_timeouts"] == 1
    assert [m["body"][:18] for m in fake_twilio.outbox()][0] == "We'll count you in"
