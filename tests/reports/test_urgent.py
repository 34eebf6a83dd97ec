"""An urgent report alerts the on-call organizer at once, by SMS, with nothing of the reporter."""

from __future__ import annotations

import redis
from sqlalchemy import select

from bot.accounts.models import AuditEntry
from bot.db import utcnow
from bot.reports import urgent
from bot.reports.models import Report
from bot.sending import process, reconcile
from tests.factories import create_partner, create_user
from tests.twilio_requests import text

ROSA = "+525555550142"
ON_CALL = "+12135550177"
COALITION_ON_CALL = "+12135550178"


def file_urgent(client, where="Tijuana"):
    for answer in (
        "REPORTAR",
        "NO",
        "SÍ",
        "1",
        where,
        "ahora",
        "Se llevan a mi vecino",
        "NO",  # no photos
        "NO",
        "NO",
    ):
        replies = text(client, ROSA, answer)
    return replies


def run_reconcile(app, redis_url):
    runtime = process.build(app.config, redis.Redis.from_url(redis_url))
    try:
        return reconcile.run(runtime, runtime.redis, utcnow())
    finally:
        runtime.close()


def alerts(fake_twilio, to):
    return [m["body"] for m in fake_twilio.outbox() if m["to"] == to]


def test_the_partner_serving_the_place_is_alerted_in_their_language(
    app, client, db, fake_twilio, redis_url
):
    frontera = create_partner(db, "frontera", "FRONTERA", "BORDER", regions=["MX-BCN"])
    lucia = create_user(db, "verifier", "es", email="lucia@frontera.example.org", phone=ON_CALL)
    create_user(db, "admin", "en", phone=COALITION_ON_CALL)
    with db.session() as session:
        urgent.set_on_call(session, frontera, lucia, utcnow())
    file_urgent(client)
    done = run_reconcile(app, redis_url)
    assert done["urgent_alerts"] == 1
    (alert,) = alerts(fake_twilio, ON_CALL)
    assert alert.startswith("Puente: reporte urgente #") and "Tijuana" in alert
    assert "/dashboard/reports/" in alert
    assert "vecino" not in alert and "5555550142" not in alert  # nothing of the reporter
    assert alerts(fake_twilio, COALITION_ON_CALL) == []
    assert run_reconcile(app, redis_url)["urgent_alerts"] == 0  # once
    with db.session() as session:
        report = session.scalars(select(Report)).one()
        assert report.notify_result == "sent"
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "report.urgent_alert")
        ).one()
        assert entry.details == {"sent": True, "on_call": lucia}


def test_a_partner_with_nobody_on_call_falls_back_to_the_coalition(
    app, client, db, fake_twilio, redis_url
):
    create_partner(db, "frontera", "FRONTERA", "BORDER", regions=["MX-BCN"])
    admin = create_user(db, "admin", "en", phone=COALITION_ON_CALL)
    with db.session() as session:
        urgent.set_on_call(session, None, admin, utcnow())
    file_urgent(client)
    run_reconcile(app, redis_url)
    (alert,) = alerts(fake_twilio, COALITION_ON_CALL)
    assert alert.startswith("Puente: urgent report #")


def test_with_nobody_on_call_the_desk_says_so(app, client, db, fake_twilio, sign_in, redis_url):
    replies = file_urgent(client)
    assert replies  # the reporter is thanked either way
    run_reconcile(app, redis_url)
    with db.session() as session:
        assert session.scalars(select(Report)).one().notify_result == urgent.NOBODY
    page = sign_in("verifier").get("/dashboard/reports/").get_data(as_text=True)
    assert "Nobody is on call" in page and "1 urgent reports reached nobody" in page


def test_a_report_that_is_not_urgent_alerts_nobody(app, client, db, fake_twilio, redis_url):
    admin = create_user(db, "admin", "en", phone=COALITION_ON_CALL)
    with db.session() as session:
        urgent.set_on_call(session, None, admin, utcnow())
    for answer in ("REPORTAR", "NO", "NO", "1", "Tijuana", "ayer", "Algo pasó", "NO", "NO"):
        text(client, ROSA, answer)
    assert run_reconcile(app, redis_url)["urgent_alerts"] == 0
    assert alerts(fake_twilio, COALITION_ON_CALL) == []


def test_the_desk_chooses_who_is_on_call(sign_in, db):
    verifier = sign_in("verifier")
    admin_id = create_user(db, "admin", "en", phone=COALITION_ON_CALL)
    verifier.post(
        "/dashboard/reports/on-call", data={"csrf_token": verifier.csrf_token, "user": admin_id}
    )
    with db.session() as session:
        assert urgent.on_call(session, None).id == admin_id
    organizer = sign_in("organizer")
    response = organizer.post(
        "/dashboard/reports/on-call", data={"csrf_token": organizer.csrf_token, "user": ""}
    )
    assert response.status_code == 403
