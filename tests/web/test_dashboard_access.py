"""Who may reach what: sessions, CSRF on every form, roles, and masked phone numbers.

The route tests walk the app's whole URL map, so a page added later is
covered the day it is added (and must be listed here to be public).
"""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask

from bot import create_app
from tests.factories import (
    MX_PHONE,
    PHONE_SPELLINGS,
    US_PHONE,
    WA_US_PHONE,
    create_contact,
    create_message,
    create_report,
)
from tests.settings import settings_for

# The only endpoints open without a session. Adding one is a decision: add it here.
PUBLIC = {
    "static",
    "dashboard.static",
    "dashboard.auth.login",
    "dashboard.auth.language",
    "twilio.messages",
    "twilio.status",
    "health.healthz",  # the platform's probe: says ok or down, nothing more
    "referral.join",  # a partner's join link (/j/<slug>): its name and keyword, for anyone
    "referral.qr",  # the QR code of that link
    "petition_page.page",  # a petition's public count (/p/<slug>): no signer's data
    "petition_page.as_json",  # the same count as JSON for the coalition's website
}
PUBLIC_IN_DEVELOPMENT = {"simulator.page", "simulator.sign", "simulator.outbox", "simulator.reset"}


@pytest.fixture
def full_app(database_url, fake_twilio_server, redis_url):
    """The app with every part mounted (Redis set, so rq-dashboard is there too)."""
    app = create_app(settings_for(database_url, fake_twilio_server[1], REDIS_URL=redis_url))
    yield app
    app.extensions["puente.db"].engine.dispose()


def urls(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every route, its arguments filled with 1 or "x"."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        values = {}
        for name in rule.arguments - set(rule.defaults or {}):
            converter = rule._converters[name]  # noqa: SLF001 - only to pick a fitting value
            values[name] = 1 if type(converter).__name__ == "IntegerConverter" else "x"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, adapter.build(rule.endpoint, values, method)))
    return found


def test_every_route_but_the_public_ones_refuses_an_anonymous_user(full_app):
    client = full_app.test_client()
    checked = 0
    for endpoint, method, url in urls(full_app):
        if endpoint in PUBLIC | PUBLIC_IN_DEVELOPMENT:
            continue
        response = client.open(url, method=method, headers={"Accept": "text/html"})
        if method == "GET":
            assert response.status_code == 302, (endpoint, url, response.status_code)
            assert "/dashboard/login" in response.headers["Location"], endpoint
        else:
            assert response.status_code == 401, (endpoint, method, url, response.status_code)
        checked += 1
    assert checked > 30  # the walk really covered the dashboard and rq-dashboard
    assert any(e.startswith("rq_dashboard.") for e, _, _ in urls(full_app))


def test_json_and_api_requests_get_401_not_a_redirect(client):
    response = client.get("/dashboard/contacts/", headers={"Accept": "application/json"})
    assert response.status_code == 401


def test_production_has_no_simulator_and_root_leads_to_sign_in(
    database_url, fake_twilio_server, monkeypatch
):
    flow_settings = {"LEGAL_HELP": "x"}
    flow_settings["KYR_MEDIA_URL"] = "https://example.org/kyr.png"
    app = create_app(
        settings_for(database_url, fake_twilio_server[1], PRODUCTION=True, **flow_settings)
    )
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert not any(e.startswith("simulator.") for e in endpoints)
    response = app.test_client().get("/", follow_redirects=True)
    assert response.request.path == "/dashboard/login"
    app.extensions["puente.db"].engine.dispose()


def test_every_dashboard_form_without_a_csrf_token_is_refused(full_app):
    from tests.dashboard_client import sign_in_client

    client = sign_in_client(full_app, full_app.extensions["puente.db"], "admin")
    posted = 0
    for endpoint, method, url in urls(full_app):
        if method != "POST" or endpoint.startswith(("twilio.", "simulator.", "rq_dashboard.")):
            continue
        response = client.post(url, data={"lang": "es", "body": "hola", "tag": "x"})
        assert response.status_code == 400, (endpoint, response.status_code)
        assert b"expired" in response.data or b"caduc" in response.data
        posted += 1
    assert posted >= 10


def test_the_sign_in_form_itself_needs_the_token(client, db):
    from tests.factories import DASHBOARD_PASSWORD, create_user

    create_user(db, "admin")
    response = client.post(
        "/dashboard/login",
        data={"email": "admin@puente.example.org", "password": DASHBOARD_PASSWORD},
    )
    assert response.status_code == 400


def test_webhooks_stay_csrf_exempt_and_public(client):
    from tests.twilio_requests import text

    assert text(client, US_PHONE, "Hola")  # signed by "Twilio", no session, no token


def test_rq_dashboard_is_for_admins_only_and_read_only(full_app):
    from tests.dashboard_client import sign_in_client

    database = full_app.extensions["puente.db"]
    organizer = sign_in_client(full_app, database, "organizer")
    assert organizer.get("/dashboard/queue/rq/").status_code == 403
    assert organizer.get("/dashboard/queue/").status_code == 403
    admin = sign_in_client(full_app, database, "admin")
    assert admin.get("/dashboard/queue/rq/").status_code == 200
    assert admin.get("/dashboard/queue/").status_code == 200
    assert admin.get("/dashboard/queue/rq/requeue/low").status_code == 405
    response = admin.post(
        "/dashboard/queue/rq/job/x/delete", headers={"X-CSRFToken": admin.csrf_token}
    )
    assert response.status_code == 405


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("viewer", "/dashboard/users/", 403),
        ("organizer", "/dashboard/users/", 403),
        ("organizer", "/dashboard/audit/", 403),
        ("admin", "/dashboard/users/", 200),
        ("admin", "/dashboard/audit/", 200),
        ("viewer", "/dashboard/contacts/", 200),
    ],
)
def test_pages_by_role(sign_in, role, path, status):
    assert sign_in(role).get(path).status_code == status


def test_a_viewer_cannot_send_or_change_anything(sign_in, db, fake_twilio):
    contact = create_contact(db, US_PHONE)
    message = create_message(db, contact, "¿Cuándo es la marcha?")
    viewer = sign_in("viewer")
    token = {"csrf_token": viewer.csrf_token}
    refused = [
        viewer.post(f"/dashboard/inbox/{message}/reply", data={**token, "body": "El sábado"}),
        viewer.post(f"/dashboard/inbox/{message}/done", data=token),
        viewer.post(f"/dashboard/contacts/{contact}/tags", data={**token, "tag": "x"}),
        viewer.post(f"/dashboard/contacts/{contact}/opt-out", data={**token, "how": "x"}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert fake_twilio.outbox() == []
    page = viewer.get("/dashboard/inbox/").data.decode()
    assert "Send reply" not in page and "¿Cuándo es la marcha?" not in page


# --- masking ---------------------------------------------------------------------------


@pytest.fixture
def private_data(db):
    """Contacts whose numbers, names and words must not reach a masked role."""
    us = create_contact(db, US_PHONE, "en", ("sms",), name="Ana Secreta", tags=("zona-norte",))
    mx = create_contact(db, MX_PHONE, "es", ("sms", "whatsapp"), name="Beto Privado")
    wa = create_contact(db, WA_US_PHONE, "es", ("whatsapp",), opted_in=False)
    create_message(db, us, "Mi número es +12135550123, llámenme")
    create_message(db, mx, "Estoy en la frontera", channel="whatsapp")
    create_message(db, mx, "Gracias por escribir", direction="out", channel="whatsapp")
    create_message(db, wa, "hola")
    create_report(db, mx, what="Retén en la carretera", where="Km 40", phone="+525512345678")
    return {"contacts": (us, mx, wa)}


def get_pages(app: Flask, client, contact_ids) -> dict[str, str]:
    """Every GET page and answer of the dashboard, with real ids, for this client."""
    pages = {}
    for endpoint, method, url in urls(app):
        if method != "GET" or not url.startswith("/dashboard") or "static" in endpoint:
            continue
        targets = [url] if "/1" not in url else [url.replace("/1", f"/{i}") for i in contact_ids]
        for target in targets:
            response = client.get(target)
            pages[target] = response.get_data(as_text=True)
    for extra in ("/dashboard/contacts/?q=0123", "/dashboard/contacts/export",
                  "/dashboard/flows/join", "/dashboard/contacts/?channel=whatsapp"):  # fmt: skip
        pages[extra] = client.get(extra).get_data(as_text=True)
    return pages


def leaks(pages: dict[str, str]) -> list[tuple[str, str]]:
    found = []
    for url, body in pages.items():
        digits_only = re.sub(r"[^\d+]", "", body)
        for spellings in PHONE_SPELLINGS.values():
            for spelling in spellings:
                if spelling in body:
                    found.append((url, spelling))
        for phone in PHONE_SPELLINGS:
            if phone in digits_only:  # even split by markup or spaces
                found.append((url, phone + " (digits)"))
    return found


@pytest.mark.parametrize("role", ["organizer", "viewer"])
def test_masked_roles_never_receive_a_full_phone_number(app, sign_in, private_data, role, caplog):
    client = sign_in(role)
    with caplog.at_level(logging.ERROR, logger="bot.web.dashboard.masking"):
        pages = get_pages(app, client, private_data["contacts"])
    assert len(pages) > 15
    assert leaks(pages) == []
    # The views masked everything themselves: the safety net had nothing to scrub.
    assert [r.message for r in caplog.records] == []
    assert "…0123" in pages["/dashboard/contacts/"]


def test_a_verifier_sees_a_full_number_only_as_a_reports_reporter(app, sign_in, private_data):
    pages = get_pages(app, sign_in("verifier"), private_data["contacts"])
    found = leaks(pages)
    assert found  # the report's page names its reporter to the desk…
    assert {url for url, _ in found} == {"/dashboard/reports/1"}  # …and nothing else does


def test_an_admin_sees_full_numbers(app, sign_in, private_data):
    pages = get_pages(app, sign_in("admin"), private_data["contacts"])
    assert any(US_PHONE in body for body in pages.values())


def test_a_viewer_sees_no_names_no_messages_no_reports(app, sign_in, private_data):
    pages = get_pages(app, sign_in("viewer"), private_data["contacts"])
    everything = "\n".join(pages.values())
    for secret in ("Ana Secreta", "Beto Privado", "Estoy en la frontera", "Retén", "Km 40"):
        assert secret not in everything


def test_an_organizer_reads_messages_and_names_but_not_numbers(app, sign_in, private_data):
    organizer = sign_in("organizer")
    us = private_data["contacts"][0]
    page = organizer.get(f"/dashboard/contacts/{us}").get_data(as_text=True)
    assert "Ana Secreta" in page
    assert "llámenme" in page  # what they wrote…
    assert US_PHONE not in page  # …but the number they wrote in it is masked


def test_the_safety_net_scrubs_a_number_a_view_forgot(app, sign_in, db, caplog):
    from bot.web.dashboard import masking

    organizer = sign_in("organizer")
    with app.test_request_context("/dashboard/"):
        from flask import Response, g

        from bot.accounts.models import User

        g.user = User(role="organizer", email="o@x.org", name="O", password_hash="x")
        response = masking.redact_response(Response(f"call {US_PHONE} now", mimetype="text/html"))
    assert response.get_data(as_text=True) == "call …0123 now"
    assert organizer  # the client exists only to have a user in the database
