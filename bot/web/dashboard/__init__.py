"""The organizers' dashboard at /dashboard: one blueprint per area, behind a session.

`init_app` wires in what the whole app needs for it: CSRF protection on every
form (Twilio's webhooks and the dev simulator are exempt; Twilio signs its
requests), the session gate, secure cookies and headers, and rq-dashboard.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect

from bot.accounts.roles import EDIT, MANAGE, SEE_PHONES, SEE_REPORTERS, SEE_TEXTS, SEND, VERIFY
from bot.i18n import LANGUAGES, N_
from bot.web.dashboard import (
    audit_log,
    auth,
    broadcasts,
    contacts,
    events,
    flows,
    inbox,
    masking,
    overview,
    partners,
    petitions,
    queue,
    reports,
    rollup,
    scope,
    users,
)
from bot.web.dashboard.labels import label
from bot.web.dashboard.language import (
    LANGUAGE_NAMES,
    _,
    _n,
    current_language,
    format_day,
    format_number,
    format_when,
)

csrf = CSRFProtect()
bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/static",
)
for area in (
    auth,
    overview,
    contacts,
    broadcasts,
    events,
    inbox,
    reports,
    flows,
    petitions,
    users,
    partners,
    audit_log,
    queue,
    rollup,
):
    bp.register_blueprint(area.bp)

# The menu: endpoint, label, permission needed to see it (None: everyone signed in).
NAVIGATION = (
    ("dashboard.overview.page", N_("Overview"), None),
    ("dashboard.contacts.index", N_("Contacts"), None),
    ("dashboard.broadcasts.index", N_("Broadcasts"), None),
    ("dashboard.events.index", N_("Events"), None),
    ("dashboard.inbox.index", N_("Inbox"), None),
    ("dashboard.reports.index", N_("Reports"), None),
    ("dashboard.flows.index", N_("Flows"), None),
    ("dashboard.petitions.index", N_("Petitions"), None),
    ("dashboard.users.index", N_("Users"), MANAGE),
    ("dashboard.partners.index", N_("Partners"), MANAGE),
    ("dashboard.audit_log.index", N_("Audit log"), MANAGE),
    ("dashboard.queue.page", N_("Queue"), MANAGE),
    ("dashboard.rollup.page", N_("Roll-up"), MANAGE),
)
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def init_app(app: Flask) -> None:
    """Register the dashboard and protect the whole app: sessions, CSRF, headers."""
    _configure_session(app)
    app.before_request(auth.load_user)
    app.before_request(auth.require_login)  # before CSRF: anonymous requests get 401, not 400
    app.before_request(_upload_limit)  # before CSRF reads the form under the webhook's limit
    csrf.init_app(app)
    for name in auth.PUBLIC_BLUEPRINTS & app.blueprints.keys():
        csrf.exempt(app.blueprints[name])  # Twilio signs its requests; the simulator is dev-only
    app.register_blueprint(bp)
    queue.mount_rq_dashboard(app)
    app.register_error_handler(CSRFError, _csrf_refused)
    if "simulator" not in app.blueprints:
        app.add_url_rule("/", "root", lambda: redirect(url_for("dashboard.overview.page")))


def _configure_session(app: Flask) -> None:
    """Session cookies: not readable by scripts, not sent cross-site, HTTPS in production."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("PRODUCTION"))
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", dt.timedelta(hours=12))
    # A token lives as long as the session: composing a long broadcast must not expire it.
    app.config["WTF_CSRF_TIME_LIMIT"] = None


def _upload_limit() -> None:
    """The CSV import may be larger than the app-wide limit, which fits Twilio's webhooks."""
    if request.endpoint == "dashboard.contacts.import_csv":
        request.max_content_length = contacts.MAX_IMPORT_BYTES + 64 * 1024  # and the form


def _csrf_refused(error: CSRFError) -> tuple[str, int]:
    """A form without its token (or an old one): say so kindly, change nothing."""
    return render_template(
        "dashboard/error.html",
        code=400,
        reason=_("This form has expired. Go back, reload the page and try again."),
    ), 400


@bp.after_request
def _secure_headers(response: Response) -> Response:
    """Pages with contacts' data are never cached, framed or leaked in a Referer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = _CSP
    return masking.redact_response(response)


@bp.app_errorhandler(401)
@bp.app_errorhandler(403)
@bp.app_errorhandler(404)
def _error_page(error: Any) -> Any:
    """The dashboard's own 401/403/404 pages, in the user's language."""
    if not request.path.startswith("/dashboard"):
        return error
    reasons = {
        401: N_("Sign in to see this page."),
        403: N_("Your role does not allow this. Ask an admin if you need it."),
        404: N_("There is nothing here."),
    }
    code = error.code
    return render_template("dashboard/error.html", code=code, reason=_(reasons[code])), code


@bp.app_context_processor  # error pages render outside the blueprint too
def _template_helpers() -> dict[str, Any]:
    """What every dashboard template may use: translation, masking, formatting, the menu."""
    user = g.get("user")
    return {
        "_": _,
        "_n": _n,
        "label": label,
        "user": user,
        "lang": current_language(),
        "languages": LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "navigation": [
            (endpoint, msgid)
            for endpoint, msgid, permission in NAVIGATION
            if user is not None and (permission is None or scope.may(permission))
        ],
        "scope": scope.current(),
        "may": masking.may,
        "EDIT": EDIT,
        "SEND": SEND,
        "MANAGE": MANAGE,
        "SEE_PHONES": SEE_PHONES,
        "SEE_TEXTS": SEE_TEXTS,
        "VERIFY": VERIFY,
        "SEE_REPORTERS": SEE_REPORTERS,
        "reporter_phone": masking.reporter_phone,
        "show_phone": masking.phone,
        "show_text": masking.text,
        "contact_name": masking.contact_name,
        "when": format_when,
        "day": format_day,
        "number": format_number,
        "has_simulator": "simulator" in current_app.blueprints,
    }
