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
    for answer in (
        "NO",
        "NO",
        kind,
        where,
        "ayer",
        "Un retén con soldados armados",
        "NO",
        "NO",
        "SÍ",
    ):
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
        ("weapons_armed_groups", "MX-BCN", "Tijuana", frontera, "Av. Juárez, Tijuana, B.C."),
        ("militarization_checkpoint", "US-TX", "El Paso County", None, "El Paso, TX"),
    ]


def test_two_partners_serving_the_place_leave_it_to_the_one_that_brought_the_reporter(client, db):
    frontera = create_partner(db, "frontera", "FRONTERA", "BORDER", regions=["MX-BCN"])
    create_partner(db, "otra", "OTRA", "OTHER", regions=["MX-BCN"])
    file_report(client, JANE, "REPORT", "1", "Tijuana")  # a member of neither: the coalition
    text(client, ROSA, "FRONTERA")
    text(client, ROSA, "SALTAR")
    file_report(client, ROSA, "REPORTAR", "1", "Tijuana")
    assert [row[3] for row in reports(db)] == [None, frontera]


def test_a_whatsapp_pin_places_the_report_and_an_anonymous_one_keeps_no_reporter(client, db):
    rosa = "whatsapp:" + ROSA
    text(client, rosa, "REPORTAR")
    text(client, rosa, "SÍ")  # anonymously
    text(client, rosa, "NO")  # not urgent
    text(client, rosa, "3")  # militarization or checkpoint
    replies = text(
        client, rosa, "", Latitude="32.5312", Longitude="-117.0421", MessageType="location"
    )
    assert any("¿Cuándo pasó?" in r for r in replies)
    text(client, rosa, "hoy")
    text(client, rosa, "Un retén militar revisa todos los carros")
    replies = text(client, rosa, "NO")  # no photos
    assert any("¿Podemos compartir" in r for r in replies)  # never asked to be contacted
    text(client, rosa, "SÍ")
    with db.session() as session:
        report = session.scalars(select(Report)).one()
        assert (report.latitude, report.longitude) == (32.5312, -117.0421)
        assert (report.adm1, report.adm2, report.place_text) == ("MX-BCN", "Tijuana", None)
        assert report.anonymous and report.contact_id is None
        assert report.category == "militarization_checkpoint" and not report.urgent


def test_a_pin_abroad_is_kept_and_flagged(client, db):
    rosa = "whatsapp:" + ROSA
    for answer in ("REPORTAR", "NO", "NO", "2"):
        text(client, rosa, answer)
    text(client, rosa, "", Latitude="14.6349", Longitude="-90.5069")  # Guatemala City
    for answer in ("ayer", "Hombres armados", "NO", "NO", "NO"):
        text(client, rosa, answer)
    with db.session() as session:
        report = session.scalars(select(Report)).one()
        assert report.outside_area and report.adm1 is None
        assert report.latitude == 14.6349  # kept
