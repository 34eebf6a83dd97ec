"""Issue 11's "done when": two partners and the coalition side by side, by text and
from the dashboard, in both languages.

People join through either partner's keyword or poster link; each partner's
organizer sends to their own members from their own sender and sees nobody
else's; a person leaves one partner and stays in the other; the coalition's
roll-up shows who brought whom. On SQLite and PostgreSQL, through the real
webhook, the real dashboard and the send jobs run in this process.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from bot.broadcasts.models import Delivery
from bot.sending import jobs, process
from tests.dashboard_client import csrf_from
from tests.factories import DASHBOARD_PASSWORD
from tests.twilio_requests import text

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
FRONTERA_NUMBER = "+16195550100"
ROSA, LUIS, ANA, TOM = "+525512340001", "+525512340002", "+12135550003", "+12135550004"


def cli(app, *args):
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def signed_in(app, email):
    client = app.test_client()
    token = csrf_from(client.get("/dashboard/login").data)
    response = client.post(
        "/dashboard/login",
        data={"email": email, "password": DASHBOARD_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302, response.data
    client.csrf_token = csrf_from(client.get("/dashboard/profile").data)
    return client


def send_from_dashboard(app, client, fake_twilio, text_es, text_en):
    fake_twilio.clear_outbox()
    response = client.post(
        "/dashboard/broadcasts/",
        data={"csrf_token": client.csrf_token, "name": "Marcha", "text_es": text_es,
              "text_en": text_en, "channel_order": "sms_only"},
    )  # fmt: skip
    assert response.status_code == 302, response.data
    broadcast_id = int(response.headers["Location"].rsplit("/", 1)[1])
    client.post(
        f"/dashboard/broadcasts/{broadcast_id}/send",
        data={"csrf_token": client.csrf_token, "confirm": "yes"},
    )
    config = {**app.config, "QUIET_HOURS_START": 0, "QUIET_HOURS_END": 24,
              "QUIET_HOURS_START_MX": 0}  # fmt: skip
    process.use(process.build(config))
    jobs.fan_out(broadcast_id)
    db = app.extensions["puente.db"]
    with db.session() as session:
        batches = set(
            session.scalars(select(Delivery.batch).where(Delivery.broadcast_id == broadcast_id))
        )
    for batch in sorted(batches):
        jobs.send_batch(broadcast_id, batch)
    return {m["to"]: (m["from"], m["body"]) for m in fake_twilio.outbox()}


def test_two_partners_and_the_coalition_side_by_side(app, client, db, fake_twilio, redis_url):
    app.config["REDIS_URL"] = redis_url
    # The coalition's admin sets up two partners: one from the dashboard, one by command.
    cli(app, "users", "create", "--email", "admin@coalicion.example", "--name", "Admin",
        "--role", "admin", "--password", DASHBOARD_PASSWORD)  # fmt: skip
    admin = signed_in(app, "admin@coalicion.example")
    created = admin.post(
        "/dashboard/partners/",
        data={"csrf_token": admin.csrf_token, "slug": "frontera", "name_es": "Frontera Unida",
              "name_en": "Border United", "keywords_es": "FRONTERA", "keywords_en": "BORDER",
              "country": "MX", "regions": "MX-BCN", "sender": FRONTERA_NUMBER},
    )  # fmt: skip
    assert created.status_code == 302, created.data
    cli(app, "partners", "create", "--slug", "sierra", "--name-es", "Sierra Viva",
        "--name-en", "Living Sierra", "--keyword-es", "SIERRA",
        "--keyword-en", "MOUNTAIN")  # fmt: skip
    for slug in ("frontera", "sierra"):
        cli(app, "users", "create", "--email", f"org@{slug}.example", "--name", slug,
            "--partner", slug, "--role", "organizer", "--password", DASHBOARD_PASSWORD)  # fmt: skip

    # People join by keyword, in both languages, one after opening the poster's link.
    assert client.get("/j/frontera?lang=es&via=sms").status_code == 200
    assert "Frontera Unida y" in text(client, ROSA, "FRONTERA")[0]
    assert "Border United and" in text(client, ANA, "border")[0]
    assert "Sierra Viva y" in text(client, LUIS, "SIERRA")[0]
    assert "Living Sierra and" in text(client, TOM, "MOUNTAIN")[0]
    text(client, ROSA, "SIERRA")  # Rosa is in both

    # Frontera's organizer sees its members only.
    frontera = signed_in(app, "org@frontera.example")
    contacts = frontera.get("/dashboard/contacts/").get_data(as_text=True)
    assert "0001" in contacts and "0003" in contacts  # Rosa's and Ana's last digits
    assert "0002" not in contacts and "0004" not in contacts
    sent = send_from_dashboard(app, frontera, fake_twilio, "Marcha el sábado", "March Saturday")
    assert set(sent) == {ROSA, ANA}
    assert {sender for sender, _ in sent.values()} == {FRONTERA_NUMBER}
    assert sent[ROSA][1] == "Frontera Unida: Marcha el sábado"
    assert sent[ANA][1] == "Border United: March Saturday"

    # Sierra's organizer: its members, from the coalition's number (it has none of its own).
    sierra = signed_in(app, "org@sierra.example")
    sent = send_from_dashboard(app, sierra, fake_twilio, "Asamblea", "Assembly")
    assert set(sent) == {ROSA, LUIS, TOM}

    # Rosa leaves Frontera and stays in Sierra.
    assert "Saliste de Frontera Unida" in text(client, ROSA, "SALIR FRONTERA")[0]
    sent = send_from_dashboard(app, frontera, fake_twilio, "Otra", "Another")
    assert set(sent) == {ANA}
    sent = send_from_dashboard(app, sierra, fake_twilio, "Otra", "Another")
    assert set(sent) == {ROSA, LUIS, TOM}

    # The coalition's roll-up shows who brought whom.
    rows = list(
        csv.DictReader(io.StringIO(admin.get("/dashboard/rollup.csv").get_data(as_text=True)))
    )
    totals = {r["organization_slug"]: r for r in rows if r["breakdown"] == "all"}
    assert totals["frontera"]["brought"] == "2" and totals["sierra"]["brought"] == "2"
    assert totals["frontera"]["members_now"] == "1" and totals["sierra"]["members_now"] == "3"
    assert totals["frontera"]["leaves"] == "1"
    came = {
        (r["organization_slug"], r["group"]): r["members_now"]
        for r in rows
        if r["breakdown"] == "came_through"
    }
    assert came == {("sierra", "sierra"): "2", ("sierra", "frontera"): "1",
                    ("frontera", "frontera"): "1"}  # fmt: skip
    assert frontera.get("/dashboard/rollup").status_code == 403
