"""`puente users ...`: make the first admin, give users roles in partners, list them,
reset a password."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.accounts import audit
from bot.accounts.models import User
from bot.accounts.roles import ROLE_ADMIN, ROLES
from bot.accounts.users import (
    AccountError,
    create_user,
    find_by_email,
    set_partner_role,
    set_password,
)
from bot.db import Database
from bot.i18n import LANGUAGES
from bot.partners import organizations
from bot.partners.models import Organization


def _db() -> Database:
    return current_app.extensions["puente.db"]


def _partner(session: Session, slug: str) -> Organization:
    """The active partner with this slug, or a ClickException."""
    partner = organizations.by_slug(session, slug)
    if partner is None:
        raise click.ClickException(f"no partner {slug}")
    return partner


users_group = AppGroup("users", help="Dashboard users.")  # each command runs in the app context


@users_group.command("create")
@click.option("--email", prompt=True, help="Signs in with this email.")
@click.option("--name", prompt=True, help="Shown in the dashboard and the audit log.")
@click.option("--role", type=click.Choice(ROLES), default=ROLE_ADMIN, show_default=True)
@click.option(
    "--partner", "partner_slug", help="Their role is in this partner (slug), not the coalition."
)
@click.option("--language", type=click.Choice(LANGUAGES), default="es", show_default=True)
@click.password_option(help="At least 12 characters; asked for when not given.")
def create(
    email: str, name: str, role: str, partner_slug: str | None, language: str, password: str
) -> None:
    """Create a user (the first one is usually an admin).

    With --partner they work for that partner only: they see its members and
    nothing else, and have no role in the coalition.
    """
    try:
        with _db().session() as session:
            partner = _partner(session, partner_slug) if partner_slug else None
            user = create_user(session, email, name, password, role, language)
            if partner is not None:
                set_partner_role(user, partner.id, role)
                user.role = None
            audit.record(
                session, None, "user.create", f"user:{user.id}", role=user.role,
                partner=partner_slug, partner_role=role if partner else None, via="cli",
            )  # fmt: skip
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    where = f" in {partner_slug}" if partner_slug else ""
    click.echo(f"created {role}{where} {user.email}")


@users_group.command("role")
@click.argument("email")
@click.option("--partner", "partner_slug", required=True, help="The partner's slug.")
@click.option("--role", type=click.Choice([*ROLES, "none"]), required=True)
def partner_role(email: str, partner_slug: str, role: str) -> None:
    """Give a user a role in a partner, change it, or take it away (--role none)."""
    try:
        with _db().session() as session:
            user = find_by_email(session, email)
            if user is None:
                raise click.ClickException(f"no user {email}")
            partner = _partner(session, partner_slug)
            set_partner_role(user, partner.id, None if role == "none" else role)
            audit.record(
                session, None, "user.partner_role", f"user:{user.id}",
                partner=partner_slug, partner_role=role, via="cli",
            )  # fmt: skip
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{email}: {role} in {partner_slug}")


@users_group.command("list")
def list_users() -> None:
    """Every user: email, coalition role, language, active, then their partners' roles."""
    with _db().session() as session:
        slugs = {p.id: p.slug for p in organizations.partners(session, archived=True)}
        for user in session.scalars(select(User).order_by(User.email)):
            state = "active" if user.active else "inactive"
            roles = ",".join(
                f"{slugs.get(r.organization_id, r.organization_id)}:{r.role}"
                for r in sorted(user.partner_roles, key=lambda r: r.organization_id)
            )
            line = f"{user.email}\t{user.role or '-'}\t{user.language}\t{state}"
            click.echo(f"{line}\t{roles}" if roles else line)


@users_group.command("set-password")
@click.argument("email")
@click.password_option(help="At least 12 characters; asked for when not given.")
def change_password(email: str, password: str) -> None:
    """Set a new password (signs that user out everywhere)."""
    try:
        with _db().session() as session:
            user = find_by_email(session, email)
            if user is None:
                raise click.ClickException(f"no user {email}")
            set_password(user, password)
            audit.record(session, None, "user.password", f"user:{user.id}", via="cli")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password changed for {email}")
