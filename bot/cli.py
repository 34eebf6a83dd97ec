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


@click.group("flows")
def flows_group() -> None:
    """Conversation flows."""


@flows_group.command("check")
@click.option("--segments", is_flag=True, help="print every message's SMS segments per language")
@click.option("--strict", is_flag=True, help="also require every configured variable")
def flows_check(segments: bool, strict: bool) -> None:
    """Validate every flow: schema, steps, keywords, catalogs, SMS cost.

    Works without starting the app, which refuses to start with a broken flow.
    """
    from bot.config import from_environ
    from bot.conversations import FLOWS_DIR, flow_variables
    from bot.flows.check import check_flows, format_segments, segment_counts
    from bot.flows.loader import read_flows

    settings = from_environ()
    directory = settings.get("FLOWS_DIR") or FLOWS_DIR
    variables = flow_variables(settings) if strict else None
    problems = check_flows(directory, variables=variables)
    for problem in problems:
        click.secho(str(problem), fg="red" if problem.severity == "error" else "yellow")
    if segments:
        click.echo(format_segments(segment_counts(read_flows(directory)[0])))
    errors = sum(p.severity == "error" for p in problems)
    click.echo(f"{errors} error(s), {len(problems) - errors} warning(s)")
    if errors:
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    """Register Puente's command groups on the app's CLI."""
    from bot.accounts.cli import users_group
    from bot.chat import chat_command

    app.cli.add_command(db_group)
    app.cli.add_command(chat_command)
    app.cli.add_command(users_group)
    from bot.broadcasts.cli import GROUPS  # contacts, audiences, broadcast, events

    for group in GROUPS:
        app.cli.add_command(group)


def _create_app() -> Flask:
    from bot import create_app

    return create_app()


main = FlaskGroup(create_app=_create_app, help="Puente: SMS and WhatsApp organizing bot.")
main.add_command(flows_group)  # outside the app: it must work when the app cannot start
