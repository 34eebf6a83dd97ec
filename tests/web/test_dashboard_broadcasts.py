"""Broadcasts and events from the dashboard: compose, preview, send, watch; remind."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.accounts.models import AuditEntry
from bot.broadcasts import events
from bot.broadcasts.models import Broadcast, Delivery, Reminder, Rsvp
from bot.db import utcnow
from bot.sending import jobs, process
from tests.factories import MX_PHONE, US_PHONE, WA_US_PHONE, create_contact

TEXTS = {
    "text_es": "¡Marcha por la paz este sábado a las 10! Responde SI para confirmar.",
    "text_en": "March for peace this Saturday at 10! Reply YES to confirm.",
}


@pytest.fixture
def movement(db):
    return {
        "ana": create_contact(db, US_PHONE, "en", ("sms",), name="Ana", tags=("volunteer",)),
        "beto": create_contact(db, MX_PHONE, "es", ("sms",), name="Beto", tags=("volunteer",)),
        "cruz": create_contact(db, "+12135550155", "es", ("sms",), name="Cruz"),
        "out": create_contact(db, WA_US_PHONE, "es", ("sms",), status="opted_out"),
    }


def audit_actions(db) -> list[str]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
        return [a for a in rows if not a.startswith("user.")]


def compose(client, **fields: str | list[str]):
    data = {"csrf_token": client.csrf_token, "name": "Marcha", **TEXTS, **fields}
    return client.post("/dashboard/broadcasts/", data=data)


def created_id(response) -> int:
    assert response.status_code == 302, response.data
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_live_count_follows_the_filters(sign_in, movement):
    client = sign_in("organizer")

    def count(query: str) -> str:
        return client.get("/dashboard/broadcasts/audience?" + query).get_data(as_text=True)

    assert 'data-total="3"' in count("")  # the opted-out contact is never counted
    assert 'data-total="1"' in count("languages=en")
    assert 'data-total="2"' in count("tags=volunteer")
    assert 'data-total="1"' in count("tags=volunteer&languages=es")
    assert 'data-total="1"' in count("exclude_tags=volunteer&channel_order=sms_only")
    assert "1 opted out" in count("")


def test_an_organizer_composes_previews_and_sends(sign_in, db, movement, fake_twilio):
    client = sign_in("organizer")
    broadcast_id = created_id(compose(client, tags=["volunteer"]))
    preview = client.get(f"/dashboard/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert "2 contacts will receive it" in preview
    assert "Send now to 2 contacts" in preview
    assert "UCS-2" in preview  # "sábado": á is not in GSM-7
    refused = client.post(
        f"/dashboard/broadcasts/{broadcast_id}/send", data={"csrf_token": client.csrf_token}
    )
    assert refused.status_code == 302
    with db.session() as session:
        assert session.get(Broadcast, broadcast_id).status == "draft"  # not confirmed
    client.post(
        f"/dashboard/broadcasts/{broadcast_id}/send",
        data={"csrf_token": client.csrf_token, "confirm": "yes"},
    )
    with db.session() as session:
        sent = session.get(Broadcast, broadcast_id)
        assert sent.status == "sending"
        assert sent.texts == {"es": TEXTS["text_es"], "en": TEXTS["text_en"]}
    assert audit_actions(db) == ["broadcast.create", "broadcast.send"]
    progress = client.get(f"/dashboard/broadcasts/{broadcast_id}/progress")
    assert 'data-live="true"' in progress.get_data(as_text=True)


def test_a_sent_broadcast_arrives_in_each_language(
    app, sign_in, db, movement, fake_twilio, redis_url
):
    """The dashboard sends; the broadcast jobs (run here in-process) deliver."""
    app.config["REDIS_URL"] = redis_url
    client = sign_in("organizer")
    broadcast_id = created_id(compose(client, channel_order="sms_only"))
    client.post(
        f"/dashboard/broadcasts/{broadcast_id}/send",
        data={"csrf_token": client.csrf_token, "confirm": "yes"},
    )
    config = {
        **app.config,
        "QUIET_HOURS_START": 0,
        "QUIET_HOURS_END": 24,
        "QUIET_HOURS_START_MX": 0,
    }
    process.use(process.build(config))
    jobs.fan_out(broadcast_id)
    with db.session() as session:
        batches = set(
            session.scalars(select(Delivery.batch).where(Delivery.broadcast_id == broadcast_id))
        )
    for batch in sorted(batches):
        jobs.send_batch(broadcast_id, batch)
    arrived = {m["to"]: m["body"] for m in fake_twilio.outbox()}
    assert arrived == {
        US_PHONE: TEXTS["text_en"],
        MX_PHONE: TEXTS["text_es"],
        "+12135550155": TEXTS["text_es"],
    }
    page = client.get(f"/dashboard/broadcasts/{broadcast_id}/progress").get_data(as_text=True)
    assert "3 of 3 handled" in page


def test_a_viewer_cannot_send_a_broadcast(sign_in, db, movement):
    organizer = sign_in("organizer")
    broadcast_id = created_id(compose(organizer))
    viewer = sign_in("viewer")
    for action in ("send", "schedule", "pause", "resume", "cancel"):
        response = viewer.post(
            f"/dashboard/broadcasts/{broadcast_id}/{action}",
            data={"csrf_token": viewer.csrf_token, "confirm": "yes"},
        )
        assert response.status_code == 403, action
    assert compose(viewer).status_code == 403
    page = viewer.get(f"/dashboard/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert "Send now" not in page
    with db.session() as session:
        assert session.get(Broadcast, broadcast_id).status == "draft"


def test_pause_resume_and_cancel(sign_in, db, movement):
    client = sign_in("organizer")
    broadcast_id = created_id(compose(client))
    token = {"csrf_token": client.csrf_token}
    client.post(f"/dashboard/broadcasts/{broadcast_id}/send", data={**token, "confirm": "yes"})
    states = []
    for action in ("pause", "resume", "cancel"):
        client.post(f"/dashboard/broadcasts/{broadcast_id}/{action}", data=token)
        with db.session() as session:
            states.append(session.get(Broadcast, broadcast_id).status)
    assert states == ["paused", "sending", "canceled"]
    again = client.post(
        f"/dashboard/broadcasts/{broadcast_id}/pause", data=token, follow_redirects=True
    )
    assert "cannot do that any more" in again.get_data(as_text=True)


def test_schedule_for_later_in_the_users_time_zone(sign_in, db, movement):
    client = sign_in("organizer")
    broadcast_id = created_id(compose(client))
    tomorrow = (utcnow() + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=-8)))
    local = tomorrow.replace(tzinfo=None, second=0, microsecond=0)
    client.post(
        f"/dashboard/broadcasts/{broadcast_id}/schedule",
        data={"csrf_token": client.csrf_token, "send_at": local.isoformat(timespec="minutes")},
    )
    with db.session() as session:
        scheduled = session.get(Broadcast, broadcast_id)
        assert scheduled.status == "scheduled"
        assert abs((scheduled.send_at - tomorrow).total_seconds()) < 3600 * 2  # PST or PDT


def test_a_broadcast_can_be_copied_into_a_new_draft(sign_in, movement):
    client = sign_in("organizer")
    broadcast_id = created_id(compose(client, tags=["volunteer"]))
    page = client.get(f"/dashboard/broadcasts/new?copy={broadcast_id}").get_data(as_text=True)
    assert TEXTS["text_en"] in page and 'value="volunteer" checked' in page


def test_an_empty_message_is_refused(sign_in, db, movement):
    client = sign_in("organizer")
    response = compose(client, text_es="", text_en="  ")
    assert response.status_code == 400
    assert "Write the message in at least one language." in response.get_data(as_text=True)
    with db.session() as session:
        assert session.scalar(select(Broadcast)) is None


def test_a_refused_form_keeps_what_was_typed(sign_in, movement):
    client = sign_in("organizer")
    response = compose(client, media_url="http://example.org/flyer.png", tags=["volunteer"])
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "must start with https://" in page
    assert TEXTS["text_en"] in page and 'value="volunteer" checked' in page


def test_saved_audiences_can_be_reused(sign_in, db, movement):
    client = sign_in("organizer")
    created_id(compose(client, tags=["volunteer"], save_audience="Voluntarios"))
    page = client.get("/dashboard/broadcasts/audience?audience=Voluntarios").get_data(as_text=True)
    assert 'data-total="2"' in page


# --- events --------------------------------------------------------------------------------


def new_event(client, **fields: str):
    starts = (utcnow() + dt.timedelta(days=10)).strftime("%Y-%m-%dT18:00")
    data = {
        "csrf_token": client.csrf_token, "name_es": "Asamblea", "name_en": "Assembly",
        "place_es": "Salón parroquial", "place_en": "Parish hall", "starts_at": starts,
        "timezone": "America/Chicago", "reminders": "1d, 2h", **fields,
    }  # fmt: skip
    return client.post("/dashboard/events/", data=data)


def test_an_organizer_creates_an_event_with_reminders(sign_in, db):
    client = sign_in("organizer")
    response = new_event(client)
    event_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with db.session() as session:
        offsets = sorted(session.scalars(select(Reminder.offset_s)))
    assert offsets == [-86400, -7200]
    page = client.get(f"/dashboard/events/{event_id}").get_data(as_text=True)
    assert "Assembly" in page and "1d before" in page and "2h before" in page
    client.post(
        f"/dashboard/events/{event_id}/reminders",
        data={"csrf_token": client.csrf_token, "offset": "30m"},
    )
    assert "30m before" in client.get(f"/dashboard/events/{event_id}").get_data(as_text=True)
    assert audit_actions(db) == ["event.create", "event.reminder_add"]


@pytest.mark.parametrize(
    "fields",
    [{"reminders": "tomorrow"}, {"name_es": "", "name_en": ""}, {"starts_at": "2020-01-01T10:00"}],
)
def test_a_bad_event_form_is_refused(sign_in, db, fields):
    response = new_event(sign_in("organizer"), **fields)
    assert response.status_code == 400  # the form again, with what was typed and why
    assert 'name="name_es"' in response.get_data(as_text=True)
    with db.session() as session:
        assert session.scalars(select(events.Event)).all() == []


def test_rsvps_are_shown_and_a_due_reminder_reaches_those_who_said_yes(sign_in, db, movement):
    client = sign_in("organizer")
    event_id = int(new_event(client).headers["Location"].rsplit("/", 1)[1])
    with db.session() as session:
        events.rsvp(session, event_id, movement["ana"], True, utcnow())
        events.rsvp(session, event_id, movement["beto"], False, utcnow())
        starts = session.get(events.Event, event_id).starts_at
    page = client.get(f"/dashboard/events/{event_id}").get_data(as_text=True)
    assert "1 person coming" in page and "Ana" in page and "Beto" in page
    assert events.fire_due(db, starts - dt.timedelta(hours=23)) == 1  # the day-before one
    page = client.get(f"/dashboard/events/{event_id}").get_data(as_text=True)
    assert "badge sending" in page
    with db.session() as session:
        assert session.scalar(select(Rsvp.answer).where(Rsvp.contact_id == movement["ana"]))
