"""Shared fixtures: app, client, databases (SQLite and PostgreSQL), Redis, fake Twilio."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from bot import create_app
from bot.channels.fake_twilio import FakeTwilio, fake_state, run_fake_twilio, stop_fake_twilio
from bot.db import Database, upgrade
from tests.dashboard_client import sign_in_client
from tests.services import PostgresServer, RedisServer, unavailable
from tests.settings import AUTH_TOKEN, settings_for

DATABASES = os.environ.get("PUENTE_TEST_DATABASES", "sqlite,postgresql").split(",")
_db_names = itertools.count()


@pytest.fixture(autouse=True)
def _close_broadcast_runtime() -> Iterator[None]:
    """Jobs run in the test process leave a runtime (a pool, a Redis client): close it."""
    yield
    from bot.sending import process

    process.reset()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A real, flushed Redis database."""
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[tuple[PostgresServer, str]]:
    """A PostgreSQL cluster with a migrated template database."""
    try:
        server = PostgresServer()
    except Exception as exc:  # noqa: BLE001 - any failure to start is "unavailable"
        unavailable(f"could not start PostgreSQL: {exc}")
    _create_database(server, "puente_template")
    upgrade(server.url("puente_template"))
    yield server, "puente_template"
    server.stop()


def _create_database(server: PostgresServer, name: str, template: str | None = None) -> None:
    engine = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        suffix = f" TEMPLATE {template}" if template else ""
        conn.exec_driver_sql(f"CREATE DATABASE {name}{suffix}")
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database: each test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "puente.db"
        path.write_bytes(template.read_bytes())
        return f"sqlite:///{path}"
    server, template_name = request.getfixturevalue("postgres_template")
    name = f"puente_test_{os.getpid()}_{next(_db_names)}"
    _create_database(server, name, template=template_name)
    return server.url(name)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A Database on this test's fresh database (for tests without the Flask app)."""
    db = Database(database_url)
    yield db
    db.engine.dispose()


@pytest.fixture(scope="session")
def fake_twilio_server() -> Iterator[tuple[FakeTwilio, str]]:
    server, thread, base_url = run_fake_twilio("127.0.0.1", 0, auth_token=AUTH_TOKEN)
    yield fake_state(server.app), base_url
    stop_fake_twilio(server, thread)


@pytest.fixture
def fake_twilio(fake_twilio_server: tuple[FakeTwilio, str]) -> FakeTwilio:
    """The fake Twilio API, emptied for this test."""
    fake, _ = fake_twilio_server
    fake.clear_outbox()
    fake.clear_rules()
    return fake


@pytest.fixture
def app(
    database_url: str, fake_twilio_server: tuple[FakeTwilio, str], fake_twilio: FakeTwilio
) -> Iterator[Flask]:
    app = create_app(settings_for(database_url, fake_twilio_server[1]))
    yield app
    app.extensions["puente.db"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Database:
    return app.extensions["puente.db"]


# --- dashboard: a signed-in test client per role ------------------------------------


@pytest.fixture
def sign_in(app: Flask, db: Database) -> Any:
    """sign_in("organizer") -> a signed-in test client with ``.csrf_token``."""
    return lambda role, language="en": sign_in_client(app, db, role, language)
