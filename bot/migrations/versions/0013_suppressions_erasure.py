"""the right to be erased: suppressed numbers (a keyed hash only) and a pending request

Revision ID: 0013
Revises: 0015
Create Date: 2026-12-02 07:00:00
"""

import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0013"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("opted_out_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number_hash"),
    )
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("erasure_asked_at", bot.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("erasure_asked_at")
    op.drop_table("suppressions")
