"""CSV import: good rows kept, bad rows reported with their line and reason, STOP kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.contacts import csv_lists
from bot.contacts.identity import find_by_phone
from bot.contacts.models import ConsentEvent, Contact
from bot.db import Database
from tests.paths import FIXTURES

FIXTURE = FIXTURES / "csv" / "contacts_with_bad_rows.csv"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def run_import(db: Database, text: str) -> csv_lists.Report:
    report = csv_lists.Report()
    with db.session() as session:
        for row in csv_lists.read_rows(text.splitlines(keepends=True), "MX", NOW):
            if isinstance(row, csv_lists.Row):
                csv_lists.apply_row(session, row, NOW, report)
            else:
                report.problems.append(row)
    return report


def test_bad_rows_are_reported_and_good_rows_kept(database):
    report = run_import(database, FIXTURE.read_text())
    assert (report.created, report.updated) == (2, 0)
    assert [line for line, _ in report.problems] == [4, 5, 6, 7, 8, 9]
    reasons = dict(report.problems)
    assert "language 'fr'" in reasons[4]
    assert "consent" in reasons[5]
    assert "channel 'fax'" in reasons[6]
    assert "not a phone" in reasons[7]
    assert "not a date" in reasons[8]
    assert reasons[9] == "same phone as line 2"
    with database.session() as session:
        contacts = {c.phone: c for c in session.scalars(select(Contact))}
        assert set(contacts) == {"+12135550181", "+525512345678"}
        mx = contacts["+525512345678"]
        assert (mx.language, mx.tag_names, mx.addresses[0].address) == (
            "es",
            {"cdmx"},
            "whatsapp:+525512345678",
        )
        events = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
        assert [(e.kind, e.source) for e in events] == [
            ("opt_in", "import:web form"),
            ("opt_in", "import:event signup"),
        ]


def test_an_import_never_undoes_a_stop(database):
    run_import(database, FIXTURE.read_text())
    with database.session() as session:
        contact = find_by_phone(session, "+12135550181")
        contact.status = "opted_out"
    report = run_import(database, FIXTURE.read_text())
    assert report.kept_opted_out == [(2, "+12135550181")]
    with database.session() as session:
        contact = find_by_phone(session, "+12135550181")
        assert contact.status == "opted_out"


def test_a_file_without_consent_columns_is_refused():
    rows = list(csv_lists.read_rows(["phone,language\n", "+12135550181,en\n"]))
    assert rows == [(1, "missing column(s): consent_source, consent_date")]
