"""Every dashboard page in a real browser, on a desk and on a phone, with screenshots."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Live, shot, sign_in
from tests.browser.seed import seed_event, seed_movement

pytestmark = pytest.mark.browser


def test_every_page_renders_for_an_organizer(page, live: Live):
    seeded = seed_movement(live.db)
    event = seed_event(live.db, seeded["contacts"])
    sign_in(page, live)
    shot(page, "overview")
    for name, path in [
        ("contacts", "/dashboard/contacts/"),
        ("contact", f"/dashboard/contacts/{seeded['contacts'][-2]}"),
        ("inbox", "/dashboard/inbox/"),
        ("reports", "/dashboard/reports/"),
        ("flows", "/dashboard/flows/"),
        ("flow", "/dashboard/flows/join"),
        ("events", "/dashboard/events/"),
        ("event", f"/dashboard/events/{event}"),
        ("event-new", "/dashboard/events/new"),
        ("broadcasts", "/dashboard/broadcasts/"),
        ("broadcast-new", "/dashboard/broadcasts/new"),
    ]:
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        shot(page, name)
