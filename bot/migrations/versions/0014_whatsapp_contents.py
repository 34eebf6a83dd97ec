"""whatsapp contents: the Content API contents made for questions' buttons and lists

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02 07:00:00
"""

import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_contents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("content_sid", sa.String(length=34), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hash"),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_contents")
