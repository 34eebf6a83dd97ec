"""Users (admins only): invite organizers, change roles, deactivate, reset passwords."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.accounts import audit
from bot.accounts.models import User, new_session_token
from bot.accounts.roles import MANAGE, ROLE_ADMIN, ROLES
from bot.accounts.users import AccountError, count_admins, create_user, set_password
from bot.db import get_db, get_session
from bot.i18n import LANGUAGES, N_
from bot.web.dashboard.auth import client_ip, current_user, require
from bot.web.dashboard.language import _

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.before_request
@require(MANAGE)
def _admins_only() -> None:
    """Every page here is for admins."""


@bp.get("/")
def index() -> str:
    """Every user, active ones first."""
    users = get_session().scalars(select(User).order_by(User.active.desc(), User.email)).all()
    return render_template("dashboard/users.html", users=users, roles=ROLES)


@bp.post("/")
def create() -> Any:
    """Create a user with a first password the admin hands over."""
    form = request.form
    try:
        with get_db().session() as session:
            user = create_user(
                session, form.get("email", ""), form.get("name", ""),
                form.get("password", ""), form.get("role", ""), form.get("language", "es"),
            )  # fmt: skip
            audit.record(
                session, current_user(), "user.create", f"user:{user.id}", client_ip(),
                role=user.role,
            )  # fmt: skip
    except AccountError as exc:
        flash(_(str(exc)), "error")
        return redirect(url_for(".index"))
    flash(_("{email} can sign in now.", email=user.email), "success")
    return redirect(url_for(".index"))


@bp.post("/<int:user_id>")
def update(user_id: int) -> Any:
    """Change a user's role or active flag, or set a new password."""
    form = request.form
    me = current_user()
    assert me is not None
    with get_db().session() as session:
        user = session.get(User, user_id) or abort(404)
        problem = _apply(session, user, form, me.id)
        if problem is None:
            audit.record(
                session, me, "user.update", f"user:{user.id}", client_ip(),
                role=user.role, active=user.active, password_reset=bool(form.get("password")),
            )  # fmt: skip
    if problem:
        flash(_(problem), "error")
    else:
        flash(_("{email} is updated.", email=user.email), "success")
    return redirect(url_for(".index"))


def _apply(session: Any, user: User, form: Any, my_id: int) -> str | None:
    """Apply the form to ``user``; returns an error msgid and changes nothing on error."""
    role = form.get("role", user.role)
    active = form.get("active", "1" if user.active else "0") == "1"
    if role not in ROLES or form.get("language", user.language) not in LANGUAGES:
        return N_("Choose a role.")
    losing_admin = user.role == ROLE_ADMIN and user.active and (role != ROLE_ADMIN or not active)
    if losing_admin and count_admins(session) <= 1:
        return N_("There must always be at least one active admin.")
    if user.id == my_id and not active:
        return N_("You cannot deactivate yourself.")
    if form.get("password"):
        try:
            set_password(user, form["password"])
        except AccountError as exc:
            return str(exc)
    if active != user.active or role != user.role:
        user.session_token = new_session_token()  # their open sessions end
    user.role, user.active = role, active
    return None
