"""Broadcasts: compose in both languages, pick an audience, test, send, watch it go."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("broadcasts", __name__, url_prefix="/broadcasts")


@bp.get("/")
def index() -> str:
    return render_template("dashboard/error.html", code=200, reason="")


@bp.get("/new")
def new() -> str:
    return render_template("dashboard/error.html", code=200, reason="")
