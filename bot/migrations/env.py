"""Alembic environment: the URL comes from the caller (bot.db.upgrade) or DATABASE_URL."""

import os

from alembic import context

from bot.db import make_engine
from bot.models import Base

url = context.config.attributes.get("url") or os.environ.get("DATABASE_URL")
if not url:
    from bot.defaults import DEFAULT_DATABASE_URL as url

engine = make_engine(url)
with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        # A batch migration copies a table, drops it and renames the copy; with foreign
        # keys on, the drop would cascade to the consent log and the reports. Off here
        # (outside any transaction, where SQLite honours it), checked again after.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.driver_connection
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        raw.execute("PRAGMA foreign_keys=ON")
        if broken:
            raise RuntimeError(f"the migration left rows without their parent: {broken[:5]}")
engine.dispose()
