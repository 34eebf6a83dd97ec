"""Reports contacts filed through the report flow, and where each one stands."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from bot.accounts.roles import EDIT
from bot.contacts.models import Contact
from bot.db import get_db, get_session
from bot.reports import REPORT_CLOSED, REPORT_NEW, REPORT_REVIEWED, Report
from bot.web.dashboard import scope
from bot.web.dashboard.auth import record, require
from bot.web.dashboard.labels import label
from bot.web.dashboard.language import _

bp = Blueprint("reports", __name__, url_prefix="/reports")

STATUSES = (REPORT_NEW, REPORT_REVIEWED, REPORT_CLOSED)
PAGE_SIZE = 50


@bp.before_request
def _in_scope_only() -> None:
    """A report of another organization is not there (404)."""
    report_id = (request.view_args or {}).get("report_id")
    if report_id is not None:  # a session of its own: the view's writes must not wait
        with get_db().session() as db_session:
            scope.owned_or_404(db_session, Report, report_id)


@bp.get("/")
def index() -> str:
    """Reports, newest first, filtered by status."""
    session = get_session()
    status = request.args.get("status", "")
    mine = scope.owned_clause(Report.organization_id)
    query = select(Report, Contact).outerjoin(Contact, Contact.id == Report.contact_id).where(mine)
    if status in STATUSES:
        query = query.where(Report.status == status)
    rows = session.execute(query.order_by(Report.id.desc()).limit(PAGE_SIZE)).all()
    counts = dict(
        session.execute(
            select(Report.status, func.count()).where(mine).group_by(Report.status)
        ).all()
    )
    return render_template(
        "dashboard/reports.html", rows=rows, status=status, statuses=STATUSES, counts=counts
    )


@bp.post("/<int:report_id>/status")
@require(EDIT)
def set_status(report_id: int) -> Any:
    """Move a report to reviewed or closed (or back to new)."""
    status = request.form.get("status", "")
    if status not in STATUSES:
        abort(400)
    with get_db().session() as session:
        report = scope.owned_or_404(session, Report, report_id)
        before = report.status
        report.status = status
    record("report.status", f"report:{report_id}", before=before, after=status)
    flash(
        _("Report #{id} is now: {status}.", id=report_id, status=label("report_status", status)),
        "success",
    )
    return redirect(url_for(".index", status=request.form.get("back", "")))
