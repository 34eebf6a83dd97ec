"""Issue 13's "done when", end to end: a witness reports by WhatsApp in Spanish with a pin
and a photo; a verifier triages and verifies it, an admin publishes it; the map and the
HXL export show it, blurred for a viewer; the witness erases themselves and nothing of
them remains, not even the photo.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select

from bot.reports.models import MEDIA_STORED, Report, ReportMedia
from tests.factories import contact_by_phone
from tests.reports.test_media import JPEG, file_with_photo, run_reconcile
from tests.test_erasure import leftovers
from tests.twilio_requests import text

WITNESS = "whatsapp:+525555550142"
EXACT, BLURRED = "32.5312", "32.535"


def test_a_witness_reports_the_desk_publishes_the_witness_is_erased(
    app, client, db, fake_twilio, fake_twilio_server, redis_url, sign_in, tmp_path
):
    app.config["MEDIA_DIR"] = str(tmp_path / "media")
    file_with_photo(client, fake_twilio, fake_twilio_server[1], "es")
    run_reconcile(app, redis_url)  # the worker fetches the photo and deletes it at Twilio
    witness = contact_by_phone(db, WITNESS.removeprefix("whatsapp:"))
    with db.session() as session:
        report = session.scalars(select(Report)).one()
        photo = session.scalars(select(ReportMedia)).one()
        assert (report.adm1, report.adm2, report.contact_id) == ("MX-BCN", "Tijuana", witness.id)
        assert (report.category, photo.status) == ("militarization_checkpoint", MEDIA_STORED)
        report_id, photo_id = report.id, photo.id
    assert fake_twilio.media == {}

    verifier, admin, viewer = sign_in("verifier"), sign_in("admin"), sign_in("viewer")
    page = verifier.get(f"/dashboard/reports/{report_id}").get_data(as_text=True)
    assert witness.phone in page and EXACT in page  # the desk sees who and where
    assert verifier.get(f"/dashboard/reports/{report_id}/media/{photo_id}").data == JPEG
    for to in ("triaged", "verifying", "verified"):
        verifier.post(
            f"/dashboard/reports/{report_id}/move",
            data={"csrf_token": verifier.csrf_token, "to": to},
        )
    admin.post(
        f"/dashboard/reports/{report_id}/move",
        data={"csrf_token": admin.csrf_token, "to": "published"},
    )
    with db.session() as session:
        assert session.get_one(Report, report_id).status == "published"

    seen = viewer.get(f"/dashboard/reports/{report_id}").get_data(as_text=True)
    assert "Tijuana" in seen and BLURRED in seen
    assert EXACT not in seen and witness.phone[-8:] not in seen
    assert viewer.get(f"/dashboard/reports/{report_id}/media/{photo_id}").status_code == 403
    shown = viewer.get("/dashboard/reports/map").get_data(as_text=True)
    assert 'data-state="MX-BCN" data-count="1"' in shown
    rows = list(
        csv.reader(io.StringIO(viewer.get("/dashboard/reports/export.csv").get_data(as_text=True)))
    )
    assert "#adm1+code" in rows[1] and "#geo+lat" in rows[1]
    record = dict(zip(rows[0], rows[2], strict=True))
    assert (record["adm1_code"], record["adm2_name"], record["lat"]) == (
        "MX-BCN",
        "Tijuana",
        BLURRED,
    )
    assert record["coordinates"] == "grid-1km" and len(rows) == 3

    text(client, WITNESS, "BORRAR MIS DATOS")
    assert "borrados" in text(client, WITNESS, "BORRAR")[0]
    assert leftovers(db, witness.id) == []
    assert not [p for p in Path(app.config["MEDIA_DIR"]).rglob("*") if p.is_file()]  # the photo too
    with db.session() as session:
        assert session.scalars(select(Report)).all() == []  # their report went with them
