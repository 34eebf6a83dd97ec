"""A test client signed in to the dashboard, and the CSRF token its forms need."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from bot.db import Database
from tests.factories import DASHBOARD_PASSWORD, create_user


def csrf_from(html: bytes | str) -> str:
    """The CSRF token of the first form on a page."""
    text = html.decode() if isinstance(html, bytes) else html
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in_client(app: Flask, db: Database, role: str, language: str = "en") -> FlaskClient:
    """A test client signed in as a user with ``role``; ``client.csrf_token`` is set."""
    create_user(db, role, language)
    client = app.test_client()
    token = csrf_from(client.get("/dashboard/login").data)
    response = client.post(
        "/dashboard/login",
        data={
            "email": f"{role}@puente.example.org",
            "password": DASHBOARD_PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 302, response.data
    client.csrf_token = csrf_from(client.get("/dashboard/profile").data)  # type: ignore[attr-defined]
    return client
