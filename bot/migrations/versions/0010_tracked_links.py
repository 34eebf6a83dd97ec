"""tracked links: a broadcast's links, each person's first click, and tracking per broadcast

Revision ID: 0010
Revises: 0011
Create Date: 2026-12-02 07:00:00
"""

import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0010"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(
            sa.Column("track_links", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    op.create_table(
        "broadcast_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("broadcast_id", "position"),
    )
    op.create_index("ix_broadcast_links_broadcast_id", "broadcast_links", ["broadcast_id"])
    op.create_table(
        "link_clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("clicked_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["link_id"], ["broadcast_links.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_id", "contact_id"),
    )
    op.create_index("ix_link_clicks_contact_id", "link_clicks", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_link_clicks_contact_id", "link_clicks")
    op.drop_table("link_clicks")
    op.drop_index("ix_broadcast_links_broadcast_id", "broadcast_links")
    op.drop_table("broadcast_links")
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("track_links")
