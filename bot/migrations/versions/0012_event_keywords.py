"""events' keywords in the shared namespace (CUMBRE, MARCH…); an RSVP's guests

Revision ID: 0012
Revises: 0015
Create Date: 2026-12-02 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organization_keywords") as batch:
        batch.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch.create_index("ix_organization_keywords_event_id", ["event_id"])
        batch.create_foreign_key(
            "fk_organization_keywords_event_id",
            "events",
            ["event_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("rsvps") as batch:
        batch.add_column(sa.Column("guests", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rsvps") as batch:
        batch.drop_column("guests")
    op.execute("DELETE FROM organization_keywords WHERE event_id IS NOT NULL")
    with op.batch_alter_table("organization_keywords") as batch:
        batch.drop_constraint("fk_organization_keywords_event_id", type_="foreignkey")
        batch.drop_index("ix_organization_keywords_event_id")
        batch.drop_column("event_id")
