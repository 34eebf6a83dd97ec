"""Pooled connections: pinged only after idling, and a broken one costs one retry.

No round trip per request (docs/performance.md, "Inbound webhook"): bot.db
pings a PostgreSQL connection only when it was idle for PING_AFTER_IDLE_S,
and the inbound webhook handles a message once more when its connection broke.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from bot import db as db_module
from bot import inbound
from bot.msgs.models import Message
from tests.twilio_requests import inbound_params, post_signed


def _backend_pid(database: db_module.Database) -> int:
    with database.session() as session:
        return session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


# SQLite has no server to lose: the pool's liveness is PostgreSQL's alone.
postgres_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@postgres_only
def test_a_connection_idle_and_dead_is_replaced_before_anyone_uses_it(
    database: db_module.Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid(database)
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:  # the server drops it, as on a restart
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    admin.dispose()
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)
    assert _backend_pid(database) != first  # no error: pinged, found dead, replaced


@postgres_only
def test_a_connection_used_a_moment_ago_is_not_pinged(
    database: db_module.Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    real_ping = database.engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(database.engine.dialect, "do_ping", counted)
    _backend_pid(database)
    _backend_pid(database)
    assert pings == []  # new, then used a moment ago
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)
    _backend_pid(database)
    assert len(pings) == 1


def test_a_broken_connection_costs_the_inbound_message_one_more_try(
    client, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_receive = inbound._receive
    calls: list[str] = []

    def breaks_once(session, message, *args):  # noqa: ANN001, ANN002, ANN202
        calls.append(message.sid)
        if len(calls) == 1:
            broken = Exception("server closed the connection")
            raise DBAPIError("SELECT 1", None, broken, connection_invalidated=True)
        return real_receive(session, message, *args)

    monkeypatch.setattr(inbound, "_receive", breaks_once)
    params = inbound_params("+12135550177", "JOIN")
    response = post_signed(client, "/twilio/messages", params)
    assert response.status_code == 200
    assert b"<Message>" in response.data
    assert len(calls) == 2
    with db.session() as session:
        stored = session.scalars(sa.select(Message).where(Message.sid == params["MessageSid"]))
        assert len(stored.all()) == 1


def test_any_other_database_error_is_not_retried(client, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fails(session, message, *args):  # noqa: ANN001, ANN002, ANN202, ARG001
        calls.append(message.sid)
        raise DBAPIError("SELECT 1", None, Exception("syntax error"))

    monkeypatch.setattr(inbound, "_receive", fails)
    with pytest.raises(DBAPIError):
        post_signed(client, "/twilio/messages", inbound_params("+12135550177", "JOIN"))
    assert len(calls) == 1
