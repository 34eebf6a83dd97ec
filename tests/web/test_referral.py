"""A partner's referral kit: the public join page, its QR code, the poster, counted visits."""

from __future__ import annotations

import html
import io
import re
import xml.etree.ElementTree as ET

import pytest
import segno
from sqlalchemy import inspect, select

from bot.accounts import users
from bot.accounts.models import PartnerRole
from bot.db import utcnow
from bot.partners import organizations
from bot.partners.organizations import PartnerFields
from bot.partners.referrals import ReferralVisit
from tests.dashboard_client import csrf_from
from tests.factories import DASHBOARD_PASSWORD
from tests.settings import PUBLIC_URL, SMS_FROM, WHATSAPP_FROM


def make_partner(db, slug="frontera", es=("FRONTERA",), en=("BORDER",), **fields):
    with db.session() as session:
        partner = organizations.create(
            session,
            slug,
            PartnerFields(
                name_es="Frontera Unida", name_en="Border United",
                keywords={"es": list(es), "en": list(en)}, **fields,
            ),
            None,
            utcnow(),
        )  # fmt: skip
        return partner.id


def links(page: bytes) -> dict[str, str]:
    """The join buttons' links by channel, as a phone would follow them."""
    found = re.findall(r'href="([^"]+)" data-channel="(\w+)"', page.decode())
    return {channel: html.unescape(href) for href, channel in found}


def visits(db) -> dict[tuple[int, str, str], int]:
    with db.session() as session:
        rows = session.scalars(select(ReferralVisit)).all()
        return {(r.organization_id, r.language, r.channel): r.visits for r in rows}


def test_the_join_page_fills_in_the_keyword_in_each_language(client, db):
    make_partner(db, sender="+15125550100")
    spanish = client.get("/j/frontera?lang=es&via=sms")
    assert spanish.status_code == 200
    page = spanish.data.decode()
    assert "Frontera Unida" in page and 'lang="es"' in page
    assert "Responde STOP para cancelar" in page and "Pueden aplicarse tarifas" in page
    assert links(spanish.data) == {
        "sms": "sms:+15125550100?&body=FRONTERA",
        "whatsapp": f"https://wa.me/{WHATSAPP_FROM.removeprefix('whatsapp:+')}?text=FRONTERA",
    }
    english = client.get("/j/frontera?lang=en&via=whatsapp")
    page = english.data.decode()
    assert "Border United" in page and "Reply STOP to cancel, HELP for help" in page
    found = links(english.data)
    assert (
        found["whatsapp"] == f"https://wa.me/{WHATSAPP_FROM.removeprefix('whatsapp:+')}?text=BORDER"
    )
    assert list(found) == ["whatsapp", "sms"]  # the link's channel comes first
    assert "no-store" in english.headers["Cache-Control"]


def test_without_its_own_sender_the_coalitions_numbers_and_keywords_are_url_encoded(client, db):
    make_partner(db, es=("PAZ YA",), en=("PEACE NOW",))
    found = links(client.get("/j/frontera?lang=es").data)
    assert found["sms"] == f"sms:{SMS_FROM}?&body=PAZ%20YA"
    assert found["whatsapp"] == f"https://wa.me/{SMS_FROM.lstrip('+')}?text=PAZ%20YA"
    found = links(client.get("/j/frontera", headers={"Accept-Language": "en-US"}).data)
    assert found["sms"].endswith("body=PEACE%20NOW")


def test_a_partner_with_keywords_in_one_language_uses_them_in_the_other(client, db):
    make_partner(db, es=("FRONTERA",), en=())
    assert links(client.get("/j/frontera?lang=en").data)["sms"].endswith("body=FRONTERA")


def test_an_unknown_or_archived_partner_has_no_join_page_nor_qr(client, db):
    partner_id = make_partner(db)
    assert client.get("/j/nadie?lang=es").status_code == 404
    with db.session() as session:
        organizations.archive(session.get_one(organizations.Organization, partner_id), utcnow())
    for url in ("/j/frontera?lang=es", "/j/frontera/qr.svg?lang=es", "/j/coalition"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"FRONTERA" not in response.data
    assert visits(db) == {}


def test_the_qr_code_is_svg_of_the_exact_join_link(client, db):
    make_partner(db)
    response = client.get("/j/frontera/qr.svg?lang=es&via=whatsapp")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)  # well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    link = f"{PUBLIC_URL}/j/frontera?lang=es&via=whatsapp"
    assert root.find("{http://www.w3.org/2000/svg}title").text == link
    expected = io.BytesIO()
    segno.make(link, error="m", micro=False).save(
        expected, kind="svg", scale=8, border=4, xmldecl=True, title=link
    )
    assert response.data == expected.getvalue()  # segno drew exactly this link
    other = client.get("/j/frontera/qr.svg?lang=en").data
    assert other != response.data
    assert f"{PUBLIC_URL}/j/frontera?lang=en<" in other.decode()
    assert visits(db) == {}  # drawing the code is not a visit


def test_visits_are_counted_per_partner_language_and_channel_with_nothing_about_the_visitor(
    client, db
):
    frontera = make_partner(db)
    other = make_partner(db, "sur", es=("SUR",), en=("SOUTH",))
    client.get("/j/frontera?lang=es&via=sms", headers={"User-Agent": "Mozilla/5.0 (iPhone)"})
    client.get("/j/frontera?lang=es&via=sms")
    client.get("/j/frontera?lang=en&via=whatsapp")
    client.get("/j/frontera?lang=es")
    client.get("/j/sur?lang=en&via=nonsense")
    client.get("/j/frontera?lang=es", headers={"User-Agent": "WhatsApp/2.23.20 A"})  # a preview
    client.head("/j/frontera?lang=es")
    assert visits(db) == {
        (frontera, "es", "sms"): 2,
        (frontera, "en", "whatsapp"): 1,
        (frontera, "es", "any"): 1,
        (other, "en", "any"): 1,
    }
    columns = {c["name"] for c in inspect(db.engine).get_columns("referral_visits")}
    assert columns == {"organization_id", "day", "language", "channel", "visits"}


def test_the_poster_shows_name_keyword_number_and_qr_in_one_language_or_both(app, sign_in, db):
    partner_id = make_partner(db, sender="+15125550100")
    admin = sign_in("admin", "en")
    both = admin.get("/dashboard/partners/frontera/poster")
    assert both.status_code == 200
    page = both.data.decode()
    for text in ("Frontera Unida", "Border United", "FRONTERA", "BORDER", "+15125550100"):
        assert text in page
    assert 'src="/j/frontera/qr.svg?lang=es"' in page and 'src="/j/frontera/qr.svg?lang=en"' in page
    assert "manda esta palabra" in page and "text this word" in page
    assert "poster.css" in page
    spanish = admin.get("/dashboard/partners/frontera/poster?lang=es").data.decode()
    spanish = spanish[spanish.index('<div class="poster">') :]
    assert spanish.count('class="poster-half"') == 1
    assert "FRONTERA" in spanish and "BORDER" not in spanish and "Border United" not in spanish
    # The partner's own organizers may print it; a coalition organizer or viewer may not.
    assert sign_in("organizer").get("/dashboard/partners/frontera/poster").status_code == 403
    assert sign_in("viewer").get("/dashboard/partners/frontera/poster").status_code == 403
    for role, status in (("organizer", 200), ("viewer", 403)):
        email = f"frontera-{role}@puente.example.org"
        with db.session() as session:
            user = users.create_user(session, email, role, DASHBOARD_PASSWORD, "viewer", "es")
            user.role = None  # they work for the partner only
            user.partner_roles.append(PartnerRole(organization_id=partner_id, role=role))
        client = signed_in(app, email)
        response = client.get("/dashboard/partners/frontera/poster?lang=es")
        assert response.status_code == status, role
        if status == 200:
            assert "+15125550100" in response.data.decode()  # its own number, not masked
            assert "Frontera Unida" in response.data.decode()
        assert client.get("/dashboard/partners/").status_code == 403
    # Another partner's organizer prints their own poster, not this one.
    sur = make_partner(db, "sur", es=("SUR",), en=("SOUTH",))
    with db.session() as session:
        email = "sur-organizer@puente.example.org"
        user = users.create_user(session, email, "Sur", DASHBOARD_PASSWORD, "viewer", "es")
        user.role = None
        user.partner_roles.append(PartnerRole(organization_id=sur, role="organizer"))
    client = signed_in(app, email)
    assert client.get("/dashboard/partners/sur/poster").status_code == 200
    refused = client.get("/dashboard/partners/frontera/poster")
    assert refused.status_code == 403 and b"FRONTERA" not in refused.data


def signed_in(app, email):
    client = app.test_client()
    token = csrf_from(client.get("/dashboard/login").data)
    response = client.post(
        "/dashboard/login",
        data={"email": email, "password": DASHBOARD_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_not_found_page_speaks_the_visitors_language(client, lang):
    response = client.get(f"/j/nadie?lang={lang}")
    assert response.status_code == 404
    text = "Este enlace no funciona" if lang == "es" else "This link does not work"
    assert text in response.data.decode()
