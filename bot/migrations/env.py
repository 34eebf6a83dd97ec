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
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
