"""Puente's command groups, registered on the app's CLI (the `puente` command is bot.command).

`init_app` adds them to the app: db, chat, users, partners, contacts,
audiences, broadcast, events. `flows` works without an app (it checks flows that keep
an app from starting), so bot.command adds it to the command itself.
"""

from __future__ import annotations

import os
from typing import Any

import click
from flask import Flask, current_app

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
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--segments", is_flag=True, help="print every message's SMS segments per language")
@click.option("--strict", is_flag=True, help="also require every variable to be configured")
def flows_check(directory: str | None, segments: bool, strict: bool) -> None:
    """Validate every flow in DIRECTORY (default: FLOWS_DIR, else the shipped flows/).

    Checks schema, steps, keywords, catalogs and SMS cost. Works without
    starting the app, which refuses to start with a broken flow. With
    --strict, a flow whose required variables are not configured is an
    error: the app starts, but with that flow disabled.
    """
    from bot.config import flows_dir
    from bot.conversations import flow_variables
    from bot.flows.check import check_flows, format_segments, segment_counts
    from bot.flows.loader import read_flows

    directory = directory or flows_dir(os.environ)
    variables = flow_variables(_settings()) if strict else None
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
    from bot.chat import chat_command
    from bot.cli.users import users_group

    app.cli.add_command(db_group)
    app.cli.add_command(chat_command)
    app.cli.add_command(users_group)
    from bot.cli.broadcasts import GROUPS  # contacts, audiences, broadcast, events
    from bot.cli.partners import partners_group
    from bot.cli.petitions import petitions_group

    app.cli.add_command(partners_group)
    app.cli.add_command(petitions_group)

    for group in GROUPS:
        app.cli.add_command(group)


def _settings() -> dict[str, Any]:
    """The settings, or one line per problem on stderr and exit 2."""
    from bot.config import exit_on_config_error, from_environ
    from bot.exceptions import ConfigError

    try:
        return from_environ()
    except ConfigError as error:
        exit_on_config_error(error)
