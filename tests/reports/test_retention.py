"""After REPORT_RETENTION_DAYS the worker purges reports' personal fields; the log keeps it."""

from __future__ import annotations

import datetime as dt

import redis
from sqlalchemy import select

from bot.accounts.models import AuditEntry
from bot.db import utcnow
from bot.reports import retention, workflow
from bot.reports.models import Report, ReportNote
from bot.reports.storage import LocalStore
from bot.sending import process, reconcile
from tests.factories import create_contact, create_report, create_user

OLD = {"created_at": utcnow() - dt.timedelta(days=400)}
PIN = {"latitude": 32.5312, "longitude": -117.0421, "adm1": "MX-BCN", "adm2": "Tijuana"}


def _report(db, contact, **columns):
    return create_report(
        db,
        contact,
        columns={**PIN, "place_text": "Calle 5 #123", "category": "weapons", **columns},
        what="Hombres armados en la calle",
        when="ayer",
        where="Calle 5 #123",
        may_contact="yes",
    )


def test_old_reports_lose_their_personal_fields_and_keep_their_counts(db, tmp_path):
    contact = create_contact(db)
    old, published, recent = (
        _report(db, contact, **OLD),
        _report(db, contact, **OLD, status="published"),
        _report(db, contact),
    )
    user = create_user(db, "verifier")
    with db.session() as session:
        workflow.add_note(session, session.get_one(Report, old), user, "Habló Rosa", utcnow())
    assert retention.purge_due(db, utcnow(), 365, store=LocalStore(tmp_path)) == 2
    with db.session() as session:
        purged = session.get_one(Report, old)
        assert (purged.contact_id, purged.place_text, purged.latitude, purged.answers) == (
            None,
            None,
            None,
            {},
        )
        assert (purged.category, purged.adm1, purged.adm2) == ("weapons", "MX-BCN", "Tijuana")
        assert purged.purged_at is not None
        assert session.get_one(Report, published).answers == {
            "what": "Hombres armados en la calle",
            "when": "ayer",
        }  # what was published stays; where they wrote and may_contact do not
        assert session.get_one(Report, recent).contact_id == contact  # too recent
        assert session.scalars(select(ReportNote)).all() == []
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "report.purged")
        ).one()
        assert entry.details == {"reports": [old, published], "days": 365, "media": 0}
    assert retention.purge_due(db, utcnow(), 365, store=LocalStore(tmp_path)) == 0  # once


def test_zero_days_keeps_reports_until_someone_erases_them(db, tmp_path):
    _report(db, create_contact(db), **OLD)
    assert retention.purge_due(db, utcnow(), 0, store=LocalStore(tmp_path)) == 0


def test_the_workers_reconcile_pass_purges(app, db, redis_url):
    _report(db, create_contact(db), **OLD)
    runtime = process.build(app.config, redis.Redis.from_url(redis_url))
    try:
        done = reconcile.run(runtime, runtime.redis, utcnow())
    finally:
        runtime.close()
    assert done["reports_purged"] == 1
