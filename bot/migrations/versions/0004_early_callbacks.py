"""early status callbacks (arrived before the send was recorded)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 20:30:00
"""

import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "early_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("received_at", bot.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_early_callbacks_sid", "early_callbacks", ["sid"])


def downgrade() -> None:
    op.drop_index("ix_early_callbacks_sid", table_name="early_callbacks")
    op.drop_table("early_callbacks")
