"""The database: SQLAlchemy 2.0 engine and sessions, on SQLite or PostgreSQL.

Web requests get one session per request (`get_session()`), closed at
teardown. Workers and the CLI open their own with `Database.session()`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import ColumnElement, DateTime, Engine, bindparam, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class Base(DeclarativeBase):
    """Base class of every model."""


def utcnow() -> dt.datetime:
    """Now, timezone-aware, in UTC (the only time zone stored)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use bot.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling is replaced by BEGIN IMMEDIATE so
    # two writers queue on the lock instead of failing with "database is locked"
    # when a read transaction tries to become a write one.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_recycle=RECYCLE_AFTER_S)
    _ping_when_idle(engine)
    return engine


# Liveness of pooled PostgreSQL connections, without a round trip per request
# (SQLAlchemy's pool_pre_ping costs one on every checkout, docs/performance.md):
# a connection idle for more than PING_AFTER_IDLE_S is pinged when checked out
# (a dead one is replaced before anyone uses it), none is kept longer than
# RECYCLE_AFTER_S, and a connection that breaks within those seconds (the
# server restarted under load) fails one statement: SQLAlchemy then replaces
# every connection of the pool, and the inbound webhook handles the message
# once more (bot.inbound.receive; its MessageSid keeps that from doing it twice).
PING_AFTER_IDLE_S = 5.0
RECYCLE_AFTER_S = 1800


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError() from error  # the pool connects afresh


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session


def init_app(app: Flask) -> None:
    """Attach the database to the app and close the request session at teardown."""
    app.extensions["puente.db"] = Database(app.config["DATABASE_URL"])
    app.teardown_appcontext(_close_session)


def get_db() -> Database:
    """The current app's Database."""
    return current_app.extensions["puente.db"]


def get_session() -> Session:
    """The request's session (one per app context)."""
    if "db_session" not in g:
        g.db_session = get_db().sessions()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def upgrade(url: str, revision: str = "heads") -> None:
    """Run Alembic migrations up to ``revision`` on ``url``."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["url"] = url
    command.upgrade(cfg, revision)


def update_by_id(
    session: Session,
    model: type[Base],
    rows: list[dict[str, Any]],
    only_if: ColumnElement[bool] | None = None,
) -> None:
    """UPDATE many rows by primary key ``id`` in one executemany.

    Every row has the same keys; ``only_if`` is a further condition (rows
    that fail it are left as they are). Core, not the ORM's bulk update: no
    per-row bookkeeping, which matters for a broadcast recording hundreds a
    second.
    """
    if not rows:
        return
    table = model.__table__
    columns = [key for key in rows[0] if key != "id"]
    statement = (
        table.update()
        .where(table.c.id == bindparam("_id"))
        .values({column: bindparam("_" + column) for column in columns})
    )
    if only_if is not None:
        statement = statement.where(only_if)
    session.execute(statement, [{"_" + key: value for key, value in row.items()} for row in rows])
