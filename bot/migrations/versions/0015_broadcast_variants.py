"""A/B variants of a broadcast: variant B's texts, the test share, the split's seed, each
delivery's variant, and the winner's broadcast linked to its test

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-02 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(sa.Column("variant_texts", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("test_share", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("split_seed", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("winner_of_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("winner_variant", sa.String(length=1), nullable=True))
        batch.create_index("ix_broadcasts_winner_of_id", ["winner_of_id"])
        batch.create_foreign_key(
            "fk_broadcasts_winner_of_id", "broadcasts", ["winner_of_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("variant", sa.String(length=1), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("variant")
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_constraint("fk_broadcasts_winner_of_id", type_="foreignkey")
        batch.drop_index("ix_broadcasts_winner_of_id")
        batch.drop_column("winner_variant")
        batch.drop_column("winner_of_id")
        batch.drop_column("split_seed")
        batch.drop_column("test_share")
        batch.drop_column("variant_texts")
