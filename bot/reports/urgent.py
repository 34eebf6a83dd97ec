"""Urgent reports ("someone is being detained now"): the desk's on-call organizer is told at once.

The worker's reconcile pass (every few seconds) sends each new urgent report's
alert by SMS to the on-call organizer of the desk it reached (a partner's, or
the coalition's when the partner has none), in their dashboard language. The
alert names the report's number, category and municipality and links to the
desk: never the reporter, their words or the exact place. A desk with no
on-call organizer (or one without a phone) is recorded on the report and shown
on the desk, so nobody believes an alert went out.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.accounts import audit
from bot.accounts.models import User
from bot.channels import twilio
from bot.db import Database
from bot.i18n import N_, gettext
from bot.reports.models import OnCall, Report

log = logging.getLogger(__name__)

ALERT = N_("Puente: urgent report #{id} ({category}, {place}). Open the desk: {url}")
NOBODY = "no on-call organizer with a phone"
WITHIN = dt.timedelta(hours=24)  # an older urgent report is past "at once"
BATCH = 50


def on_call(session: Session, organization_id: int | None) -> User | None:
    """The desk's on-call organizer: the partner's own, else the coalition's."""
    for key in dict.fromkeys((organization_id, None)):
        condition = (
            OnCall.organization_id.is_(None) if key is None else (OnCall.organization_id == key)
        )
        row = session.scalar(select(OnCall).where(condition))
        if row is not None:
            user = session.get(User, row.user_id)
            if user is not None and user.active:
                return user
    return None


def set_on_call(
    session: Session, organization_id: int | None, user_id: int | None, now: dt.datetime
) -> None:
    """Make ``user_id`` the desk's on-call organizer (None: nobody)."""
    condition = (
        OnCall.organization_id.is_(None)
        if organization_id is None
        else OnCall.organization_id == organization_id
    )
    row = session.scalar(select(OnCall).where(condition))
    if user_id is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(OnCall(organization_id=organization_id, user_id=user_id, updated_at=now))
    else:
        row.user_id, row.updated_at = user_id, now


def notify_due(db: Database, sender: twilio.Sender, public_url: str, now: dt.datetime) -> int:
    """Alert the on-call organizers of new urgent reports; returns how many were handled."""
    alerts: list[tuple[int, int, str, str]] = []  # report, user, phone, text
    with db.session() as session:
        due = session.scalars(
            select(Report)
            .where(
                Report.urgent.is_(True),
                Report.notified_at.is_(None),
                Report.created_at > now - WITHIN,
            )
            .order_by(Report.id)
            .limit(BATCH)
        ).all()
        for report in due:
            user = on_call(session, report.organization_id)
            if user is None or not user.phone:
                report.notified_at, report.notify_result = now, NOBODY
                audit.record(
                    session, None, "report.urgent_alert", f"report:{report.id}", sent=False
                )
                continue
            place = report.adm2 or report.adm1 or "?"
            text = gettext(
                user.language,
                ALERT,
                id=report.id,
                category=report.category or "?",
                place=place,
                url=f"{public_url}/dashboard/reports/{report.id}",
            )
            alerts.append((report.id, user.id, user.phone, text))
    for report_id, user_id, phone, text in alerts:
        result = twilio.send(sender, phone, text)
        with db.session() as session:
            report = session.get_one(Report, report_id)
            report.notified_at = now
            report.notify_result = "sent" if result.ok else (result.error_message or "failed")[:200]
            audit.record(
                session,
                None,
                "report.urgent_alert",
                f"report:{report_id}",
                sent=result.ok,
                on_call=user_id,
            )
        if not result.ok:
            log.warning(
                "urgent report %s: the on-call alert failed (%s)", report_id, result.error_code
            )
    return len(due)
