"""Photos in reports: by WhatsApp into Puente's own storage, gone from Twilio, seen by few."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from sqlalchemy import select

from bot.accounts.models import AuditEntry
from bot.channels import twilio
from bot.db import utcnow
from bot.msgs.models import Message
from bot.msgs.sending import sender_from_config
from bot.reports import media, retention
from bot.reports.models import (
    MEDIA_FAILED,
    MEDIA_PENDING,
    MEDIA_REFUSED,
    MEDIA_STORED,
    Report,
    ReportMedia,
)
from bot.reports.storage import LocalStore
from bot.sending import process, reconcile
from tests.settings import ACCOUNT_SID
from tests.twilio_requests import new_sid, text

ROSA = "whatsapp:+525555550142"
JANE = "whatsapp:+12135550142"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
SAID = {
    "es": {
        "keyword": "REPORTAR",
        "when": "hoy",
        "what": "Un retén militar revisa todos los carros",
        "received": "Recibido. Manda más, o responde LISTO.",
        "done": "LISTO",
        "yes": "SÍ",
        "too_large": "No pudimos guardar tu archivo: pesa más de 1 MB. Tu reporte sí quedó "
        "guardado.",
        "wrong_type": "No pudimos guardar tu archivo: solo guardamos fotos, audio y video.",
        "not_fetched": "No pudimos guardar tu archivo: no se pudo descargar.",
    },
    "en": {
        "keyword": "REPORT",
        "when": "today",
        "what": "Soldiers are searching every car",
        "received": "Received. Send more, or reply DONE.",
        "done": "DONE",
        "yes": "YES",
        "too_large": "We could not keep your file: it is larger than 1 MB. Your report was kept.",
        "wrong_type": "We could not keep your file: we keep only photos, audio and video.",
        "not_fetched": "We could not keep your file: it could not be downloaded.",
    },
}
PHONES = {"es": ROSA, "en": JANE}


@pytest.fixture
def folder(app, tmp_path):
    app.config["MEDIA_DIR"] = str(tmp_path / "media")
    app.config["MEDIA_MAX_BYTES"] = 1024 * 1024
    return LocalStore(app.config["MEDIA_DIR"])


def file_with_photo(client, fake, base_url, lang, content_type="image/jpeg", data=JPEG):
    """The whole report flow by WhatsApp: a pin for the place, then one photo."""
    said, phone = SAID[lang], PHONES[lang]
    for answer in (said["keyword"], "NO", "NO", "3"):  # not anonymous, not urgent, checkpoint
        text(client, phone, answer)
    text(client, phone, "", Latitude="32.5312", Longitude="-117.0421", MessageType="location")
    text(client, phone, said["when"])
    text(client, phone, said["what"])
    sid = new_sid()
    url = base_url + fake.add_media(ACCOUNT_SID, sid, content_type, data)
    photo = {"MessageSid": sid, "NumMedia": "1", "MessageType": "image"}
    photo.update(MediaUrl0=url, MediaContentType0=content_type)
    assert text(client, phone, "", **photo) == [said["received"]]
    for answer in (said["done"], "NO", said["yes"]):  # done; may not contact; may share
        text(client, phone, answer)
    return url


def run_reconcile(app, redis_url, now=None):
    runtime = process.build(app.config, redis.Redis.from_url(redis_url))
    try:
        return reconcile.run(runtime, runtime.redis, now or utcnow())
    finally:
        runtime.close()


def the_media(db):
    with db.session() as session:
        row = session.scalars(select(ReportMedia)).one()
        session.expunge(row)
        return row


def told(fake, lang):
    return [m["body"] for m in fake.outbox() if m["to"] == PHONES[lang]]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_photo_is_kept_by_puente_and_gone_from_twilio(
    app, client, db, fake_twilio, fake_twilio_server, redis_url, folder, lang
):
    url = file_with_photo(client, fake_twilio, fake_twilio_server[1], lang)
    assert the_media(db).status == MEDIA_PENDING  # the webhook never fetches
    assert run_reconcile(app, redis_url)["report_media"] == 1
    row = the_media(db)
    assert (row.status, row.content_type, row.size) == (MEDIA_STORED, "image/jpeg", len(JPEG))
    assert folder.read(row.key) == JPEG
    assert (row.twilio_url, row.message_id, row.contact_id) == (None, None, None)
    assert fake_twilio.media == {}  # deleted at Twilio
    sender = sender_from_config(app.config)
    assert twilio.fetch_media(sender, url, 1024 * 1024).error == "HTTP 404"
    with db.session() as session:
        report = session.scalars(select(Report)).one()
        assert (report.latitude, report.longitude, report.adm2) == (32.5312, -117.0421, "Tijuana")
        assert row.report_id == report.id
        kept = [m.media for m in session.scalars(select(Message)) if m.media]
        assert kept == [[{"type": "image/jpeg", "kept": True}]]  # no Twilio URL, nor which report
    assert told(fake_twilio, lang) == []
    assert run_reconcile(app, redis_url)["report_media"] == 0  # once


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_file_too_large_is_refused_explained_and_deleted_at_twilio(
    app, client, db, fake_twilio, fake_twilio_server, redis_url, folder, lang
):
    big = b"\xff\xd8" + bytes(1024 * 1024)
    file_with_photo(client, fake_twilio, fake_twilio_server[1], lang, data=big)
    run_reconcile(app, redis_url)
    row = the_media(db)
    assert (row.status, row.key, row.twilio_url) == (MEDIA_REFUSED, None, None)
    assert fake_twilio.media == {}
    assert told(fake_twilio, lang) == [SAID[lang]["too_large"]]
    assert not folder.folder.exists() or list(folder.folder.iterdir()) == []


def test_a_type_not_kept_is_refused_without_fetching_it(
    app, client, db, fake_twilio, fake_twilio_server, redis_url, folder
):
    file_with_photo(client, fake_twilio, fake_twilio_server[1], "es", "application/pdf", b"%PDF")
    fake_twilio.fail_media(1)  # a fetch would fail: none is made
    run_reconcile(app, redis_url)
    row = the_media(db)
    assert (row.status, row.attempts, row.twilio_url) == (MEDIA_REFUSED, 1, None)
    assert fake_twilio.media == {} and fake_twilio.media_failures == 1
    (message,) = told(fake_twilio, "es")
    assert message.startswith(SAID["es"]["wrong_type"])


def test_a_failed_fetch_is_retried_by_the_reconcile_pass(
    app, client, db, fake_twilio, fake_twilio_server, redis_url, folder
):
    file_with_photo(client, fake_twilio, fake_twilio_server[1], "en")
    fake_twilio.fail_media(1)  # Twilio answers 500 once
    now = utcnow()
    run_reconcile(app, redis_url, now)
    row = the_media(db)
    assert (row.status, row.attempts, row.error) == (MEDIA_PENDING, 1, "HTTP 500")
    assert run_reconcile(app, redis_url, now + dt.timedelta(seconds=10))["report_media"] == 0
    run_reconcile(app, redis_url, now + media.RETRY_AFTER + dt.timedelta(seconds=1))
    row = the_media(db)
    assert (row.status, row.attempts) == (MEDIA_STORED, 2)
    assert folder.read(row.key) == JPEG and fake_twilio.media == {}


def test_a_store_that_cannot_write_keeps_the_file_at_twilio_for_the_next_try(
    app, client, db, fake_twilio, fake_twilio_server, redis_url, tmp_path
):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    app.config["MEDIA_DIR"] = str(blocked / "media")
    file_with_photo(client, fake_twilio, fake_twilio_server[1], "es")
    now = utcnow()
    run_reconcile(app, redis_url, now)
    row = the_media(db)
    assert (row.status, row.attempts, row.key) == (MEDIA_PENDING, 1, None)
    assert len(fake_twilio.media) == 1  # still there, to try again
    app.config["MEDIA_DIR"] = str(tmp_path / "media")
    run_reconcile(app, redis_url, now + media.RETRY_AFTER + dt.timedelta(seconds=1))
    assert the_media(db).status == MEDIA_STORED and fake_twilio.media == {}


@pytest.mark.parametrize("lang", ["es", "en"])
def test_when_attempts_run_out_the_report_is_kept_without_the_file(
    app, client, db, fake_twilio, fake_twilio_server, redis_url, folder, lang
):
    file_with_photo(client, fake_twilio, fake_twilio_server[1], lang)
    fake_twilio.fail_media(100)
    now = utcnow()
    for attempt in range(media.MAX_ATTEMPTS):
        run_reconcile(app, redis_url, now + attempt * (media.RETRY_AFTER + dt.timedelta(seconds=1)))
    row = the_media(db)
    assert (row.status, row.attempts, row.key) == (MEDIA_FAILED, media.MAX_ATTEMPTS, None)
    assert fake_twilio.media == {}  # no copy stays at Twilio
    (message,) = told(fake_twilio, lang)
    assert message.startswith(SAID[lang]["not_fetched"])
    with db.session() as session:
        assert session.scalars(select(Report)).one().category == "militarization_checkpoint"


def test_only_admins_and_verifiers_see_the_photo_and_each_view_is_audited(
    app, client, db, fake_twilio, fake_twilio_server, redis_url, folder, sign_in
):
    url = file_with_photo(client, fake_twilio, fake_twilio_server[1], "es")
    run_reconcile(app, redis_url)
    with db.session() as session:
        contact_id = session.scalars(select(Message.contact_id)).first()
    thread = sign_in("admin").get(f"/dashboard/contacts/{contact_id}").get_data(as_text=True)
    assert "Attachment kept by the reporting desk" in thread and url not in thread
    row = the_media(db)
    page, src = (
        f"/dashboard/reports/{row.report_id}",
        f"/dashboard/reports/{row.report_id}/media/{row.id}",
    )
    for role in ("organizer", "viewer"):
        user = sign_in(role)
        assert user.get(src).status_code == 403
        html = user.get(page).get_data(as_text=True)
        assert "Files: 1 (hidden for your role)" in html and "/media/" not in html
    for role in ("admin", "verifier"):
        user = sign_in(role)
        assert src in user.get(page).get_data(as_text=True)
        response = user.get(src)
        assert (response.status_code, response.data, response.mimetype) == (200, JPEG, "image/jpeg")
        assert response.headers["Cache-Control"] == "no-store"
    assert (
        sign_in("admin").get(f"/dashboard/reports/{row.report_id}/media/{row.id + 1}").status_code
        == 404
    )
    with db.session() as session:
        views = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.media_view"))
        assert [(e.target, e.details) for e in views] == [
            (f"report:{row.report_id}", {"media": row.id})
        ] * 2


def test_retention_deletes_the_files_and_their_rows(
    app, client, db, fake_twilio, fake_twilio_server, redis_url, folder
):
    file_with_photo(client, fake_twilio, fake_twilio_server[1], "es")
    run_reconcile(app, redis_url)
    key = the_media(db).key
    later = utcnow() + dt.timedelta(days=366)
    assert retention.purge_due(db, later, 365, store=folder) == 1
    assert folder.read(key) is None and list(folder.folder.iterdir()) == []
    with db.session() as session:
        assert session.scalars(select(ReportMedia)).all() == []
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "report.purged")
        ).one()
        assert entry.details["media"] == 1


def test_credentials_go_only_to_this_accounts_media_at_twilio(app):
    sender = sender_from_config(app.config)
    elsewhere = "https://evil.example.org/2010-04-01/Accounts/" + ACCOUNT_SID
    assert (
        twilio.media_ids(sender, elsewhere + "/Messages/MM" + "a" * 32 + "/Media/ME" + "b" * 32)
        is None
    )
    assert twilio.fetch_media(sender, elsewhere, 100).content is None
    assert not twilio.delete_media(sender, elsewhere)
