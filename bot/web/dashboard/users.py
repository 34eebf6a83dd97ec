"""Users (the coalition's admins only): invite organizers, give them roles in the
coalition or in partners, deactivate, reset passwords."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.accounts.models import User, new_session_token
from bot.accounts.roles import MANAGE, ROLE_ADMIN, ROLES
from bot.accounts.users import (
    AccountError,
    count_admins,
    create_user,
    set_partner_role,
    set_password,
)
from bot.db import get_db, get_session
from bot.i18n import LANGUAGES, N_
from bot.partners import organizations
from bot.partners.models import Organization
from bot.web.dashboard.auth import audit_here, current_user, require
from bot.web.dashboard.language import _

bp = Blueprint("users", __name__, url_prefix="/users")

NO_ROLE = ""  # the coalition role of a user who works only for partners
NO_PARTNER_ROLE = N_("Choose a partner and a role, or a coalition role.")


@bp.before_request
@require(MANAGE)
def _admins_only() -> None:
    """Every page here is for the coalition's admins."""


@bp.get("/")
def index() -> str:
    """Every user, active ones first, with their roles in the coalition and in partners."""
    session = get_session()
    users = session.scalars(select(User).order_by(User.active.desc(), User.email)).all()
    partners = organizations.partners(session)
    return render_template(
        "dashboard/users.html",
        users=users,
        roles=ROLES,
        partners=partners,
        partner_names={p.id: p for p in partners},
    )


def _partner(session: Session, value: str | None) -> Organization | None:
    """The active partner a form names by id, or None."""
    if not value or not value.isdigit():
        return None
    found = session.get(Organization, int(value))
    if found is None or found.is_root or found.archived_at is not None:
        return None
    return found


@bp.post("/")
def create() -> Any:
    """Create a user with a first password the admin hands over.

    With a partner chosen, the role is their role in that partner and they
    have none in the coalition.
    """
    form = request.form
    try:
        with get_db().session() as session:
            partner = _partner(session, form.get("partner"))
            if form.get("partner") and partner is None:
                raise AccountError(NO_PARTNER_ROLE)
            user = create_user(
                session, form.get("email", ""), form.get("name", ""),
                form.get("password", ""), form.get("role", ""), form.get("language", "es"),
            )  # fmt: skip
            if partner is not None:
                set_partner_role(user, partner.id, user.role)
                user.role = None
            audit_here(
                session, "user.create", f"user:{user.id}", role=user.role,
                partner=partner.id if partner else None,
                partner_role=user.role_in(partner.id) if partner else None,
            )  # fmt: skip
    except AccountError as exc:
        flash(_(str(exc)), "error")
        return redirect(url_for(".index"))
    flash(_("{email} can sign in now.", email=user.email), "success")
    return redirect(url_for(".index"))


@bp.post("/<int:user_id>")
def update(user_id: int) -> Any:
    """Change a user's coalition role or active flag, or set a new password."""
    form = request.form
    me = current_user()
    assert me is not None
    with get_db().session() as session:
        user = session.get(User, user_id) or abort(404)
        problem = _apply(session, user, form, me.id)
        if problem is None:
            audit_here(
                session, "user.update", f"user:{user.id}",
                role=user.role, active=user.active, password_reset=bool(form.get("password")),
            )  # fmt: skip
    if problem:
        flash(_(problem), "error")
    else:
        flash(_("{email} is updated.", email=user.email), "success")
    return redirect(url_for(".index"))


@bp.post("/<int:user_id>/partner-role")
def partner_role(user_id: int) -> Any:
    """Give a user a role in one partner, change it, or take it away (no role)."""
    form = request.form
    role = form.get("role", "") or None
    with get_db().session() as session:
        user = session.get(User, user_id) or abort(404)
        partner = _partner(session, form.get("partner"))
        problem = None
        if partner is None:
            problem = NO_PARTNER_ROLE
        elif role is None and not user.role and len(user.partner_roles) <= 1:
            problem = N_("A user needs a role somewhere: give them another one first.")
        else:
            try:
                set_partner_role(user, partner.id, role)
            except AccountError as exc:
                problem = str(exc)
        if problem is None:
            audit_here(
                session, "user.partner_role", f"user:{user.id}",
                partner=partner.id, partner_role=role,  # type: ignore[union-attr]
            )  # fmt: skip
    if problem:
        flash(_(problem), "error")
    else:
        flash(_("{email} is updated.", email=user.email), "success")
    return redirect(url_for(".index"))


def _apply(session: Any, user: User, form: Any, my_id: int) -> str | None:
    """Apply the form to ``user``; returns an error msgid and changes nothing on error."""
    role = form.get("role", user.role or NO_ROLE) or None
    active = form.get("active", "1" if user.active else "0") == "1"
    language_ok = form.get("language", user.language) in LANGUAGES
    if (role is not None and role not in ROLES) or not language_ok:
        return N_("Choose a role.")
    if role is None and not user.partner_roles:
        return N_("A user needs a role somewhere: give them another one first.")
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
