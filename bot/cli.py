"""The `puente` command: Flask's CLI (run, shell, routes) plus Puente's own groups."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup

from bot.db import upgrade


@click.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema."""
    upgrade(current_app.config["DATABASE_URL"])
    click.echo("database is up to date")


def init_app(app: Flask) -> None:
    """Register Puente's command groups on the app's CLI."""
    app.cli.add_command(db_group)


def _create_app() -> Flask:
    from bot import create_app

    return create_app()


main = FlaskGroup(create_app=_create_app, help="Puente: SMS and WhatsApp organizing bot.")
