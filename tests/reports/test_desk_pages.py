"""Every role sees exactly what it may of a report: pages, map and exports, tried by each."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from bot.accounts.models import AuditEntry
from bot.reports.models import Report
from tests.factories import create_contact, create_report

PHONE = "+525555550142"
NAME = "Rosa Testigo"
EXACT = "32.5312"
GRID = "32.535"
STREET = "Calle 5 #123, Col. Libertad"
WHAT = "Soldados detuvieron a dos personas en el retén"


@pytest.fixture
def reports(db):
    contact = create_contact(db, PHONE, "es", ("whatsapp",), name=NAME)
    columns = {
        "latitude": 32.5312,
        "longitude": -117.0421,
        "adm1": "MX-BCN",
        "adm2": "Tijuana",
        "place_text": STREET,
        "category": "militarization",
    }
    published = create_report(
        db,
        contact,
        columns={**columns, "status": "published"},
        what=WHAT,
        where=STREET,
        may_share="yes",
    )
    new = create_report(
        db, contact, columns={**columns, "status": "new"}, what="Otra cosa", may_share="no"
    )
    return {"published": published, "new": new}


def _pages(client, reports) -> dict[str, str]:
    paths = {
        "list": "/dashboard/reports/",
        "detail": f"/dashboard/reports/{reports['published']}",
        "map": "/dashboard/reports/map",
        "csv": "/dashboard/reports/export.csv?exact=1&all=1",
        "json": "/dashboard/reports/export.json?exact=1&all=1",
    }
    out = {}
    for name, path in paths.items():
        response = client.get(path)
        assert response.status_code == 200, (name, response.status_code)
        out[name] = response.get_data(as_text=True)
    return out


@pytest.mark.parametrize("role", ["admin", "verifier"])
def test_the_desk_sees_who_reported_and_the_exact_place(sign_in, reports, role):
    pages = _pages(sign_in(role), reports)
    detail = pages["detail"]
    assert PHONE in detail and NAME in detail  # the reporter, number whole
    assert EXACT in detail and "Col. Libertad" in detail
    for export in ("csv", "json"):
        assert PHONE not in pages[export] and NAME not in pages[export]  # never exported
    assert (EXACT in pages["csv"]) == (role == "admin")  # exact coordinates: admins only
    assert GRID in pages["csv"] or role == "admin"


@pytest.mark.parametrize("role", ["organizer", "viewer"])
def test_everyone_else_sees_the_municipality_and_a_1_km_cell_and_nobody(sign_in, reports, role):
    pages = _pages(sign_in(role), reports)
    everything = "\n".join(pages.values())
    assert "5555550142"[-8:] not in everything  # not even a masked number's middle
    assert NAME not in everything
    assert EXACT not in everything and "Col. Libertad" not in everything
    assert "Tijuana" in pages["detail"] and GRID in pages["detail"]
    assert (WHAT in pages["detail"]) == (role == "organizer")  # viewers read no texts
    assert "only admins and verifiers see who reported" in pages["detail"].lower()


def test_exports_hold_published_reports_with_an_hxl_row(sign_in, reports):
    admin = sign_in("admin")
    rows = list(
        csv.reader(io.StringIO(admin.get("/dashboard/reports/export.csv").get_data(as_text=True)))
    )
    assert rows[0][:2] == ["id", "reported_at"]
    assert {"#adm1+code", "#adm2+name", "#geo+lat", "#geo+lon", "#meta+category"} <= set(rows[1])
    assert [r[0] for r in rows[2:]] == [str(reports["published"])]  # not the new one
    record = dict(zip(rows[0], rows[2], strict=True))
    assert (record["adm1_code"], record["adm1_name"], record["adm2_name"]) == (
        "MX-BCN",
        "Baja California",
        "Tijuana",
    )
    assert record["lat"] == GRID and record["coordinates"] == "grid-1km"  # exact only if asked
    exact = admin.get("/dashboard/reports/export.json?exact=1").get_json()
    assert exact["reports"][0]["lat"] == float(EXACT)
    assert exact["hxl"]["adm1_code"] == "#adm1+code"


def test_only_a_desk_member_may_export_reports_that_are_not_published(sign_in, reports):
    organizer = sign_in("organizer")
    body = organizer.get("/dashboard/reports/export.json?all=1").get_json()
    assert [r["id"] for r in body["reports"]] == [reports["published"]]
    verifier = sign_in("verifier")
    body = verifier.get("/dashboard/reports/export.json?all=1").get_json()
    assert sorted(r["id"] for r in body["reports"]) == sorted(reports.values())


@pytest.mark.parametrize("role", ["organizer", "viewer"])
def test_only_the_desk_moves_assigns_notes_or_corrects_a_report(sign_in, db, reports, role):
    client = sign_in(role)
    report = reports["new"]
    token = client.csrf_token
    for path, data in [
        ("move", {"to": "triaged"}),
        ("assign", {"assignee": ""}),
        ("note", {"body": "x"}),
        ("duplicate", {"original": str(reports["published"])}),
        ("place", {"adm1": "US-TX", "adm2": "x"}),
    ]:
        response = client.post(
            f"/dashboard/reports/{report}/{path}", data={"csrf_token": token, **data}
        )
        assert response.status_code == 403, path
    with db.session() as session:
        assert session.get_one(Report, report).status == "new"


def test_a_verifier_works_a_report_and_an_admin_publishes_it(sign_in, db, reports):
    report = create_report(db, None, what="Hombres armados", may_share="yes")
    verifier, admin = sign_in("verifier"), sign_in("admin")

    def move(client, to):
        return client.post(
            f"/dashboard/reports/{report}/move", data={"csrf_token": client.csrf_token, "to": to}
        )

    for to in ("triaged", "verifying", "verified"):
        move(verifier, to)
    page = move(verifier, "published")
    assert "someone else must publish it" in verifier.get(page.location).get_data(as_text=True)
    move(admin, "published")
    verifier.post(
        f"/dashboard/reports/{report}/note",
        data={"csrf_token": verifier.csrf_token, "body": "Dos fuentes lo confirman"},
    )
    detail = admin.get(f"/dashboard/reports/{report}").get_data(as_text=True)
    assert "Dos fuentes lo confirman" in detail
    with db.session() as session:
        assert session.get_one(Report, report).status == "published"
        actions = [
            (e.action, e.details.get("after"))
            for e in session.scalars(
                select(AuditEntry).where(AuditEntry.target == f"report:{report}")
            )
        ]
    assert actions == [
        ("report.status", "triaged"),
        ("report.status", "verifying"),
        ("report.status", "verified"),
        ("report.status", "published"),
        ("report.note", None),
    ]
    body = sign_in("viewer").get("/dashboard/reports/export.json").get_json()
    assert report in [r["id"] for r in body["reports"]]


def test_the_map_counts_reports_per_state_with_the_filters(sign_in, db, reports):
    create_report(db, None, columns={"adm1": "US-TX", "category": "weapons"})
    create_report(db, None, columns={"adm1": "US-TX", "category": "weapons"})
    page = sign_in("viewer").get("/dashboard/reports/map?category=weapons").get_data(as_text=True)
    assert 'data-state="US-TX" data-count="2"' in page
    assert 'data-state="MX-BCN" data-count="0"' in page  # militarization is filtered out
    everything = sign_in("viewer").get("/dashboard/reports/map").get_data(as_text=True)
    assert 'data-state="MX-BCN" data-count="2"' in everything
