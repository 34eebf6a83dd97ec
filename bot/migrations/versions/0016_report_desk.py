"""the reporting desk: categories, places, urgency, anonymity, the verification workflow, notes

Revision ID: 0016
Revises: 0010
Create Date: 2026-12-02 07:30:00
"""

import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0016"
down_revision = "0010"
branch_labels = None
depends_on = None

# The old statuses, mapped onto the workflow (and back on downgrade).
_UP = {"reviewed": "triaged", "closed": "archived"}
_DOWN = {
    "triaged": "reviewed",
    "verifying": "reviewed",
    "verified": "reviewed",
    "not_verified": "reviewed",
    "duplicate": "closed",
    "published": "reviewed",
    "archived": "closed",
}


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("category", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("anonymous", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("place_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("adm1", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("adm2", sa.String(length=128), nullable=True))
        batch.add_column(
            sa.Column("outside_area", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("verified_by_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("published_at", bot.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("purged_at", bot.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("notified_at", bot.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("notify_result", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            "fk_reports_assignee_id_users", "users", ["assignee_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_foreign_key(
            "fk_reports_verified_by_id_users",
            "users",
            ["verified_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            "fk_reports_duplicate_of_id_reports",
            "reports",
            ["duplicate_of_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_reports_category", ["category"])
        batch.create_index("ix_reports_adm1", ["adm1"])
        batch.create_index("ix_reports_created_at", ["created_at"])
    reports = sa.table("reports", sa.column("status", sa.String))
    for old, new in _UP.items():
        op.execute(reports.update().where(reports.c.status == old).values(status=new))
    op.create_table(
        "report_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_notes_report_id", "report_notes", ["report_id"])
    op.create_table(
        "report_on_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id"),
    )


def downgrade() -> None:
    op.drop_table("report_on_call")
    op.drop_index("ix_report_notes_report_id", "report_notes")
    op.drop_table("report_notes")
    reports = sa.table("reports", sa.column("status", sa.String))
    for new, old in _DOWN.items():
        op.execute(reports.update().where(reports.c.status == new).values(status=old))
    with op.batch_alter_table("reports") as batch:
        batch.drop_index("ix_reports_created_at")
        batch.drop_index("ix_reports_adm1")
        batch.drop_index("ix_reports_category")
        batch.drop_constraint("fk_reports_duplicate_of_id_reports", type_="foreignkey")
        batch.drop_constraint("fk_reports_verified_by_id_users", type_="foreignkey")
        batch.drop_constraint("fk_reports_assignee_id_users", type_="foreignkey")
        for column in (
            "notify_result",
            "notified_at",
            "updated_at",
            "purged_at",
            "published_at",
            "verified_by_id",
            "duplicate_of_id",
            "assignee_id",
            "outside_area",
            "adm2",
            "adm1",
            "longitude",
            "latitude",
            "place_text",
            "anonymous",
            "urgent",
            "category",
        ):
            batch.drop_column(column)
