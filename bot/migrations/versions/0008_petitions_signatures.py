"""petitions and signatures; petition keywords beside the partners' (one namespace);
the petition a broadcast carries

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:25:00
"""

import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "petitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("titles", sa.JSON(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("target_country", sa.String(length=2), nullable=True),
        sa.Column("goal", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_index("ix_petitions_organization_id", "petitions", ["organization_id"])
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("postal_code", sa.String(length=16), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message_sid", sa.String(length=64), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["petition_id"], ["petitions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("petition_id", "contact_id"),
    )
    op.create_index("ix_signatures_organization_id", "signatures", ["organization_id"])
    op.create_index("ix_signatures_petition_created", "signatures", ["petition_id", "created_at"])
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(sa.Column("petition_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_broadcasts_petition_id", "petitions", ["petition_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("organization_keywords") as batch:
        batch.add_column(sa.Column("petition_id", sa.Integer(), nullable=True))
        batch.create_index("ix_organization_keywords_petition_id", ["petition_id"])
        batch.create_foreign_key(
            "fk_organization_keywords_petition_id",
            "petitions",
            ["petition_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    op.execute("DELETE FROM organization_keywords WHERE petition_id IS NOT NULL")
    with op.batch_alter_table("organization_keywords") as batch:
        batch.drop_constraint("fk_organization_keywords_petition_id", type_="foreignkey")
        batch.drop_index("ix_organization_keywords_petition_id")
        batch.drop_column("petition_id")
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_constraint("fk_broadcasts_petition_id", type_="foreignkey")
        batch.drop_column("petition_id")
    op.drop_index("ix_signatures_petition_created", "signatures")
    op.drop_index("ix_signatures_organization_id", "signatures")
    op.drop_table("signatures")
    op.drop_index("ix_petitions_organization_id", "petitions")
    op.drop_table("petitions")
