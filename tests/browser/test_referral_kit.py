"""A partner's referral kit in a real browser: added on the Partners page, its poster
printed (print CSS: no menu, no buttons, the QR code drawn), its join link on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.live import Live, shot, sign_in

pytestmark = pytest.mark.browser


def console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_an_admin_adds_a_partner_and_prints_its_poster(page, phone_page, live: Live):
    errors = console_errors(page)
    sign_in(page, live, "admin")
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Partners").click()
    page.get_by_label("Slug (in its join link)").fill("frontera")
    page.get_by_label("Name in Spanish").fill("Frontera Unida")
    page.get_by_label("Name in English").fill("Border United")
    page.get_by_label("Join keywords in Spanish").fill("FRONTERA")
    page.get_by_label("Join keywords in English").fill("BORDER")
    page.get_by_role("button", name="Add partner").click()
    expect(page.get_by_role("status")).to_contain_text("frontera")
    page.get_by_role("link", name="Poster and QR code").click()
    expect(page.get_by_role("heading", name="Frontera Unida")).to_be_visible()
    expect(page.get_by_role("heading", name="Border United")).to_be_visible()
    qr = page.locator("img.poster-qr").first
    expect(qr).to_be_visible()
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.poster-qr')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    shot(page, "partner-poster")

    page.get_by_role("link", name="Español").click()  # one language: one page
    expect(page.locator("section.poster-half")).to_have_count(1)
    expect(page.locator(".poster-keyword")).to_have_text("FRONTERA")
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.locator(".poster-keyword")).to_be_visible()
    expect(page.locator("img.poster-qr")).to_be_visible()
    shot(page, "partner-poster-print")
    assert errors == []  # no blocked stylesheet, script or image (CSP)

    phone_errors = console_errors(phone_page)
    phone_page.goto(live.url + "/j/frontera?lang=es&via=sms")
    expect(phone_page.get_by_role("heading", name="Frontera Unida")).to_be_visible()
    button = phone_page.get_by_role("link", name=re.compile("Manda FRONTERA por SMS"))
    expect(button).to_have_attribute("href", re.compile(r"^sms:\+\d+\?&body=FRONTERA$"))
    expect(phone_page.get_by_role("link", name=re.compile("WhatsApp"))).to_have_attribute(
        "href", re.compile(r"^https://wa\.me/\d+\?text=FRONTERA$")
    )
    expect(phone_page.get_by_text("Responde STOP para cancelar")).to_be_visible()
    shot(phone_page, "partner-join-link")
    assert phone_errors == []
