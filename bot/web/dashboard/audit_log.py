"""The audit log (the coalition's admins only): who changed what, who sent what, when,
and for which organization."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from bot.accounts.models import AuditEntry
from bot.accounts.roles import MANAGE
from bot.db import get_session
from bot.partners import organizations
from bot.web.dashboard.auth import require
from bot.web.dashboard.language import current_language

bp = Blueprint("audit_log", __name__, url_prefix="/audit")

PAGE_SIZE = 100


@bp.get("/")
@require(MANAGE)
def index() -> str:
    """The latest entries, optionally for one action or one user."""
    query = select(AuditEntry)
    action = request.args.get("action", "").strip()
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    before = request.args.get("before", type=int)
    if before:
        query = query.where(AuditEntry.id < before)
    session = get_session()
    entries = session.scalars(query.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE)).all()
    root = organizations.root(session)
    return render_template(
        "dashboard/audit_log.html",
        entries=entries,
        action=action,
        organizations={p.id: p for p in organizations.partners(session, archived=True)},
        coalition_name=root.name(current_language()),
    )
