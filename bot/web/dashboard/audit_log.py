"""The audit log (admins only): who changed what, who sent what, when."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from bot.accounts.models import AuditEntry
from bot.accounts.roles import MANAGE
from bot.db import get_session
from bot.web.dashboard.auth import require

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
    entries = get_session().scalars(query.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE)).all()
    return render_template("dashboard/audit_log.html", entries=entries, action=action)
