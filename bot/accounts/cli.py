"""`puente users ...`: make the first admin, list users, reset a password."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot.accounts import audit
from bot.accounts.models import User
from bot.accounts.roles import ROLE_ADMIN, ROLES
from bot.accounts.users import AccountError, create_user, find_by_email, set_password
from bot.db import Database
from bot.i18n import LANGUAGES


def _db() -> Database:
    return current_app.extensions["puente.db"]


users_group = AppGroup("users", help="Dashboard users.")  # each command runs in the app context


@users_group.command("create")
@click.option("--email", prompt=True, help="Signs in with this email.")
@click.option("--name", prompt=True, help="Shown in the dashboard and the audit log.")
@click.option("--role", type=click.Choice(ROLES), default=ROLE_ADMIN, show_default=True)
@click.option("--language", type=click.Choice(LANGUAGES), default="es", show_default=True)
@click.password_option(help="At least 12 characters; asked for when not given.")
def create(email: str, name: str, role: str, language: str, password: str) -> None:
    """Create a user (the first one is usually an admin)."""
    try:
        with _db().session() as session:
            user = create_user(session, email, name, password, role, language)
            audit.record(session, None, "user.create", f"user:{user.id}", role=role, via="cli")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {role} {user.email}")


@users_group.command("list")
def list_users() -> None:
    """Every user: email, role, language, active."""
    with _db().session() as session:
        for user in session.scalars(select(User).order_by(User.email)):
            state = "active" if user.active else "inactive"
            click.echo(f"{user.email}\t{user.role}\t{user.language}\t{state}")


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
