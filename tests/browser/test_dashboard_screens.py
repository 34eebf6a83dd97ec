"""Every dashboard page in a real browser, with a believable movement behind it.

Each page is opened as the role that works on it, checked for a heading and
for errors in the browser console, and photographed for review.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.live import Live, shot, sign_in
from tests.browser.seed import seed_audit, seed_event, seed_movement

pytestmark = pytest.mark.browser


LONG = {"contacts"}  # photographed one screen high


def visit(page, live: Live, name: str, path: str) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live.url + path)
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1").first, path).to_be_attached()
    assert errors == [], (path, errors)  # no script error, no blocked resource (CSP)
    shot(page, name, full_page=name not in LONG)


def test_every_page_for_an_organizer(page, live: Live):
    seeded = seed_movement(live.db)
    event = seed_event(live.db, seeded["contacts"])
    page.goto(live.url + "/dashboard/login")
    shot(page, "login")
    sign_in(page, live)
    for name, path in [
        ("overview", "/dashboard/"),
        ("contacts", "/dashboard/contacts/"),
        ("contact", f"/dashboard/contacts/{seeded['contacts'][-2]}"),
        ("inbox", "/dashboard/inbox/"),
        ("reports", "/dashboard/reports/"),
        ("flows", "/dashboard/flows/"),
        ("flow", "/dashboard/flows/join"),
        ("events", "/dashboard/events/"),
        ("event", f"/dashboard/events/{event}"),
        ("broadcasts", "/dashboard/broadcasts/"),
        ("broadcast-new", "/dashboard/broadcasts/new"),
        ("contacts-import", "/dashboard/contacts/import"),
        ("profile", "/dashboard/profile"),
    ]:
        visit(page, live, name, path)


def test_every_admin_page(page, live: Live):
    seed_movement(live.db, contacts=12)
    seed_audit(live.db)
    sign_in(page, live, "admin")
    for name, path in [
        ("users", "/dashboard/users/"),
        ("audit-log", "/dashboard/audit/"),
        ("queue", "/dashboard/queue/"),
    ]:
        visit(page, live, name, path)
    page.goto(live.url + "/dashboard/queue/rq/")
    assert "RQ" in page.title() or "rq" in page.content().lower()


def test_a_flow_can_be_tried_in_the_browser(page, live: Live):
    sign_in(page, live)
    page.goto(live.url + "/dashboard/flows/join")
    page.get_by_label("Contact's language").select_option("es")
    page.get_by_role("button", name="Start", exact=True).click()
    page.get_by_label("Their message").fill("Lupita")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#tester-thread")).to_contain_text("Lupita")
    shot(page, "flow-tester")
