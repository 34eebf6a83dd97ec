"""A report filed by text gets its category and place, and reaches the desk that serves it."""

from __future__ import annotations

from sqlalchemy import select

from bot.reports.models import Report
from tests.factories import create_partner
from tests.twilio_requests import text

ROSA = "+525555550142"
JANE = "+12135550142"


def file_report(client, phone, keyword, kind, where):
    text(client, phone, keyword)
    for answer in (kind, where, "ayer", "Un retén con soldados armados", "NO", "SÍ"):
        text(client, phone, answer)


def reports(db):
    with db.session() as session:
        rows = session.scalars(select(Report).order_by(Report.id)).all()
        return [(r.category, r.adm1, r.adm2, r.organization_id, r.place_text) for r in rows]


def test_a_text_place_is_resolved_and_the_partner_serving_it_gets_the_report(client, db):
    frontera = create_partner(db, "frontera", "FRONTERA", "BORDER", regions=["MX-BCN"])
    create_partner(db, "sierra", "SIERRA", "MOUNTAIN", regions=["MX-CHH"])
    file_report(client, ROSA, "REPORTAR", "2", "Av. Juárez, Tijuana, B.C.")
    file_report(client, JANE, "REPORT", "3", "El Paso, TX")  # nobody serves Texas
    assert reports(db) == [
        ("police_military_abuse", "MX-BCN", "Tijuana", frontera, "Av. Juárez, Tijuana, B.C."),
        ("gun_violence", "US-TX", "El Paso County", None, "El Paso, TX"),
    ]


def test_two_partners_serving_the_place_leave_it_to_the_one_that_brought_the_reporter(client, db):
    frontera = create_partner(db, "frontera", "FRONTERA", "BORDER", regions=["MX-BCN"])
    create_partner(db, "otra", "OTRA", "OTHER", regions=["MX-BCN"])
    file_report(client, JANE, "REPORT", "1", "Tijuana")  # a member of neither: the coalition
    text(client, ROSA, "FRONTERA")
    text(client, ROSA, "SALTAR")
    file_report(client, ROSA, "REPORTAR", "1", "Tijuana")
    assert [row[3] for row in reports(db)] == [None, frontera]
