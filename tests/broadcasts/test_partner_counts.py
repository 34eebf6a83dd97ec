"""A partner's audience counted from its memberships gives the plain query's numbers, always.

The count of one partner's audience reads copies of each contact's status,
opt-in, language, country and channels kept on its memberships by database
triggers. A random sequence of what changes those (joins and leaves, STOP and
START by text and in code, 21610 and bad numbers, language and country
changes, addresses added, moved and removed, the WhatsApp window opening,
list imports, contacts deleted, bulk updates) runs on SQLite and PostgreSQL;
after every step the fast answers equal the plain query's and every copy
equals its contact.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest
from sqlalchemy import delete, select, update

from bot.broadcasts import audiences
from bot.broadcasts.audiences import Filters, from_memberships
from bot.channels.errors import Consequence
from bot.contacts import consent, csv_lists
from bot.contacts.models import Address, Contact, choose_language
from bot.db import utcnow
from bot.msgs import sending
from bot.partners import membership
from bot.partners.models import Membership, Organization
from tests.factories import add_member, create_contact, create_partner
from tests.twilio_requests import text

PHONES = [f"+1213555{n:04d}" for n in range(110, 116)] + [
    f"+52555555{n:04d}" for n in range(110, 114)
]
CHANNEL_ORDERS = [("whatsapp", "sms"), ("sms", "whatsapp"), ("sms",)]


def counted(session, filters, channels, now, plain=False):
    """(size, breakdown) as the code answers them; ``plain``: by the plain query only."""
    with pytest.MonkeyPatch.context() as patch:
        if plain:
            patch.setattr(audiences, "from_memberships", lambda filters: False)
        size = audiences.size(session, filters, channels, now)
        counts = audiences.breakdown(session, filters, channels, now)
    counts.groups.sort(key=repr)
    return size, dataclasses.asdict(counts)


def copies_differ(session):
    """Memberships whose copies are not their contact's values now."""
    truth = select(
        Membership.contact_id,
        Membership.organization_id,
        Membership.contact_status.is_distinct_from(Contact.status),
        Membership.contact_opted_in.is_distinct_from(Contact.opted_in_at.is_not(None)),
        Membership.contact_language.is_distinct_from(Contact.language),
        Membership.contact_country.is_distinct_from(Contact.country),
        *[
            getattr(Membership, f"has_{channel}").is_distinct_from(
                select(Address.id)
                .where(Address.contact_id == Contact.id, Address.channel == channel)
                .exists()
            )
            for channel in ("sms", "whatsapp")
        ],
    ).join(Contact, Contact.id == Membership.contact_id)
    return [row[:2] for row in session.execute(truth) if any(row[2:])]


class Steps:
    """What organizers, contacts and carriers do, one random step at a time."""

    def __init__(self, client, db, partners, rng):
        self.client, self.db, self.partners, self.rng = client, db, partners, rng
        self.now = utcnow()

    def contact(self, session):
        ids = session.scalars(select(Contact.id).order_by(Contact.id)).all()
        return session.get(Contact, self.rng.choice(ids)) if ids else None

    def partner(self, session):
        return session.get(Organization, self.rng.choice(self.partners))

    def run(self):
        step = self.rng.choice([m for m in dir(self) if m.startswith(("step_", "text_"))])
        if step.startswith("text_"):  # the webhook opens its own transaction
            getattr(self, step)()
            return step
        with self.db.session() as session:
            contact = self.contact(session)
            if contact is None:
                step = "step_import"
            getattr(self, step)(session, contact)
        return step

    def step_join(self, session, contact):
        membership.join(session, contact, self.partner(session), self.now, source="keyword",
                        first_time=False)  # fmt: skip

    def step_leave(self, session, contact):
        membership.leave(session, contact, self.partner(session), self.now)

    def step_stop(self, session, contact):
        consent.opt_out(session, contact, self.now, source="keyword")

    def step_start(self, session, contact):
        consent.opt_in(session, contact, self.now, source="keyword")

    def step_carrier_21610(self, session, contact):
        sending.apply_consequence(session, contact.id, Consequence.OPTED_OUT, 21610, self.now)

    def step_bad_number(self, session, contact):
        sending.apply_consequence(session, contact.id, Consequence.INVALID_NUMBER, 21211, self.now)

    def step_language(self, session, contact):
        choose_language(contact, "en" if contact.language == "es" else "es")

    def step_country(self, session, contact):
        contact.country = self.rng.choice(["US", "MX", None])

    def step_add_address(self, session, contact):
        channel = self.rng.choice(["sms", "whatsapp"])
        if contact.address_for(channel) is None:
            prefix = "whatsapp:" if channel == "whatsapp" else ""
            address = f"{prefix}{contact.phone}"
            taken = session.scalar(select(Address.id).where(Address.address == address))
            if taken is None:
                contact.addresses.append(Address(channel=channel, address=address))

    def step_remove_address(self, session, contact):
        if contact.addresses:
            contact.addresses.remove(self.rng.choice(contact.addresses))

    def step_move_address(self, session, contact):
        other = self.contact(session)
        for address in list(contact.addresses):
            if other.address_for(address.channel) is None:
                session.execute(
                    update(Address).where(Address.id == address.id).values(contact_id=other.id)
                )
                return

    def step_whatsapp_window(self, session, contact):
        address = contact.address_for("whatsapp")
        if address is not None:
            hours = self.rng.choice([1, 23, 25, 48])
            address.last_inbound_at = self.now - dt.timedelta(hours=hours)

    def step_no_opt_in(self, session, contact):
        contact.opted_in_at = None

    def step_import(self, session, contact):
        phone = self.rng.choice(PHONES)
        channel = self.rng.choice(["sms", "whatsapp"])
        prefix = "whatsapp:" if channel == "whatsapp" else ""
        row = csv_lists.Row(
            line=2, phone=phone, channel=channel, address=prefix + phone,
            language=self.rng.choice(["es", "en"]), tags=(), source="feria",
            consented_at=self.now,
        )  # fmt: skip
        imported = csv_lists.apply_row(session, row, self.now, csv_lists.Report())
        session.flush()
        membership.import_member(session, imported, self.rng.choice(self.partners), self.now,
                                 source="feria", channel=channel)  # fmt: skip

    def step_delete_contact(self, session, contact):
        if self.rng.random() < 0.3:
            session.delete(contact)

    def step_bulk_update(self, session, contact):
        status = self.rng.choice(["active", "opted_out", "invalid"])
        session.execute(update(Contact).where(Contact.id <= contact.id).values(status=status))

    def text_stop_or_start(self):
        phone = self.rng.choice(PHONES[:6])  # US numbers: they write by SMS
        text(self.client, phone, self.rng.choice(["STOP", "START", "ALTO"]))

    def text_keyword(self):
        phone = self.rng.choice(PHONES[:6])
        text(self.client, phone, self.rng.choice(["RIO", "VALLE", "SALIR RIO"]))


@pytest.mark.parametrize("seed", [11, 2026])
def test_partner_counts_equal_the_plain_query_after_every_change(client, db, seed):
    rio = create_partner(db, "rio", "RIO", "RIVER")
    valle = create_partner(db, "valle", "VALLE", "VALLEY")
    for index, phone in enumerate(PHONES[:6]):
        channels = ("sms", "whatsapp") if index % 2 else ("sms",)
        contact_id = create_contact(db, phone, "es" if index % 3 else "en", channels,
                                    last_inbound_at=utcnow())  # fmt: skip
        add_member(db, contact_id, rio if index < 4 else valle)
    audiences_checked = [
        Filters(partners=(rio,)),
        Filters(partners=(valle,), languages=("es",)),
        Filters(partners=(rio,), countries=("MX",), channels=("whatsapp",)),
    ]
    steps = Steps(client, db, [rio, valle], random.Random(seed))
    seen = set()
    for number in range(70):
        step = steps.run()
        seen.add(step)
        with db.session() as session:
            assert copies_differ(session) == [], (number, step)
            for filters in audiences_checked:
                for channels in CHANNEL_ORDERS:
                    fast = counted(session, filters, channels, steps.now)
                    plain = counted(session, filters, channels, steps.now, plain=True)
                    assert fast == plain, (number, step, filters, channels)
    assert len(seen) >= 15  # the sequence went through nearly every kind of change


@pytest.mark.parametrize(
    ("filters", "fast"),
    [
        (Filters(partners=(3,)), True),
        (Filters(partners=(3,), languages=("es",), countries=("MX",), channels=("sms",)), True),
        (Filters(), False),  # the coalition: not one partner's memberships
        (Filters(partners=(3, 4)), False),  # a member of both would count twice
        (Filters(partners=(3,), tags=("salud",)), False),
        (Filters(partners=(3,), exclude_tags=("salud",)), False),
        (Filters(partners=(3,), regions=("CA",)), False),
        (Filters(partners=(3,), event_id=1), False),
        (Filters(partners=(3,), joined_after=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), False),
        (Filters(partners=(3,), active_before=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), False),
        (Filters(partners=(3,), extra={"x": 1}), False),
    ],
)
def test_only_what_memberships_hold_is_counted_from_them(filters, fast):
    assert from_memberships(filters) is fast


def test_a_partner_count_reads_its_memberships_only(db):
    """The preview's numbers of one partner never read the contacts or their addresses
    (but for who wrote on WhatsApp within the day, from the addresses' index)."""
    from sqlalchemy import event

    rio = create_partner(db, "rio", "RIO", "RIVER")
    add_member(db, create_contact(db, PHONES[0], "es", ("sms", "whatsapp")), rio)
    statements = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with db.session() as session:
        now = utcnow()
        assert audiences.size(session, Filters(partners=(rio,)), ("whatsapp", "sms"), now) == 1
        counts = audiences.breakdown(session, Filters(partners=(rio,)), ("whatsapp", "sms"), now)
        assert counts.total == 1
    read = [s for s in statements if s.lstrip().startswith("SELECT")]
    assert len(read) == 4  # size; the groups, who is inside the window, the excluded
    assert all("FROM memberships" in s and "contacts" not in s for s in read)
    assert ["addresses" in s for s in read] == [False, False, True, False]


def test_a_partner_audience_with_a_tag_is_counted_by_the_plain_query(db):
    rio = create_partner(db, "rio", "RIO", "RIVER")
    for index, phone in enumerate(PHONES[:4]):
        tags = ("salud",) if index % 2 else ()
        add_member(db, create_contact(db, phone, "es", ("sms",), tags=tags), rio)
    with db.session() as session:
        now = utcnow()
        assert audiences.size(session, Filters(partners=(rio,)), ("sms",), now) == 4
        tagged = Filters(partners=(rio,), tags=("salud",))
        assert audiences.size(session, tagged, ("sms",), now) == 2
        assert audiences.breakdown(session, tagged, ("sms",), now).total == 2


def test_the_window_and_the_excluded_are_split_as_the_plain_query_does(db):
    """Two inside WhatsApp's window (1 and 23 hours ago), one just outside it (25 hours),
    one opted out, one with no opt-in."""
    rio = create_partner(db, "rio", "RIO", "RIVER")
    now = utcnow()
    people = [
        dict(last_inbound_at=now - dt.timedelta(hours=1)),
        dict(last_inbound_at=now - dt.timedelta(hours=23)),
        dict(last_inbound_at=now - dt.timedelta(hours=25)),
        dict(status="opted_out"),
        dict(opted_in=False),
    ]
    for phone, fields in zip(PHONES, people, strict=False):
        add_member(db, create_contact(db, phone, "es", ("sms", "whatsapp"), **fields), rio)
    with db.session() as session:
        counts = audiences.breakdown(session, Filters(partners=(rio,)), ("whatsapp", "sms"), now)
        assert counts.total == 3
        assert counts.whatsapp_outside_window == 1
        assert sorted(counts.groups) == [("es", "whatsapp", "US", False, 1),
                                         ("es", "whatsapp", "US", True, 2)]  # fmt: skip
        assert counts.excluded == {"opted_out": 1, "no_consent": 1}
        session.execute(delete(Address).where(Address.channel == "whatsapp"))
        counts = audiences.breakdown(session, Filters(partners=(rio,)), ("whatsapp", "sms"), now)
        assert (counts.total, counts.by_channel) == (3, {"sms": 3})


# PostgreSQL runs writers side by side; SQLite has one writer at a time.
postgres_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@postgres_only
@pytest.mark.parametrize("change", ["stop", "whatsapp_address"])
def test_a_membership_written_while_its_contact_changes_copies_what_was_committed(database, change):
    """A STOP (or a new WhatsApp address) not yet committed while the person joins a
    partner in another transaction: the join waits for it, then copies it."""
    import threading

    from sqlalchemy import insert, text

    rio = create_partner(database, "rio", "RIO", "RIVER")
    contact_id = create_contact(database, PHONES[0], "es", ("sms",))
    first = database.engine.connect()
    first.begin()
    if change == "stop":
        first.execute(update(Contact).where(Contact.id == contact_id).values(status="opted_out"))
    else:
        first.execute(
            insert(Address).values(contact_id=contact_id, channel="whatsapp",
                                   address="whatsapp:" + PHONES[0], created_at=utcnow())
        )  # fmt: skip

    def join() -> None:
        with database.engine.begin() as second:
            second.execute(
                insert(Membership).values(contact_id=contact_id, organization_id=rio,
                                          status="member", source="test", joined_at=utcnow(),
                                          extra={})
            )  # fmt: skip

    joining = threading.Thread(target=join)
    joining.start()
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with database.engine.connect() as watcher:  # until the join waits for the change, or is done
        while joining.is_alive() and not watcher.execute(waiting).scalar():
            watcher.rollback()
    first.commit()
    first.close()
    joining.join()
    with database.session() as session:
        assert copies_differ(session) == []
        counts = audiences.breakdown(
            session, Filters(partners=(rio,)), ("whatsapp", "sms"), utcnow()
        )
        if change == "stop":
            assert (counts.total, counts.excluded) == (0, {"opted_out": 1})
        else:
            assert counts.by_channel == {"whatsapp": 1}


def test_the_migration_copies_existing_memberships(database_url):
    """Memberships made before 0011 get their contacts' values when it runs."""
    from sqlalchemy import create_engine, text

    from tests.test_migrations import _alembic

    _alembic(database_url, "downgrade", "0009")
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            for sql in (
                "INSERT INTO organizations (id, slug, parent_id, name_es, name_en, regions,"
                " created_at) VALUES (5, 'rio', 1, 'Río', 'River', '[]', '2026-11-01 10:00:00')",
                "INSERT INTO contacts (id, phone, language, language_chosen, status, opted_in_at,"
                " country, fields, created_at) VALUES (7, '+12135550110', 'en', true, 'active',"
                " '2026-11-01 10:00:00', 'US', '{}', '2026-11-01 10:00:00'),"
                " (8, '+12135550111', 'es', true, 'opted_out', NULL, NULL, '{}',"
                " '2026-11-01 10:00:00')",
                "INSERT INTO addresses (contact_id, channel, address, created_at) VALUES"
                " (7, 'whatsapp', 'whatsapp:+12135550110', '2026-11-01 10:00:00'),"
                " (8, 'sms', '+12135550111', '2026-11-01 10:00:00')",
                "INSERT INTO memberships (contact_id, organization_id, status, source, joined_at,"
                " extra) VALUES (7, 5, 'member', 'test', '2026-11-01 10:00:00', '{}'),"
                " (8, 5, 'left', 'test', '2026-11-01 10:00:00', '{}')",
            ):
                connection.execute(text(sql))
        _alembic(database_url, "upgrade", "head")
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT contact_id, contact_status, contact_opted_in, contact_language,"
                    " contact_country, has_sms, has_whatsapp FROM memberships ORDER BY contact_id"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            (7, "active", True, "en", "US", False, True),
            (8, "opted_out", False, "es", None, True, False),
        ]
    finally:
        engine.dispose()
