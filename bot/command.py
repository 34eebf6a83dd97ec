"""The `puente` command: Flask's CLI (run, shell, routes) plus Puente's own groups.

It builds the app (whose factory registers the groups of bot.cli); nothing in
bot imports it, so the app factory and the command do not import each other.
"""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup

from bot import create_app
from bot.cli import flows_group
from bot.config import exit_on_config_error
from bot.exceptions import ConfigError


def _create_app() -> Flask:
    """The app, or one line per bad setting on stderr and exit 2."""
    try:
        return create_app()
    except ConfigError as error:
        exit_on_config_error(error)


main = FlaskGroup(create_app=_create_app, help="Puente: SMS and WhatsApp organizing bot.")
main.add_command(flows_group)  # outside the app: it must work when the app cannot start
