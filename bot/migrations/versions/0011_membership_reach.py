"""what a partner's audience count reads, kept on each membership by triggers

A partner's members are spread over the whole coalition, so counting them
meant probing or scanning every contact and address. Each membership now
carries a copy of its contact's status, opt-in, language, country and
channels, kept equal by triggers in the same transaction as every change to
them (contacts, addresses, memberships): the count reads one index range.

Revision ID: 0011
Revises: 0014
Create Date: 2026-12-02 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0014"
branch_labels = None
depends_on = None

COLUMNS = ("contact_status", "contact_opted_in", "contact_language", "contact_country")
CHANNEL_COLUMNS = {"has_sms": "sms", "has_whatsapp": "whatsapp"}
INDEX_COLUMNS = [
    "organization_id",
    "status",
    "contact_status",
    "contact_opted_in",
    "has_whatsapp",
    "has_sms",
    "contact_language",
    "contact_country",
]


def _has(contact_id: str, channel: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM addresses WHERE addresses.contact_id = {contact_id}"
        f" AND addresses.channel = '{channel}')"
    )


def _copy_contact(contact: str) -> str:
    """SET clause copying a contacts row (NEW or OLD in a trigger) onto its memberships."""
    return (
        f"contact_status = {contact}.status, contact_opted_in = {contact}.opted_in_at IS NOT NULL,"
        f" contact_language = {contact}.language, contact_country = {contact}.country"
    )


def _copy_channels(contact_id: str) -> str:
    return ", ".join(f"{column} = {_has(contact_id, ch)}" for column, ch in CHANNEL_COLUMNS.items())


def _contact_changed(old: str, new: str, differs: str) -> str:
    return (
        f"{old}.status {differs} {new}.status"
        f" OR ({old}.opted_in_at IS NULL) <> ({new}.opted_in_at IS NULL)"
        f" OR {old}.language {differs} {new}.language OR {old}.country {differs} {new}.country"
    )


SQLITE = [
    # a new membership (or one moved to another contact) takes its contact's values
    f"""CREATE TRIGGER memberships_reach_insert AFTER INSERT ON memberships
    BEGIN
        UPDATE memberships SET
            contact_status = (SELECT status FROM contacts WHERE id = NEW.contact_id),
            contact_opted_in = (SELECT opted_in_at IS NOT NULL FROM contacts
                                WHERE id = NEW.contact_id),
            contact_language = (SELECT language FROM contacts WHERE id = NEW.contact_id),
            contact_country = (SELECT country FROM contacts WHERE id = NEW.contact_id),
            {_copy_channels("NEW.contact_id")}
        WHERE contact_id = NEW.contact_id AND organization_id = NEW.organization_id;
    END""",
    f"""CREATE TRIGGER memberships_reach_move AFTER UPDATE OF contact_id ON memberships
    BEGIN
        UPDATE memberships SET
            contact_status = (SELECT status FROM contacts WHERE id = NEW.contact_id),
            contact_opted_in = (SELECT opted_in_at IS NOT NULL FROM contacts
                                WHERE id = NEW.contact_id),
            contact_language = (SELECT language FROM contacts WHERE id = NEW.contact_id),
            contact_country = (SELECT country FROM contacts WHERE id = NEW.contact_id),
            {_copy_channels("NEW.contact_id")}
        WHERE contact_id = NEW.contact_id AND organization_id = NEW.organization_id;
    END""",
    f"""CREATE TRIGGER contacts_reach_update
    AFTER UPDATE OF status, opted_in_at, language, country ON contacts
    WHEN {_contact_changed("OLD", "NEW", "IS NOT")}
    BEGIN
        UPDATE memberships SET {_copy_contact("NEW")} WHERE contact_id = NEW.id;
    END""",
    f"""CREATE TRIGGER addresses_reach_insert AFTER INSERT ON addresses
    BEGIN
        UPDATE memberships SET {_copy_channels("NEW.contact_id")}
        WHERE contact_id = NEW.contact_id;
    END""",
    f"""CREATE TRIGGER addresses_reach_delete AFTER DELETE ON addresses
    BEGIN
        UPDATE memberships SET {_copy_channels("OLD.contact_id")}
        WHERE contact_id = OLD.contact_id;
    END""",
    f"""CREATE TRIGGER addresses_reach_update AFTER UPDATE OF contact_id, channel ON addresses
    BEGIN
        UPDATE memberships SET {_copy_channels("OLD.contact_id")}
        WHERE contact_id = OLD.contact_id;
        UPDATE memberships SET {_copy_channels("NEW.contact_id")}
        WHERE contact_id = NEW.contact_id;
    END""",
]

# PostgreSQL: each function first locks the contact row, so a membership written
# while another transaction changes the contact or its addresses waits for it
# and then reads what it committed (READ COMMITTED takes a new snapshot per
# statement): a copy can never be left behind by two concurrent writers. The
# lock is the one an UPDATE of the contact takes (FOR NO KEY UPDATE), the same
# in every trigger: a shared lock upgraded later in the transaction could deadlock.
POSTGRESQL = [
    f"""CREATE FUNCTION memberships_reach_copy() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT status, opted_in_at IS NOT NULL, language, country
        INTO NEW.contact_status, NEW.contact_opted_in, NEW.contact_language, NEW.contact_country
        FROM contacts WHERE id = NEW.contact_id FOR NO KEY UPDATE;
        NEW.has_sms := {_has("NEW.contact_id", "sms")};
        NEW.has_whatsapp := {_has("NEW.contact_id", "whatsapp")};
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER memberships_reach BEFORE INSERT OR UPDATE OF contact_id ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_reach_copy()""",
    f"""CREATE FUNCTION contacts_reach_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE memberships SET {_copy_contact("NEW")} WHERE contact_id = NEW.id;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER contacts_reach
    AFTER UPDATE OF status, opted_in_at, language, country ON contacts FOR EACH ROW
    WHEN ({_contact_changed("OLD", "NEW", "IS DISTINCT FROM")})
    EXECUTE FUNCTION contacts_reach_update()""",
    f"""CREATE FUNCTION addresses_reach_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM 1 FROM contacts WHERE id = OLD.contact_id FOR NO KEY UPDATE;
            UPDATE memberships SET {_copy_channels("OLD.contact_id")}
            WHERE contact_id = OLD.contact_id;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            PERFORM 1 FROM contacts WHERE id = NEW.contact_id FOR NO KEY UPDATE;
            UPDATE memberships SET {_copy_channels("NEW.contact_id")}
            WHERE contact_id = NEW.contact_id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER addresses_reach
    AFTER INSERT OR DELETE OR UPDATE OF contact_id, channel ON addresses
    FOR EACH ROW EXECUTE FUNCTION addresses_reach_update()""",
]

DROP_SQLITE = [
    "DROP TRIGGER memberships_reach_insert",
    "DROP TRIGGER memberships_reach_move",
    "DROP TRIGGER contacts_reach_update",
    "DROP TRIGGER addresses_reach_insert",
    "DROP TRIGGER addresses_reach_delete",
    "DROP TRIGGER addresses_reach_update",
]
DROP_POSTGRESQL = [
    "DROP TRIGGER memberships_reach ON memberships",
    "DROP TRIGGER contacts_reach ON contacts",
    "DROP TRIGGER addresses_reach ON addresses",
    "DROP FUNCTION memberships_reach_copy()",
    "DROP FUNCTION contacts_reach_update()",
    "DROP FUNCTION addresses_reach_update()",
]

BACKFILL = f"""UPDATE memberships SET
    contact_status = (SELECT status FROM contacts WHERE contacts.id = memberships.contact_id),
    contact_opted_in = (SELECT opted_in_at IS NOT NULL FROM contacts
                        WHERE contacts.id = memberships.contact_id),
    contact_language = (SELECT language FROM contacts WHERE contacts.id = memberships.contact_id),
    contact_country = (SELECT country FROM contacts WHERE contacts.id = memberships.contact_id),
    {_copy_channels("memberships.contact_id")}"""


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("contact_status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("contact_opted_in", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("contact_language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("contact_country", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("has_sms", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("has_whatsapp", sa.Boolean(), nullable=True))
    op.execute(BACKFILL)
    op.create_index("ix_memberships_reach", "memberships", INDEX_COLUMNS)
    op.create_index(
        "ix_addresses_channel_last_inbound_at", "addresses", ["channel", "last_inbound_at"]
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE if sqlite else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in DROP_SQLITE if sqlite else DROP_POSTGRESQL:
        op.execute(statement)
    op.drop_index("ix_addresses_channel_last_inbound_at", "addresses")
    op.drop_index("ix_memberships_reach", "memberships")
    with op.batch_alter_table("memberships") as batch:
        for column in (*COLUMNS, *CHANNEL_COLUMNS):
            batch.drop_column(column)
