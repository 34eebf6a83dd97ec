"""``GET /healthz``: can this instance do its work? For Render, Heroku and Kubernetes probes.

200 when the database answers ``SELECT 1`` and Redis answers PING; 503 naming
what is down. Without REDIS_URL (development's embedded queue) the queue is
reported as "embedded" and not checked. The body is JSON and never holds a
secret (no URL, no password, no error text: the reason goes to the log). No
sign-in and no CSRF: the probe has neither. Redis gets one-second timeouts and
no retries, so a hung Redis cannot hold the probe for more than about 2 s.
"""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, current_app, jsonify
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.db import get_db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

REDIS_TIMEOUT_S = 1.0
OK, DOWN, EMBEDDED = "ok", "down", "embedded"


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """``{"status": "ok", "database": "ok", "queue": "ok"}``, or 503 with what is down."""
    checks = {"database": database_state(), "queue": queue_state()}
    down = DOWN in checks.values()
    response = jsonify({"status": DOWN if down else OK, **checks})
    response.headers["Cache-Control"] = "no-store"
    return response, 503 if down else 200


def database_state() -> str:
    """One ``SELECT 1`` on a pooled connection (no transaction, so no SQLite write lock)."""
    try:
        connection = get_db().engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
        finally:
            connection.close()  # back to the pool
    except Exception as exc:  # noqa: BLE001 - whatever the reason, the database is down
        log.warning("health: the database does not answer: %s", exc.__class__.__name__)
        return DOWN
    return OK


def queue_state() -> str:
    """One PING to REDIS_URL with short timeouts; "embedded" when there is no REDIS_URL."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return EMBEDDED
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_timeout=REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - refused, timed out, refused our password…
        log.warning("health: Redis does not answer: %s", exc.__class__.__name__)
        return DOWN
    finally:
        client.close()
    return OK
