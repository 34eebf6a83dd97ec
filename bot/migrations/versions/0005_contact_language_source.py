"""what set a contact's language (first message, +52 number, choice, switch)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("language_source", sa.String(length=16), nullable=True))
    op.execute("UPDATE contacts SET language_source = 'chosen' WHERE language_chosen")


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("language_source")
