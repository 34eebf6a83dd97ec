"""Puente: a bilingual SMS and WhatsApp organizing bot."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from bot import config as settings
from bot import db
from bot.compliance.keywords import load_rules
from bot.defaults import DEFAULT_DEV_TWILIO_API_PATH


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The app factory: settings from the environment, overridden by ``test_config``."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(settings.from_environ())
    if test_config:
        app.config.from_mapping(test_config)
    logging.basicConfig(
        level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not app.config["TWILIO_API_URL"] and not app.config["PRODUCTION"]:
        _mount_local_outbox(app)
    db.init_app(app)
    load_rules()  # a broken deployer keyword file stops start-up, not a webhook

    from bot import cli, conversations
    from bot.web import dashboard, health, petition_page, referral, simulator, webhooks

    conversations.init_app(app)  # a broken flow stops start-up; an unconfigured one is disabled
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)  # /healthz for the platform's probes: no sign-in
    app.register_blueprint(referral.bp)  # /j/<slug>: partners' public join links, no sign-in
    app.register_blueprint(petition_page.bp)  # /p/<slug>: petitions' public counts, no sign-in
    if not app.config["PRODUCTION"]:
        app.register_blueprint(simulator.bp)  # signs requests: development only
    dashboard.init_app(app)  # sign-in on every other page, CSRF on every form
    cli.init_app(app)
    _mount_links(app)
    return app


def _mount_links(app: Flask) -> None:
    """/l/<code>: broadcasts' tracked links, a plain WSGI app in front of Flask (no sign-in,
    no session: bot.web.links says why)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from bot.web import links

    redirects = links.Redirects(app.extensions["puente.db"], app.config)
    app.extensions["puente.links"] = redirects  # its clicks: tests flush them
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {links.MOUNT: redirects})  # type: ignore[method-assign]


def _mount_local_outbox(app: Flask) -> None:
    """Development: the fake Twilio API at /fake-twilio stands in for Twilio."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from bot.channels.fake_twilio import create_fake_twilio

    fake = create_fake_twilio(auth_token=app.config["TWILIO_AUTH_TOKEN"], callbacks=True)
    app.extensions["fake_twilio"] = fake
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {DEFAULT_DEV_TWILIO_API_PATH: fake})  # type: ignore[method-assign]
    app.config["TWILIO_API_URL"] = app.config["PUBLIC_URL"] + DEFAULT_DEV_TWILIO_API_PATH
