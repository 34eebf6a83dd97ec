"""the right to be erased: suppressed numbers (a keyed hash only) and a pending request

Revision ID: 0013
Revises: 0017
Create Date: 2026-12-02 07:00:00
"""

import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0013"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("opted_out_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number_hash"),
    )
    # Plain ALTER TABLE (SQLite 3.35+ drops columns too): a batch would copy the
    # contacts table, and 0011's triggers on memberships refer to it.
    op.add_column(
        "contacts", sa.Column("erasure_asked_at", bot.db.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("contacts", "erasure_asked_at")
    op.drop_table("suppressions")
