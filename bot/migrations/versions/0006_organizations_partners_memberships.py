"""organizations: the coalition and its partners, keywords, memberships, partner roles

An existing deployment's data becomes the coalition's: the root organization
is made here (named after ORG_NAME), and every broadcast, audience, event,
report and consent line keeps organization_id NULL, which means the
coalition's. Users keep their role, now their role in the coalition.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:00:00
"""

import datetime as dt
import os

import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# (table, column, ondelete): rows that belong to an organization
OWNED = (
    ("audiences", "organization_id", "RESTRICT", True),
    ("audit_entries", "organization_id", "SET NULL", True),
    ("broadcasts", "organization_id", "RESTRICT", True),
    ("consent_events", "organization_id", "SET NULL", False),
    ("contacts", "joined_via_id", "SET NULL", True),
    ("events", "organization_id", "RESTRICT", True),
    ("reports", "organization_id", "RESTRICT", True),
)


def upgrade() -> None:
    organizations = op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name_es", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("sender", sa.String(length=20), nullable=True),
        sa.Column("messaging_service_sid", sa.String(length=34), nullable=True),
        sa.Column("help_contact", sa.Text(), nullable=True),
        sa.Column("legal_help", sa.Text(), nullable=True),
        sa.Column("archived_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["organizations.id"], name="fk_organizations_parent_id"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "organization_keywords",
        sa.Column("keyword", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("keyword"),
    )
    op.create_index(
        "ix_organization_keywords_organization_id", "organization_keywords", ["organization_id"]
    )
    op.create_table(
        "partner_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "organization_id"),
    )
    op.create_index("ix_partner_roles_organization_id", "partner_roles", ["organization_id"])
    op.create_table(
        "memberships",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("joined_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id", "organization_id"),
    )
    op.create_index(
        "ix_memberships_org_status_contact",
        "memberships",
        ["organization_id", "status", "contact_id"],
    )
    for table, column, ondelete, indexed in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
            if indexed:
                batch.create_index(f"ix_{table}_{column}", [column])
            batch.create_foreign_key(
                f"fk_{table}_{column}", "organizations", [column], ["id"], ondelete=ondelete
            )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("role", existing_type=sa.String(length=16), nullable=True)

    name = os.environ.get("ORG_NAME", "").strip()[:128] or "Puente"
    op.bulk_insert(
        organizations,
        [
            {
                "slug": "coalition",
                "parent_id": None,
                "name_es": name,
                "name_en": name,
                "regions": [],
                "created_at": dt.datetime.now(dt.UTC),
            }
        ],
    )


def downgrade() -> None:
    # A user who worked only for partners must not become a coalition viewer: disabled.
    op.execute(
        sa.text("UPDATE users SET role = 'viewer', active = :no WHERE role IS NULL").bindparams(
            no=False
        )
    )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("role", existing_type=sa.String(length=16), nullable=False)
    for table, column, _, indexed in reversed(OWNED):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_{column}", type_="foreignkey")
            if indexed:
                batch.drop_index(f"ix_{table}_{column}")
            batch.drop_column(column)
    op.drop_index("ix_memberships_org_status_contact", "memberships")
    op.drop_table("memberships")
    op.drop_index("ix_partner_roles_organization_id", "partner_roles")
    op.drop_table("partner_roles")
    op.drop_index("ix_organization_keywords_organization_id", "organization_keywords")
    op.drop_table("organization_keywords")
    op.drop_table("organizations")
