"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.models import Base


def test_migrations_match_the_models(database_url):
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def _alembic(url: str, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(Path(__file__).parents[1] / "alembic.ini"))
    config.attributes["url"] = url
    getattr(command, direction)(config, revision)


def _rows(connection: sa.Connection, sql: str) -> list[tuple]:
    return [tuple(r) for r in connection.execute(sa.text(sql))]


SEED_0005 = [
    "INSERT INTO contacts (id, phone, language, language_chosen, status, fields, created_at)"
    " VALUES (7, '+15555550107', 'en', true, 'active', '{}', '2026-11-01 10:00:00')",
    "INSERT INTO consent_events (id, contact_id, kind, source, created_at)"
    " VALUES (3, 7, 'opt_in', 'keyword', '2026-11-01 10:00:00')",
    "INSERT INTO users (id, email, name, password_hash, role, language, timezone, active,"
    " session_token, created_at) VALUES (2, 'o@example.org', 'O', 'x', 'organizer', 'es',"
    " 'America/Tijuana', true, 't', '2026-11-01 10:00:00')",
    "INSERT INTO audiences (id, name, filters, created_at)"
    " VALUES (4, 'All', '{}', '2026-11-01 10:00:00')",
    "INSERT INTO broadcasts (id, name, status, filters, texts, default_language, channels,"
    " media_urls, content_variables, created_at) VALUES (5, 'March', 'done', '{}',"
    " '{\"en\": \"Hi\"}', 'en', '[\"sms\"]', '[]', '{}', '2026-11-01 10:00:00')",
    "INSERT INTO events (id, names, places, starts_at, timezone, created_at) VALUES"
    " (6, '{\"en\": \"Summit\"}', '{}', '2026-12-10 10:00:00', 'America/Tijuana',"
    " '2026-11-01 10:00:00')",
    "INSERT INTO reports (id, contact_id, flow_id, data, status, created_at)"
    " VALUES (8, 7, 'report', '{}', 'new', '2026-11-01 10:00:00')",
]
KEPT = {
    "contacts": "SELECT id, phone, language, status FROM contacts",
    "consent_events": "SELECT id, contact_id, kind FROM consent_events",
    "users": "SELECT id, email, role, active FROM users",
    "audiences": "SELECT id, name FROM audiences",
    "broadcasts": "SELECT id, name, status FROM broadcasts",
    "events": "SELECT id, starts_at FROM events",
    "reports": "SELECT id, contact_id, status FROM reports",
}


def test_0006_makes_existing_data_the_coalitions_and_downgrades_without_loss(database_url):
    """Upgrade with data in every table that gains an owner, then downgrade: nothing lost."""
    _alembic(database_url, "downgrade", "0005")
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            for sql in SEED_0005:
                connection.execute(sa.text(sql))
        with engine.connect() as connection:
            before = {table: _rows(connection, sql) for table, sql in KEPT.items()}
        assert all(before.values())

        _alembic(database_url, "upgrade", "head")
        with engine.connect() as connection:
            assert {t: _rows(connection, sql) for t, sql in KEPT.items()} == before
            assert _rows(connection, "SELECT slug, parent_id FROM organizations") == [
                ("coalition", None)
            ]
            for table in ("audiences", "broadcasts", "events", "reports", "consent_events"):
                assert _rows(connection, f"SELECT organization_id FROM {table}") == [(None,)]
            assert _rows(connection, "SELECT joined_via_id FROM contacts") == [(None,)]
            connection.execute(
                sa.text(
                    "INSERT INTO users (id, email, name, password_hash, role, language, timezone,"
                    " active, session_token, created_at) VALUES (3, 'p@example.org', 'P', 'x',"
                    " NULL, 'es', 'America/Tijuana', true, 'u', '2026-11-02 10:00:00')"
                )
            )
            connection.commit()

        _alembic(database_url, "downgrade", "0005")
        with engine.connect() as connection:
            after = {t: _rows(connection, sql) for t, sql in KEPT.items()}
            partner_only = after["users"].pop()
            assert after == before
            # A partner-only user must not become a coalition viewer who can sign in.
            assert partner_only[2:] == ("viewer", False)
        _alembic(database_url, "upgrade", "head")
    finally:
        engine.dispose()


def test_0009_adds_polls_and_their_answers_and_downgrades_without_touching_broadcasts(
    database_url,
):
    """Polls and answers come and go with 0009; the broadcasts and contacts stay."""
    _alembic(database_url, "downgrade", "0008")
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    kept = {t: KEPT[t] for t in ("contacts", "broadcasts")}
    try:
        with engine.begin() as connection:
            for sql in (SEED_0005[0], SEED_0005[4]):
                connection.execute(sa.text(sql))
        with engine.connect() as connection:
            before = {table: _rows(connection, sql) for table, sql in kept.items()}
        _alembic(database_url, "upgrade", "head")
        with engine.begin() as connection:
            assert {t: _rows(connection, sql) for t, sql in kept.items()} == before
            connection.execute(
                sa.text(
                    "INSERT INTO polls (id, broadcast_id, choices, created_at) VALUES (1, 5,"
                    ' \'[{"value": "si", "es": "SÍ", "en": "YES"}]\','
                    " '2026-11-02 10:00:00')"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO poll_answers (id, poll_id, contact_id, choice, language,"
                    " channel, answered_at, changed_from) VALUES (1, 1, 7, 'si', 'en', 'sms',"
                    " '2026-11-02 11:00:00', 'no')"
                )
            )
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
            connection.execute(  # one answer per person and poll
                sa.text(
                    "INSERT INTO poll_answers (id, poll_id, contact_id, choice, language,"
                    " answered_at) VALUES (2, 1, 7, 'no', 'en', '2026-11-02 12:00:00')"
                )
            )
        with engine.connect() as connection:
            assert _rows(connection, "SELECT choice, changed_from FROM poll_answers") == [
                ("si", "no")
            ]

        _alembic(database_url, "downgrade", "0008")
        with engine.connect() as connection:
            assert {t: _rows(connection, sql) for t, sql in kept.items()} == before
            assert "polls" not in sa.inspect(connection).get_table_names()
            assert "poll_answers" not in sa.inspect(connection).get_table_names()
        _alembic(database_url, "upgrade", "head")
    finally:
        engine.dispose()
