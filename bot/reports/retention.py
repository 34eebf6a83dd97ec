"""Retention: after REPORT_RETENTION_DAYS a report keeps no personal data.

The worker's reconcile pass calls ``purge_due``. A purged report loses the
link to its reporter, their answers, the place in their words, the exact pin
and the desk's notes (which name people too); it keeps its category, state,
municipality, status and dates, so the desk's counts and the map stay true.
Its photos, audio and video are deleted (files and rows), published or not.
A published report keeps what was published (what happened and when). The
audit log keeps the fact: which reports were purged, and when.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from bot.accounts import audit
from bot.channels import twilio
from bot.db import Database
from bot.reports import media
from bot.reports.models import REPORT_PUBLISHED, Report, ReportNote
from bot.reports.storage import LocalStore

BATCH = 500
PUBLISHED_KEEPS = ("what", "when", "incident_type")  # what a published report showed


def purge_due(
    db: Database,
    now: dt.datetime,
    days: int,
    *,
    store: LocalStore,
    sender: twilio.Sender | None = None,
) -> int:
    """Purge the personal fields and media of reports older than ``days`` (0: keep forever)."""
    if days <= 0:
        return 0
    cutoff = now - dt.timedelta(days=days)
    with db.session() as session:
        due = list(
            session.scalars(
                select(Report)
                .where(Report.created_at < cutoff, Report.purged_at.is_(None))
                .order_by(Report.id)
                .limit(BATCH)
            )
        )
        if not due:
            return 0
        for report in due:
            kept = PUBLISHED_KEEPS if report.status == REPORT_PUBLISHED else ()
            answers = {k: v for k, v in report.answers.items() if k in kept}
            report.data = {**(report.data or {}), "answers": answers}
            report.contact_id = None
            report.place_text = None
            report.latitude = report.longitude = None
            report.purged_at = now
        ids = [r.id for r in due]
        session.execute(delete(ReportNote).where(ReportNote.report_id.in_(ids)))
        files = media.delete_for_reports(session, store, ids, sender)
        audit.record(session, None, "report.purged", None, reports=ids, days=days, media=files)
    return len(due)
