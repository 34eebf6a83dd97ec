"""Petitions on the dashboard and their public count (issue 12, item 1), on SQLite and PostgreSQL.

The numbers a petition's page shows are checked exactly (per day, state, partner and
language); masked roles never receive a phone number, in any spelling; a partner's users
see only the signatures of the people their partner brought on the coalition's petitions;
the public page and its JSON carry nothing about any signer.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest
from sqlalchemy import insert, select

from bot.accounts import users
from bot.accounts.models import AuditEntry
from bot.db import utcnow
from bot.petitions import petitions
from bot.petitions.models import Petition, Signature
from tests.dashboard_client import csrf_from
from tests.factories import (
    DASHBOARD_PASSWORD,
    MX_PHONE,
    PHONE_SPELLINGS,
    US_PHONE,
    WA_US_PHONE,
    create_contact,
    create_partner,
)
from tests.settings import SMS_FROM
from tests.twilio_requests import text

DAY1 = dt.datetime.combine(dt.date.today() - dt.timedelta(days=10), dt.time(15), dt.UTC)
DAY2 = DAY1 + dt.timedelta(days=1)
DAY3 = DAY1 + dt.timedelta(days=3)
NAMES = ("Ana Secreta", "Beto Privado", "Carla Oculta", "Dora Escondida", "Eva Reservada")
POSTAL_CODES = ("90011", "22000", "60601", "22010", "78701")


def make_petition(db, slug="armas", keywords=None, organization_id=None, goal=10):
    with db.session() as session:
        petition = petitions.create(
            session,
            slug,
            titles={"es": f"Alto al tráfico de armas {slug}", "en": f"Stop gun trafficking {slug}"},
            texts={"es": "Pedimos que se detenga.", "en": "We ask that it stop."},
            target="Secretaría de Relaciones Exteriores",
            target_country="MX",
            goal=goal,
            keywords=keywords or {"es": ["FIRMO"], "en": ["SIGN"]},
            flows=None,
            now=DAY1 - dt.timedelta(days=1),
            organization_id=organization_id,
        )
        return petition.id


def add_signature(db, petition_id, contact_id=None, **row):
    with db.session() as session:
        session.add(
            Signature(
                petition_id=petition_id, contact_id=contact_id, name=row.get("name"),
                postal_code=row.get("postal_code"), country=row.get("country"),
                region=row.get("region"), organization_id=row.get("organization_id"),
                language=row.get("language", "es"), channel="sms", source="test", extra={},
                created_at=row.get("created_at", DAY1),
            )
        )  # fmt: skip


@pytest.fixture
def signed(db):
    """A coalition petition with five signatures over three days, from two partners and none.

    The signers' numbers are PHONE_SPELLINGS' (a masked role must never see them).
    """
    alfa = create_partner(db, "alfa", "ALFAES", "ALFAEN", name_es="Alfa Unida", name_en="Alfa")
    beta = create_partner(db, "beta", "BETAES", "BETAEN", name_es="Beta Unida", name_en="Beta")
    petition_id = make_petition(db)
    phones = (US_PHONE, MX_PHONE, WA_US_PHONE, "+525598765432", "+12135550177")
    rows = (  # when, region, country, partner, language
        (DAY1, "US-CA", "US", alfa, "en"),
        (DAY1, "MX-BCN", "MX", alfa, "es"),
        (DAY2, "US-IL", "US", beta, "es"),
        (DAY3, "MX-BCN", "MX", None, "es"),
        (DAY3, None, None, alfa, "en"),
    )
    for i, (when, region, country, partner, language) in enumerate(rows):
        contact_id = create_contact(db, phones[i], language)
        add_signature(
            db, petition_id, contact_id, name=NAMES[i], postal_code=POSTAL_CODES[i],
            region=region, country=country, organization_id=partner, language=language,
            created_at=when,
        )  # fmt: skip
    return {"petition": petition_id, "alfa": alfa, "beta": beta, "phones": phones}


def table(page: str, table_id: str) -> dict[str, str]:
    """A two-column table of the page (row header -> value), by its id."""
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    assert found, table_id
    rows = re.findall(r'<th scope="row">(.*?)</th><td class="num">(.*?)</td>', found.group(1))
    return {html.unescape(k): v for k, v in rows}


def chart_numbers(page: str) -> dict[str, str]:
    """The chart's own table of numbers: day label -> signatures."""
    figure = page[page.index('id="chart-petition-days-title"') :]
    figure = figure[: figure.index("</figure>")]
    return dict(re.findall(r'<th scope="row">(.*?)</th><td class="num">(.*?)</td>', figure))


def leaks(body: str) -> list[str]:
    """Every spelling of a signer's number found in ``body`` (as tests/web/test_dashboard_access
    looks for them, also with the markup and spaces taken out)."""
    found = [s for spellings in PHONE_SPELLINGS.values() for s in spellings if s in body]
    digits_only = re.sub(r"[^\d+]", "", body)
    found += [phone for phone in PHONE_SPELLINGS if phone in digits_only]
    return found


def sign_in_partner(app, db, partner_id, role="organizer", language="en"):
    """A client signed in as a user with ``role`` in one partner and none in the coalition."""
    email = f"{role}-of-{partner_id}@puente.example.org"
    with db.session() as session:
        user = users.create_user(session, email, role.title(), DASHBOARD_PASSWORD, role, language)
        users.set_partner_role(user, partner_id, role)
        user.role = None
    client = app.test_client()
    token = csrf_from(client.get("/dashboard/login").data)
    response = client.post(
        "/dashboard/login",
        data={"email": email, "password": DASHBOARD_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302, response.data
    client.csrf_token = csrf_from(client.get("/dashboard/profile").data)
    return client


def audit_entries(db, action):
    with db.session() as session:
        rows = session.execute(
            select(AuditEntry.target, AuditEntry.organization_id, AuditEntry.details).where(
                AuditEntry.action == action
            )
        )
        return [tuple(r) for r in rows]


# --- the numbers --------------------------------------------------------------------------


def test_a_petitions_page_counts_by_day_state_partner_and_language(sign_in, signed):
    page = sign_in("admin").get("/dashboard/petitions/armas").get_data(as_text=True)
    assert re.search(r'<b id="total">5</b>', page)
    # every day from the opening (the day before DAY1) to today: DAY1 2, DAY2 1, DAY3 2
    days = chart_numbers(page)
    opened = DAY1.date() - dt.timedelta(days=1)
    expected = {(opened + dt.timedelta(days=i)).strftime("%m/%d"): "0" for i in range(12)}
    expected.update({f"{DAY1:%m/%d}": "2", f"{DAY2:%m/%d}": "1", f"{DAY3:%m/%d}": "2"})
    assert days == expected
    assert table(page, "by-region") == {"MX-BCN": "2", "US-CA": "1", "US-IL": "1", "Unknown": "1"}
    assert table(page, "by-partner") == {"Alfa": "3", "Beta": "1", "Coalition (direct)": "1"}
    assert table(page, "by-language") == {"English": "2", "Spanish": "3"}


def test_the_list_shows_each_petition_in_the_dashboards_language(sign_in, signed):
    page = sign_in("organizer", "es").get("/dashboard/petitions/").get_data(as_text=True)
    row = page[page.index('id="petition-armas"') :]
    row = row[: row.index("</tr>")]
    assert "Alto al tráfico de armas armas" in row and "Stop gun" not in row
    assert "Recibe firmas" in row  # open
    assert '<span class="count">5</span> / <span class="goal">10</span>' in row
    assert '<progress class="progress" max="10" value="5"' in row and "50 % de la meta" in row
    assert "FIRMO" in row and "SIGN" in row


def test_signing_by_text_shows_on_the_page(client, sign_in, db):
    make_petition(db)
    text(client, MX_PHONE, "FIRMO")
    text(client, MX_PHONE, "Guadalupe Reyes")
    text(client, MX_PHONE, "22000")
    page = sign_in("admin").get("/dashboard/petitions/armas").get_data(as_text=True)
    assert re.search(r'<b id="total">1</b>', page)
    assert table(page, "by-language") == {"Spanish": "1"}
    assert table(page, "by-region") == {"MX-BCN": "1"}  # from the postal code: Tijuana
    assert table(page, "by-partner") == {"Coalition (direct)": "1"}


# --- export and masking -----------------------------------------------------------------


def pages_of(client):
    urls = (
        "/dashboard/petitions/", "/dashboard/petitions/armas",
        "/dashboard/petitions/armas/signatures.csv", "/dashboard/petitions/armas/print",
        "/dashboard/petitions/armas/signatures.csv?phones=1",
        "/dashboard/petitions/armas/print?phones=1", "/p/armas", "/p/armas.json",
    )  # fmt: skip
    return {url: client.get(url) for url in urls}


@pytest.mark.parametrize("role", ["organizer", "viewer"])
def test_masked_roles_never_see_a_phone_number(sign_in, signed, role, caplog):
    client = sign_in(role)
    with caplog.at_level("ERROR", logger="bot.web.dashboard.masking"):
        got = pages_of(client)
    assert {url: r.status_code for url, r in got.items()} == {
        url: 403 if role == "viewer" and ("csv" in url or "print" in url) else 200 for url in got
    }
    for url, response in got.items():
        assert leaks(response.get_data(as_text=True)) == [], url
    assert [r.message for r in caplog.records] == []  # the views masked; the net had nothing
    if role == "organizer":
        exported = list(csv.reader(io.StringIO(got["/dashboard/petitions/armas/signatures.csv"]
                                               .get_data(as_text=True))))  # fmt: skip
        assert exported[0] == ["name", "postal_code", "region", "country", "signed_at"]
        assert exported[1] == ["Ana Secreta", "90011", "US-CA", "US", DAY1.date().isoformat()]
        assert len(exported) == 6
        printed = got["/dashboard/petitions/armas/print?phones=1"].get_data(as_text=True)
        assert "Carla Oculta" in printed and '<th scope="col">Phone</th>' not in printed


def test_an_admin_gets_phone_numbers_only_when_asked(sign_in, signed, db):
    client = sign_in("admin")
    plain = client.get("/dashboard/petitions/armas/signatures.csv").get_data(as_text=True)
    assert "phone" not in plain.splitlines()[0] and leaks(plain) == []
    with_phones = client.get("/dashboard/petitions/armas/signatures.csv?phones=1")
    rows = list(csv.reader(io.StringIO(with_phones.get_data(as_text=True))))
    assert rows[0][-1] == "phone" and rows[1][-1] == "'" + US_PHONE  # not a formula
    printed = client.get("/dashboard/petitions/armas/print?phones=1").get_data(as_text=True)
    assert MX_PHONE in printed and "@media print" not in printed  # print CSS is a file
    assert "petition-print.css" in printed
    exports = audit_entries(db, "petition.export")
    assert [(t, o, d["format"], d["phones"], d["rows"]) for t, o, d in exports] == [
        (f"petition:{signed['petition']}", None, "csv", False, 5),
        (f"petition:{signed['petition']}", None, "csv", True, 5),
        (f"petition:{signed['petition']}", None, "print", True, 5),
    ]


def test_export_cells_cannot_run_as_formulas(sign_in, db):
    petition_id = make_petition(db)
    add_signature(db, petition_id, name='=HYPERLINK("x") Ana', postal_code="+22000")
    exported = sign_in("organizer").get("/dashboard/petitions/armas/signatures.csv")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[1][:2] == ['\'=HYPERLINK("x") Ana', "'+22000"]


# --- partners ---------------------------------------------------------------------------


def test_a_partners_user_sees_only_their_own_members_signatures(app, db, signed):
    client = sign_in_partner(app, db, signed["alfa"])
    beta_petition = make_petition(db, "beta-carta", {"es": ["BETACARTA"]}, signed["beta"])
    alfa_petition = make_petition(db, "alfa-carta", {"es": ["ALFACARTA"]}, signed["alfa"])
    add_signature(db, beta_petition, name="Firma de Beta", organization_id=signed["beta"])
    add_signature(db, alfa_petition, name="Firma en Alfa", organization_id=signed["beta"])
    listed = client.get("/dashboard/petitions/").get_data(as_text=True)
    assert 'id="petition-armas"' in listed and 'id="petition-alfa-carta"' in listed
    assert 'id="petition-beta-carta"' not in listed
    assert '<span class="count">3</span>' in listed  # armas: Alfa's three, not five
    page = client.get("/dashboard/petitions/armas").get_data(as_text=True)
    assert re.search(r'<b id="total">3</b>', page) and 'id="members-only"' in page
    assert table(page, "by-partner") == {"Alfa": "3"}
    assert table(page, "by-region") == {"MX-BCN": "1", "US-CA": "1", "Unknown": "1"}
    assert sum(int(n) for n in chart_numbers(page).values()) == 3
    exported = client.get("/dashboard/petitions/armas/signatures.csv").get_data(as_text=True)
    names = [row[0] for row in csv.reader(io.StringIO(exported))][1:]
    assert names == ["Ana Secreta", "Beto Privado", "Eva Reservada"]
    printed = client.get("/dashboard/petitions/armas/print").get_data(as_text=True)
    assert "Carla Oculta" not in printed and "Dora Escondida" not in printed
    # Its own petition: every signature; another partner's: not here.
    own = client.get("/dashboard/petitions/alfa-carta/signatures.csv").get_data(as_text=True)
    assert "Firma en Alfa" in own
    for url in ("/dashboard/petitions/beta-carta", "/dashboard/petitions/beta-carta/print",
                "/dashboard/petitions/beta-carta/signatures.csv"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 404 and "Firma de Beta" not in response.get_data(
            as_text=True
        )
    # It may not close the coalition's petition, nor another partner's.
    token = client.csrf_token
    assert (
        client.post("/dashboard/petitions/armas/close", data={"csrf_token": token}).status_code
        == 403
    )
    assert (
        client.post("/dashboard/petitions/beta-carta/close", data={"csrf_token": token}).status_code
        == 404
    )
    with db.session() as session:
        assert {p.slug: p.status for p in session.scalars(select(Petition))} == {
            "armas": "open", "beta-carta": "open", "alfa-carta": "open",
        }  # fmt: skip
    exports = audit_entries(db, "petition.export")
    assert {o for _t, o, _d in exports} == {signed["alfa"]}
    assert [d["rows"] for _t, o, d in exports] == [3, 3, 1]


def test_a_partners_organizer_opens_a_petition_of_their_own(app, db, signed):
    client = sign_in_partner(app, db, signed["alfa"])
    response = client.post("/dashboard/petitions/", data={**FORM, "csrf_token": client.csrf_token})
    assert response.status_code == 302
    with db.session() as session:
        assert petitions.by_slug(session, "muro").organization_id == signed["alfa"]
    assert audit_entries(db, "petition.create") == [
        (f"petition:{_id(db, 'muro')}", signed["alfa"], {"slug": "muro"})
    ]


# --- create and close -------------------------------------------------------------------

FORM = {
    "slug": "muro", "title_es": "No al muro", "title_en": "No wall", "text_es": "Pedimos…",
    "text_en": "We ask…", "target": "U.S. Congress", "target_country": "US", "goal": "500",
    "keywords_es": "NOMURO", "keywords_en": "NOWALL", "partner": "",
}  # fmt: skip


def _id(db, slug):
    with db.session() as session:
        return petitions.by_slug(session, slug).id


def test_an_organizer_opens_and_closes_a_petition(sign_in, db, client):
    organizer = sign_in("organizer")
    response = organizer.post(
        "/dashboard/petitions/", data={**FORM, "csrf_token": organizer.csrf_token}
    )
    assert response.status_code == 302 and response.location.endswith("/dashboard/petitions/muro")
    page = organizer.get("/dashboard/petitions/muro").get_data(as_text=True)
    assert "The petition muro is open." in page and "NOMURO" in page
    assert text(client, "+12135550150", "NOWALL")  # its keyword works at once
    response = organizer.post(
        "/dashboard/petitions/muro/close", data={"csrf_token": organizer.csrf_token}
    )
    assert response.status_code == 302
    with db.session() as session:
        muro = petitions.by_slug(session, "muro")
        assert muro.status == "closed" and muro.closed_at is not None and muro.goal == 500
    petition_target = f"petition:{_id(db, 'muro')}"
    assert audit_entries(db, "petition.create") == [(petition_target, None, {"slug": "muro"})]
    assert audit_entries(db, "petition.close") == [(petition_target, None, {"slug": "muro"})]


def test_a_viewer_may_not_open_or_close(sign_in, db):
    make_petition(db)
    viewer = sign_in("viewer")
    assert "Open the petition" not in viewer.get("/dashboard/petitions/").get_data(as_text=True)
    token = viewer.csrf_token
    assert (
        viewer.post("/dashboard/petitions/", data={**FORM, "csrf_token": token}).status_code == 403
    )
    assert (
        viewer.post("/dashboard/petitions/armas/close", data={"csrf_token": token}).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("change", "spanish"),
    [
        ({"slug": "armas"}, "Ya existe una petición con el identificador armas."),
        ({"keywords_es": "UNIRME"}, "UNIRME ya inicia el flujo join."),
        ({"keywords_es": "FIRMO"}, "FIRMO ya es la palabra clave de una petición"),
        ({"title_en": " "}, "Una petición necesita un título en español y en inglés."),
        ({"goal": "muchas"}, "La meta es un número de firmas, al menos 1."),
        (
            {"keywords_es": "", "keywords_en": ""},
            "Una petición necesita al menos una palabra clave.",
        ),
    ],
)
def test_a_refused_petition_says_why_in_spanish_and_keeps_the_form(sign_in, db, change, spanish):
    make_petition(db)
    organizer = sign_in("organizer", "es")
    form = {**FORM, **change, "csrf_token": organizer.csrf_token}
    response = organizer.post("/dashboard/petitions/", data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(r'id="petition-error">(.*?)</li>', page)
    assert error and spanish in html.unescape(error.group(1))
    assert 'value="No al muro"' in page and "Pedimos…</textarea>" in page  # what was typed
    with db.session() as session:
        assert [p.slug for p in session.scalars(select(Petition))] == ["armas"]


# --- the public page ---------------------------------------------------------------------


def test_the_public_page_counts_in_babels_format_and_says_how_to_sign(client, db, signed):
    with db.session() as session:  # 1,229 more signatures of contacts since erased: 1,234
        session.execute(
            insert(Signature),
            [{"petition_id": signed["petition"], "language": "es", "source": "test",
              "extra": {}, "created_at": utcnow()} for _ in range(1229)],
        )  # fmt: skip
    spanish = client.get("/p/armas?lang=es")
    page = spanish.get_data(as_text=True)
    assert spanish.status_code == 200 and '<html lang="es">' in page
    assert "Alto al tráfico de armas armas" in page and "Pedimos que se detenga." in page
    assert "Para: Secretaría de Relaciones Exteriores" in page
    assert '<b id="count">1.234</b>' in page and "Meta: 10 firmas" in page
    assert f"Envía FIRMO al {SMS_FROM} para firmar." in page
    assert '<progress class="progress" max="10" value="10"' in page
    english = client.get("/p/armas", headers={"Accept-Language": "en-US,en;q=0.9"})
    page = english.get_data(as_text=True)
    assert '<b id="count">1,234</b>' in page and f"Text SIGN to {SMS_FROM} to sign." in page
    assert "Stop gun trafficking armas" in page
    assert "Alto al" not in client.get("/p/armas?lang=en").get_data(as_text=True)
    headers = english.headers
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_public_page_and_json_have_no_signers_data(client, db, signed):
    for url in ("/p/armas?lang=es", "/p/armas?lang=en", "/p/armas.json"):
        body = client.get(url).get_data(as_text=True)
        assert leaks(body) == [], url
        for private in (*NAMES, *POSTAL_CODES, *(n.split()[0] for n in NAMES)):
            assert private not in body, (url, private)
        for phone in signed["phones"]:
            assert phone[-7:] not in body and phone[-4:] not in body, (url, phone)


def test_the_json_count_for_the_website(client, db, signed):
    with db.session() as session:
        petitions.close(petitions.by_slug(session, "armas"), utcnow())
    response = client.get("/p/armas.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.get_json() == {
        "slug": "armas",
        "title": {"es": "Alto al tráfico de armas armas", "en": "Stop gun trafficking armas"},
        "count": 5,
        "goal": 10,
        "status": "closed",
    }
    page = client.get("/p/armas?lang=en").get_data(as_text=True)
    assert "This petition is closed" in page and "Text SIGN" not in page


def test_an_unknown_petition_is_a_plain_page_in_both_languages(client, db):
    response = client.get("/p/nada")
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Aquí no hay ninguna petición." in page and "There is no petition here." in page
    assert response.headers["X-Frame-Options"] == "DENY"
    missing = client.get("/p/nada.json")
    assert missing.status_code == 404 and missing.get_json() == {"error": "not found"}
    assert missing.headers["Access-Control-Allow-Origin"] == "*"


def test_a_coalition_admin_opens_a_petition_for_a_partner(sign_in, db):
    alfa = create_partner(db, "alfa", "ALFAES", "ALFAEN")
    admin = sign_in("admin")
    assert '<option value="alfa"' in admin.get("/dashboard/petitions/").get_data(as_text=True)
    form = {**FORM, "partner": "alfa", "csrf_token": admin.csrf_token}
    assert admin.post("/dashboard/petitions/", data=form).status_code == 302
    with db.session() as session:
        assert petitions.by_slug(session, "muro").organization_id == alfa
    assert audit_entries(db, "petition.create") == [
        (f"petition:{_id(db, 'muro')}", alfa, {"slug": "muro"})
    ]
