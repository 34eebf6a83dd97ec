"""Signing in and out, the language switch, one's own profile, and the session gate.

Every request is refused to an anonymous user unless its endpoint is listed
as public here (deny by default): a new page cannot be left open by mistake.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from zoneinfo import available_timezones

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from bot import phones
from bot.accounts import audit, passwords
from bot.accounts.models import User
from bot.accounts.users import AccountError, set_password, sign_in
from bot.db import get_db, utcnow
from bot.i18n import LANGUAGES, N_
from bot.web.dashboard import scope
from bot.web.dashboard.language import _, choose_language

bp = Blueprint("auth", __name__)

# Open without a session: Twilio's webhooks (signed by Twilio), the dev-only
# simulator, the health probe, partners' join links (/j/<slug>: a public page and its
# QR code), petitions' public counts (/p/<slug>: no signer's data), static files, the
# sign-in page and its language switch.
PUBLIC_BLUEPRINTS = frozenset({"twilio", "simulator", "health", "referral", "petition_page"})
PUBLIC_ENDPOINTS = frozenset(
    {"static", "dashboard.static", "dashboard.auth.login", "dashboard.auth.language", "root"}
)
TIMEZONES = (
    "America/Los_Angeles", "America/Denver", "America/Phoenix", "America/Chicago",
    "America/New_York", "America/Tijuana", "America/Hermosillo", "America/Chihuahua",
    "America/Mexico_City", "America/Monterrey", "America/Cancun", "UTC",
)  # fmt: skip

View = TypeVar("View", bound=Callable[..., Any])


def current_user() -> User | None:
    """The signed-in user of this request, if any."""
    return g.get("user")


def load_user() -> None:
    """Find the session's user and the organization they act for (``g.scope``).

    A changed password or a deactivation ends the session.
    """
    g.user, g.scope = None, scope.NOBODY
    user_id, token = session.get("user_id"), session.get("token", "")
    if user_id is not None:
        with get_db().session() as db_session:
            user = db_session.get(User, user_id)
            if user is not None and user.active and hmac.compare_digest(user.session_token, token):
                g.user, g.scope = user, scope.load(db_session, user)
            else:
                session.clear()
    g.lang = choose_language()


def require_login() -> Response | None:
    """Refuse anonymous requests to anything but the public endpoints."""
    if g.user is not None or request.endpoint is None:
        return None  # signed in, or a 404 that is a 404 for everyone
    if request.endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS:
        return None
    if request.method == "GET" and request.accept_mimetypes.best != "application/json":
        return redirect(url_for("dashboard.auth.login", next=request.full_path.rstrip("?")))
    abort(401)


def require(permission: str) -> Callable[[View], View]:
    """Refuse (403) the view to users whose acting role lacks ``permission``."""

    def decorator(view: View) -> View:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if current_user() is None or not scope.may(permission):
                abort(403)
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorator


def client_ip() -> str | None:
    """The address the request came from (behind a proxy: as ProxyFix set it)."""
    return request.remote_addr


def record(action: str, target: str | None = None, **details: Any) -> None:
    """Write one audit entry for the signed-in user, in its own transaction."""
    with get_db().session() as db_session:
        audit_here(db_session, action, target, **details)


def audit_here(db_session: Any, action: str, target: str | None = None, **details: Any) -> None:
    """Add one audit entry to ``db_session``: the signed-in user, for the acting organization."""
    audit.record(
        db_session, current_user(), action, target, client_ip(),
        organization_id=scope.acting_organization(), **details,
    )  # fmt: skip


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a dashboard path of this site."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return url_for("dashboard.overview.page")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in form."""
    if current_user() is not None:
        return redirect(safe_next(request.args.get("next")))
    if request.method == "GET":
        return render_template("dashboard/login.html")
    email = request.form.get("email", "")
    result = sign_in(get_db(), email, request.form.get("password", ""), client_ip(), utcnow())
    if result.wait is not None:
        minutes = max(1, math.ceil(result.wait.total_seconds() / 60))
        flash(_("Too many failed attempts. Try again in {minutes} min.", minutes=minutes), "error")
        return render_template("dashboard/login.html", email=email), 429
    if result.user_id is None:
        flash(_("Wrong email or password."), "error")
        return render_template("dashboard/login.html", email=email), 401
    _start_session(result.user_id)
    record("user.sign_in", f"user:{result.user_id}")
    return redirect(safe_next(request.args.get("next")))


def _start_session(user_id: int) -> None:
    session.clear()  # a fresh session: nothing from before signing in carries over
    with get_db().session() as db_session:
        user = db_session.get_one(User, user_id)
        g.user, g.scope = user, scope.load(db_session, user)
    session["user_id"] = user.id
    session["token"] = user.session_token
    session.permanent = True


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    user = current_user()
    assert user is not None
    record("user.sign_out", f"user:{user.id}")
    session.clear()
    session["lang"] = user.language  # the sign-in page stays in their language
    return redirect(url_for("dashboard.auth.login"))


@bp.post("/language")
def language() -> Response:
    """Switch the dashboard's language (kept on the user, or for this browser)."""
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        abort(400)
    user = current_user()
    if user is None:
        session["lang"] = lang
    else:
        with get_db().session() as db_session:
            db_session.get_one(User, user.id).language = lang
            audit_here(db_session, "user.language", f"user:{user.id}", lang=lang)
    return redirect(_back_to(request.form.get("next")))


@bp.post("/acting-for")
def acting_for() -> Response:
    """Act for another of one's organizations (the switcher in the menu)."""
    key = request.form.get("organization", "")
    if not scope.choose(key):
        abort(403)
    record("user.acting_for", f"user:{current_user().id}", organization=key or None)  # type: ignore[union-attr]
    return redirect(url_for("dashboard.overview.page"))


def _back_to(target: str | None) -> str:
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return url_for("dashboard.overview.page")


@bp.route("/profile", methods=["GET", "POST"])
def profile() -> Any:
    """One's own name, language, time zone, phone (for test sends) and password."""
    user = current_user()
    assert user is not None
    g.own_data_only = True  # their own number, which they may always see
    if request.method == "POST":
        problem = _save_profile(user.id)
        if problem:
            flash(_(problem), "error")
        else:
            flash(_("Your profile is saved."), "success")
            return redirect(url_for(".profile"))
    return render_template(
        "dashboard/profile.html", timezones=TIMEZONES, languages=LANGUAGES, own_phone=user.phone
    )


def _save_profile(user_id: int) -> str | None:
    """Apply the profile form; returns an error msgid or None."""
    form = request.form
    zone = form.get("timezone", "")
    if form.get("language") not in LANGUAGES or zone not in available_timezones():
        return N_("Choose a language and a time zone.")
    phone = form.get("phone", "").strip()
    try:
        phone_e164 = phones.normalize_phone(phone) if phone else None
    except phones.InvalidNumber:
        return N_("That phone number is not valid.")
    with get_db().session() as db_session:
        user = db_session.get_one(User, user_id)
        if form.get("new_password"):
            if not passwords.verify_password(user.password_hash, form.get("password", "")):
                return N_("Your current password is not right.")
            try:
                set_password(user, form["new_password"])
            except AccountError as exc:
                return str(exc)
            session["token"] = user.session_token  # stay signed in here, only here
        user.name = form.get("name", "").strip() or user.name
        user.language = form["language"]
        user.timezone = zone
        user.phone = phone_e164
        audit_here(db_session, "user.profile", f"user:{user.id}")
    return None
