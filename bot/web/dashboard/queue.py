"""Queue health (admins only): jobs waiting, failed jobs, workers.

The summary (jobs waiting) comes from ``bot.queue``; failed jobs, workers and
each job are rq-dashboard's pages, mounted
at /dashboard/queue/rq/ for admins and read-only: its buttons post without a
CSRF token and are refused, and its requeue-by-GET link is closed. The
broadcast engine rebuilds its jobs from the database, so nothing needs
requeueing by hand.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, abort, current_app, render_template, request

from bot import queue
from bot.accounts.roles import MANAGE
from bot.sending.process import redis_url
from bot.web.dashboard import scope
from bot.web.dashboard.auth import current_user, require

log = logging.getLogger(__name__)
bp = Blueprint("queue", __name__, url_prefix="/queue")

RQ_PREFIX = "/dashboard/queue/rq"
_RQ_READ_ONLY_REFUSED = {"rq_dashboard.requeue_all"}


def mount_rq_dashboard(app: Flask) -> None:
    """Serve rq-dashboard to admins when the app has a Redis to show."""
    url = redis_url(app.config)
    if not url:
        return
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    app.config["RQ_DASHBOARD_REDIS_URL"] = url
    app.config["RQ_DASHBOARD_DISABLE_DELETE"] = True
    setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=RQ_PREFIX)
    app.before_request(_rq_dashboard_admins_only)


def _rq_dashboard_admins_only() -> None:
    if request.blueprint != "rq_dashboard":
        return
    user = current_user()
    if user is None or not scope.may(MANAGE):  # the coalition's admins only
        abort(403)
    if request.method != "GET" or request.endpoint in _RQ_READ_ONLY_REFUSED:
        abort(405)


def summary() -> dict[str, Any] | None:
    """Waiting jobs per queue; None when there is no Redis.

    Failed jobs and workers are on rq-dashboard's page, one click away.
    """
    url = redis_url(current_app.config)
    if not url:
        return None
    connection = queue.connect(url)
    try:
        return {"waiting": queue.counts(connection)}
    except Exception:  # noqa: BLE001 - any Redis trouble is shown as "unreachable"
        log.warning("queue health: Redis is unreachable", exc_info=True)
        return {"error": True}
    finally:
        connection.close()


@bp.get("/")
@require(MANAGE)
def page() -> str:
    """The queue's health on one page."""
    return render_template(
        "dashboard/queue.html",
        health=summary(),
        rq_mounted="rq_dashboard" in current_app.blueprints,
    )
