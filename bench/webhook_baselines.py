"""The two baselines of bench/webhook.py: plain WSGI apps for gunicorn, no Puente code.

    gunicorn --pythonpath bench webhook_baselines:signature_only
    gunicorn --pythonpath bench webhook_baselines:signature_and_insert

Both answer POST /twilio/messages as Puente's webhook does at its edges: read
the form, check X-Twilio-Signature with twilio's RequestValidator over
PUBLIC_URL + the path (bot/channels/twilio.py validate_signature), 403 when
it is wrong, and return TwiML built with MessagingResponse (here empty).

- signature_only (baseline a): nothing else.
- signature_and_insert (baseline b): one INSERT per request into
  webhook_baseline (MessageSid unique, as Puente's messages table), committed
  before answering, on BASELINE_DATABASE_URL. The engine is built when
  gunicorn's worker imports this module (no --preload): a fresh pool per
  worker, SQLAlchemy's defaults (5 connections for 4 threads), no pre-ping.

Settings from the environment: PUBLIC_URL, TWILIO_AUTH_TOKEN, and for
signature_and_insert BASELINE_DATABASE_URL (postgresql+psycopg://…).
"""

from __future__ import annotations

import datetime as dt
import os

from flask import Flask, Response, abort, request
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
)
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

PATH = "/twilio/messages"
metadata = MetaData()
inbound = Table(
    "webhook_baseline",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("sid", String(64), nullable=False, unique=True),
    Column("sender", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


def create_table(url: str) -> None:
    """Create webhook_baseline (bench/webhook.py calls this before starting gunicorn)."""
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()


def _checked_params() -> dict[str, str]:
    """The form, or 403 when X-Twilio-Signature does not match PUBLIC_URL + the path."""
    params = request.form.to_dict()
    signature = request.headers.get("X-Twilio-Signature", "")
    url = os.environ["PUBLIC_URL"].rstrip("/") + request.path
    if not signature or not RequestValidator(os.environ["TWILIO_AUTH_TOKEN"]).validate(
        url, params, signature
    ):
        abort(403)
    if not params.get("From") or not params.get("MessageSid"):
        abort(400)
    return params


def _empty_twiml() -> Response:
    return Response(str(MessagingResponse()), mimetype="application/xml")


def make_signature_only() -> Flask:
    app = Flask("signature_only")

    @app.post(PATH)
    def messages() -> Response:
        _checked_params()
        return _empty_twiml()

    return app


def make_signature_and_insert(engine: Engine) -> Flask:
    app = Flask("signature_and_insert")

    @app.post(PATH)
    def messages() -> Response:
        params = _checked_params()
        with engine.begin() as connection:  # one transaction, committed before the answer
            connection.execute(
                insert(inbound).values(
                    sid=params["MessageSid"],
                    sender=params["From"],
                    body=params.get("Body", ""),
                    received_at=dt.datetime.now(dt.UTC),
                )
            )
        return _empty_twiml()

    return app


signature_only = make_signature_only()
_url = os.environ.get("BASELINE_DATABASE_URL")
signature_and_insert = make_signature_and_insert(create_engine(_url)) if _url else None
