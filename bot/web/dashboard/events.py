"""Events and their reminders, and who said they are coming."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("events", __name__, url_prefix="/events")


@bp.get("/")
def index() -> str:
    return render_template("dashboard/error.html", code=200, reason="")
