"""The reporting desk: reports, their verification workflow, a map and exports.

Every report is read through ``bot.reports.privacy.view`` for the signed-in
role: admins and verifiers see who reported and the exact pin, everyone else
the municipality or a ~1 km grid cell and no name or number. Moving a report,
assigning it, noting on it and linking duplicates take ``VERIFY`` and are
audited; exports hold published reports unless a desk member asks for more.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from bot.accounts.models import PartnerRole, User
from bot.accounts.roles import MANAGE, SEE_REPORTERS, SEE_TEXTS, VERIFY, allows
from bot.contacts.models import Contact
from bot.db import get_db, get_session, utcnow
from bot.reports import export, places, storage, tiles, urgent, workflow
from bot.reports import media as report_media
from bot.reports.models import MEDIA_STORED, REPORT_PUBLISHED, REPORT_STATUSES, Report, ReportMedia
from bot.reports.privacy import ReportView, view
from bot.web.dashboard import scope
from bot.web.dashboard.auth import audit_here, require
from bot.web.dashboard.labels import label
from bot.web.dashboard.language import _
from bot.web.dashboard.masking import may

bp = Blueprint("reports", __name__, url_prefix="/reports")

PAGE_SIZE = 50
EXPORT_MAX = 10_000


@bp.before_request
def _in_scope_only() -> None:
    """A report of another organization is not there (404)."""
    report_id = (request.view_args or {}).get("report_id")
    if report_id is not None:  # a session of its own: the view's writes must not wait
        with get_db().session() as db_session:
            scope.owned_or_404(db_session, Report, report_id)


@dataclass(frozen=True)
class Filters:
    status: str = ""
    category: str = ""
    adm1: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    urgent: bool = False

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        return cls(
            status=args.get("status", "") if args.get("status") in REPORT_STATUSES else "",
            category=args.get("category", "")[:64],
            adm1=args.get("adm1", "") if args.get("adm1") in places.state_codes() else "",
            since=_date(args.get("since")),
            until=_date(args.get("until")),
            urgent=args.get("urgent") == "1",
        )

    def apply(self, query: Select[Any]) -> Select[Any]:
        query = query.where(scope.owned_clause(Report.organization_id))
        if self.status:
            query = query.where(Report.status == self.status)
        if self.category:
            query = query.where(Report.category == self.category)
        if self.adm1:
            query = query.where(Report.adm1 == self.adm1)
        if self.since:
            query = query.where(Report.created_at >= _start_of(self.since))
        if self.until:
            query = query.where(Report.created_at < _start_of(self.until + dt.timedelta(days=1)))
        if self.urgent:
            query = query.where(Report.urgent.is_(True))
        return query

    def args(self) -> dict[str, str]:
        values = {
            "status": self.status,
            "category": self.category,
            "adm1": self.adm1,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "urgent": "1" if self.urgent else "",
        }
        return {k: v for k, v in values.items() if v}


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError:
        return None


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _view(report: Report) -> ReportView:
    return view(report, see_reporters=may(SEE_REPORTERS), see_texts=may(SEE_TEXTS))


def _categories(session: Session) -> list[str]:
    mine = scope.owned_clause(Report.organization_id)
    query = select(Report.category).where(mine, Report.category.is_not(None)).distinct()
    return sorted(c for c in session.scalars(query) if c)


@bp.get("/")
def index() -> str:
    """Reports, newest first, with the filters of the map."""
    session = get_session()
    filters = Filters.from_args(request.args)
    rows = session.scalars(
        filters.apply(select(Report)).order_by(Report.id.desc()).limit(PAGE_SIZE)
    ).all()
    mine = scope.owned_clause(Report.organization_id)
    counts = dict(
        session.execute(
            select(Report.status, func.count()).where(mine).group_by(Report.status)
        ).all()
    )
    on_call = urgent.on_call(session, scope.acting_organization())
    return render_template(
        "dashboard/reports.html",
        on_call=on_call,
        desk_members=_desk_members(session) if may(VERIFY) else [],
        unalerted=session.scalar(
            select(func.count()).where(mine, Report.notify_result == urgent.NOBODY)
        ),
        reports=[_view(r) for r in rows],
        filters=filters,
        statuses=REPORT_STATUSES,
        counts=counts,
        categories=_categories(session),
        states=places.state_codes(),
        state_name=places.state_name,
    )


@bp.get("/<int:report_id>")
def detail(report_id: int) -> str:
    """One report, its notes and what the desk may do with it next."""
    session = get_session()
    report = session.get_one(Report, report_id)
    shown = _view(report)
    reporter = None
    if shown.contact_id is not None:
        reporter = session.get(Contact, shown.contact_id)
        g.reporter_shown = True  # masking leaves this page's reporter number alone
    desk = may(VERIFY)
    return render_template(
        "dashboard/report.html",
        report=shown,
        reporter=reporter,
        notes=workflow.notes(session, report_id) if desk else [],
        authors=_names(session) if desk else {},
        moves=workflow.allowed_moves(report) if desk else (),
        desk_members=_desk_members(session) if desk else [],
        duplicates=workflow.duplicates_of(session, report_id),
        media=report_media.for_report(session, report_id),
        state_name=places.state_name,
        states=places.state_codes(),
        statuses=REPORT_STATUSES,
    )


@bp.get("/<int:report_id>/media/<int:media_id>")
@require(SEE_REPORTERS)
def media_file(report_id: int, media_id: int) -> Response:
    """A photo, audio or video of the report: admins and verifiers only, never cached, audited."""
    with get_db().session() as session:  # the audit entry is saved with the reading
        media = session.get(ReportMedia, media_id)
        if media is None or media.report_id != report_id or media.status != MEDIA_STORED:
            abort(404)
        content = storage.store_for(current_app.config).read(media.key or "")
        if content is None:
            abort(404)
        audit_here(session, "report.media_view", f"report:{report_id}", media=media_id)
        content_type = media.content_type
    return Response(
        content,
        mimetype=content_type,
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
        },
    )


def _names(session: Session) -> dict[int, str]:
    return {u.id: u.name or u.email for u in session.scalars(select(User))}


def _desk_members(session: Session) -> list[User]:
    """The users who may verify in the acting organization (the assignee choices)."""
    acting = scope.acting_organization()
    users = list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)))
    if acting is None:
        return [u for u in users if u.role and allows(u.role, VERIFY)]
    roles = session.execute(
        select(PartnerRole.user_id, PartnerRole.role).where(PartnerRole.organization_id == acting)
    ).all()
    allowed = {user_id for user_id, role in roles if allows(role, VERIFY)}
    return [u for u in users if u.id in allowed]


def _refused(error: workflow.WorkflowError) -> None:
    values = {
        k: label("report_status", v) if k in ("before", "after") else v
        for k, v in error.values.items()
    }
    flash(_(error.msgid) % values if values else _(error.msgid), "error")


def _back(report_id: int) -> Response:
    return redirect(url_for(".detail", report_id=report_id))  # type: ignore[return-value]


@bp.post("/on-call")
@require(VERIFY)
def set_on_call() -> Response:
    """Choose who gets urgent reports' alerts by SMS for the acting desk."""
    raw = request.form.get("user", "")
    user_id = int(raw) if raw.isdigit() else None
    with get_db().session() as session:
        members = {u.id: u for u in _desk_members(session)}
        if user_id is not None and user_id not in members:
            abort(400)
        urgent.set_on_call(session, scope.acting_organization(), user_id, utcnow())
        audit_here(session, "report.on_call", None, on_call=user_id)
    if user_id is not None and not members[user_id].phone:
        flash(_("They have no phone number in their profile: alerts cannot reach them."), "error")
    else:
        flash(_("The on-call organizer was changed."), "success")
    return redirect(url_for(".index"))  # type: ignore[return-value]


@bp.post("/<int:report_id>/move")
@require(VERIFY)
def move(report_id: int) -> Response:
    """Move the report along the workflow (triage, verify, publish, archive…)."""
    to = request.form.get("to", "")
    if to not in REPORT_STATUSES:
        abort(400)
    user = g.user
    with get_db().session() as session:
        report = session.get_one(Report, report_id)
        try:
            before = workflow.move(session, report, to, user.id, utcnow())
        except workflow.WorkflowError as error:
            session.rollback()
            _refused(error)
            return _back(report_id)
        audit_here(session, "report.status", f"report:{report_id}", before=before, after=to)
    flash(
        _("Report #{id} is now: {status}.", id=report_id, status=label("report_status", to)),
        "success",
    )
    return _back(report_id)


@bp.post("/<int:report_id>/assign")
@require(VERIFY)
def assign(report_id: int) -> Response:
    raw = request.form.get("assignee", "")
    assignee = int(raw) if raw.isdigit() else None
    with get_db().session() as session:
        if assignee is not None and assignee not in {u.id for u in _desk_members(session)}:
            abort(400)
        report = session.get_one(Report, report_id)
        before = report.assignee_id
        workflow.assign(session, report, assignee, utcnow())
        audit_here(session, "report.assign", f"report:{report_id}", before=before, after=assignee)
    flash(_("Report #{id} was assigned.", id=report_id), "success")
    return _back(report_id)


@bp.post("/<int:report_id>/note")
@require(VERIFY)
def note(report_id: int) -> Response:
    with get_db().session() as session:
        report = session.get_one(Report, report_id)
        try:
            workflow.add_note(session, report, g.user.id, request.form.get("body", ""), utcnow())
        except workflow.WorkflowError as error:
            session.rollback()
            _refused(error)
            return _back(report_id)
        audit_here(session, "report.note", f"report:{report_id}")
    flash(_("Your note was kept."), "success")
    return _back(report_id)


@bp.post("/<int:report_id>/duplicate")
@require(VERIFY)
def duplicate(report_id: int) -> Response:
    """Link the report to another report of the same incident."""
    raw = request.form.get("original", "").lstrip("#")
    if not raw.isdigit():
        flash(_("Give the number of the other report."), "error")
        return _back(report_id)
    with get_db().session() as session:
        report = session.get_one(Report, report_id)
        original = session.get(Report, int(raw))
        try:
            if original is None or not scope.owns(original):
                raise workflow.WorkflowError(workflow.NO_SUCH_REPORT, id=raw)
            before = workflow.mark_duplicate(session, report, int(raw), utcnow())
        except workflow.WorkflowError as error:
            session.rollback()
            _refused(error)
            return _back(report_id)
        audit_here(
            session,
            "report.duplicate",
            f"report:{report_id}",
            before=before,
            original=report.duplicate_of_id,
        )
    flash(_("Report #{id} is marked as a duplicate.", id=report_id), "success")
    return _back(report_id)


@bp.post("/<int:report_id>/place")
@require(VERIFY)
def place(report_id: int) -> Response:
    """Correct the state and municipality the report was placed in."""
    adm1 = request.form.get("adm1", "")
    if adm1 and adm1 not in places.state_codes():
        abort(400)
    adm2 = request.form.get("adm2", "").strip()[:128]
    with get_db().session() as session:
        report = session.get_one(Report, report_id)
        before = [report.adm1, report.adm2]
        report.adm1, report.adm2 = adm1 or None, adm2 or None
        report.updated_at = utcnow()
        audit_here(
            session, "report.place", f"report:{report_id}", before=before, after=[adm1, adm2]
        )
    flash(_("The report's place was corrected."), "success")
    return _back(report_id)


@bp.get("/map")
def map_page() -> str:
    """Reports per state on a tile grid of the US and Mexico, with the list's filters."""
    session = get_session()
    filters = Filters.from_args(request.args)
    query = filters.apply(select(Report.adm1, func.count()).group_by(Report.adm1))
    counts = {code: n for code, n in session.execute(query) if code}
    unplaced = sum(n for code, n in session.execute(query) if not code)
    return render_template(
        "dashboard/reports_map.html",
        tiles=tiles.tiles(counts),
        counts=counts,
        unplaced=unplaced,
        filters=filters,
        statuses=REPORT_STATUSES,
        categories=_categories(session),
        states=places.state_codes(),
        state_name=places.state_name,
    )


def _exported() -> tuple[list[ReportView], bool]:
    """The reports an export holds: published ones, unless a desk member asks for more."""
    filters = Filters.from_args(request.args)
    if not (request.args.get("all") == "1" and may(VERIFY)):
        filters = Filters(**{**filters.__dict__, "status": REPORT_PUBLISHED})
    exact = request.args.get("exact") == "1" and may(MANAGE)
    with get_db().session() as session:  # the audit entry is saved with the reading
        rows = session.scalars(filters.apply(select(Report)).order_by(Report.id).limit(EXPORT_MAX))
        shown = [_view(r) for r in rows]
        audit_here(
            session,
            "report.export",
            None,
            format=request.path.rsplit(".", 1)[-1],
            rows=len(shown),
            exact=exact,
            **filters.args(),
        )
    return shown, exact


@bp.get("/export.csv")
def export_csv() -> Response:
    shown, exact = _exported()
    name = f"puente-reports-{utcnow():%Y%m%d}.csv"
    return Response(
        export.to_csv(shown, exact=exact),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/export.json")
def export_json() -> Response:
    shown, exact = _exported()
    body = json.dumps(export.to_json(shown, exact=exact), ensure_ascii=False, default=str)
    return Response(body, mimetype="application/json")
