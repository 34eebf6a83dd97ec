"""GET /healthz: 200 when the database and Redis answer, 503 naming what is down.

Probes have no session and no CSRF token, and the body must never carry a
secret: no URL, no host, no password.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from bot import create_app
from tests.settings import settings_for

PASSWORD = "hunter2-not-for-the-body"


def closed_port() -> int:
    """A local port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def make_app(fake_twilio_server) -> Iterator:
    """create_app(**settings) on top of the test settings; disposed afterwards."""
    apps: list[Flask] = []

    def make(database_url: str, **overrides: str) -> Flask:
        app = create_app(settings_for(database_url, fake_twilio_server[1], **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["puente.db"].engine.dispose()


def probe(app: Flask):
    """What a platform's probe sees: no cookie, no token, HTML or anything accepted."""
    return app.test_client().get("/healthz", headers={"Accept": "text/html"})


def assert_no_secret(body: str, *secrets: str) -> None:
    for secret in (PASSWORD, "redis://", "postgresql", "sqlite", "127.0.0.1", *secrets):
        assert secret not in body


def test_200_when_the_database_and_redis_answer(make_app, database_url, redis_url):
    response = probe(make_app(database_url, REDIS_URL=redis_url))
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "queue": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert_no_secret(response.get_data(as_text=True), redis_url)


def test_without_redis_url_the_queue_is_embedded_and_not_checked(make_app, database_url):
    response = probe(make_app(database_url, REDIS_URL=""))
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "queue": "embedded"}


def test_503_naming_redis_when_it_is_down(make_app, database_url):
    port = closed_port()
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    response = probe(make_app(database_url, REDIS_URL=url))
    assert response.status_code == 503
    assert response.json == {"status": "down", "database": "ok", "queue": "down"}
    assert_no_secret(response.get_data(as_text=True), str(port))


def test_a_hung_redis_does_not_hang_the_probe(make_app, database_url):
    with socket.socket() as hung:  # accepts connections (the kernel does), never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        url = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        app = make_app(database_url, REDIS_URL=url)
        started = time.monotonic()
        response = probe(app)
        elapsed = time.monotonic() - started
    assert response.status_code == 503 and response.json["queue"] == "down"
    assert elapsed < 2.5


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_503_naming_the_database_when_it_is_down(make_app, redis_url, tmp_path, backend):
    port = closed_port()
    if backend == "postgresql":
        url = f"postgresql://puente:{PASSWORD}@127.0.0.1:{port}/puente"
    else:
        url = f"sqlite:///{tmp_path}"  # a folder: SQLite cannot open it
    response = probe(make_app(url, REDIS_URL=redis_url))
    assert response.status_code == 503
    assert response.json == {"status": "down", "database": "down", "queue": "ok"}
    assert_no_secret(response.get_data(as_text=True), str(port), str(tmp_path))
