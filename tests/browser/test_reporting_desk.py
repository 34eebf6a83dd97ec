"""The reporting desk in a real browser: a verifier sees who reported; an organizer does not."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.live import Live, shot, sign_in
from tests.factories import create_contact, create_report, create_user

pytestmark = pytest.mark.browser

PHONE = "+525555550143"


def seed(live: Live) -> int:
    create_user(live.db, "verifier", "en")
    contact = create_contact(live.db, PHONE, "es", ("whatsapp",), name="Testigo Prueba")
    return create_report(
        live.db,
        contact,
        columns={
            "latitude": 32.5312,
            "longitude": -117.0421,
            "adm1": "MX-BCN",
            "adm2": "Tijuana",
            "category": "militarization_checkpoint",
            "urgent": True,
        },
        what="Un retén militar revisa todos los carros",
        may_share="yes",
    )


def test_a_verifier_triages_a_report_and_sees_the_reporter(page, live: Live):
    report = seed(live)
    sign_in(page, live, "verifier")
    page.goto(f"{live.url}/dashboard/reports/{report}")
    expect(page.locator(".reporter-phone")).to_have_text(PHONE)
    expect(page.get_by_text("Exact pin")).to_be_visible()
    page.get_by_role("button", name="Mark as: Triaged").click()
    expect(page.get_by_text(f"Report #{report} is now: Triaged.")).to_be_visible()
    page.get_by_label("Add a note").fill("Two neighbours confirm it")
    page.get_by_role("button", name="Keep the note").click()
    expect(page.get_by_text("Two neighbours confirm it")).to_be_visible()
    shot(page, "report-verifier")


def test_an_organizer_sees_the_place_to_about_1_km_and_nobody(page, live: Live):
    report = seed(live)
    sign_in(page, live, "organizer")
    page.goto(f"{live.url}/dashboard/reports/{report}")
    expect(page.get_by_text("Only admins and verifiers see who reported.")).to_be_visible()
    expect(page.get_by_text("Pin, to about 1 km")).to_be_visible()
    expect(page.get_by_text("32.5350, -117.0450")).to_be_visible()
    assert "5555550143" not in page.content() and "Testigo" not in page.content()
    expect(page.get_by_role("button", name="Mark as: Triaged")).to_have_count(0)
    page.goto(f"{live.url}/dashboard/reports/map")
    expect(page.locator('[data-state="MX-BCN"]')).to_have_attribute("data-count", "1")
    shot(page, "reports-map")
