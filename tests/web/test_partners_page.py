"""The partners page for coalition admins: list, create, edit, archive, refusals translated."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import select

from bot.accounts.models import AuditEntry
from bot.contacts.models import Contact
from bot.db import utcnow
from bot.partners import organizations
from bot.partners.models import Membership, Organization
from bot.partners.organizations import PartnerFields
from tests.factories import MX_PHONE, US_PHONE, WA_US_PHONE, create_contact

FORM = {
    "slug": "frontera",
    "name_es": "Frontera Unida",
    "name_en": "Border United",
    "country": "MX",
    "regions": "MX-BCN, MX-SON",
    "keywords_es": "FRONTERA, PAZ YA",
    "keywords_en": "BORDER",
    "sender": "",
    "messaging_service_sid": "",
    "help_contact": "ayuda@frontera.example.org",
    "legal_help": "Tijuana legal aid, +52 664 000 0000",
}


def post(client, url, **data):
    return client.post(url, data={"csrf_token": client.csrf_token, **data})


def partner(db, slug="frontera") -> Organization:
    with db.session() as session:
        found = organizations.by_slug(session, slug, archived=True)
        assert found is not None
        return found


def audit(db) -> list[tuple[str, int | None]]:
    with db.session() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("partner.%")).order_by(AuditEntry.id)
        )
        return [(r.action, r.organization_id) for r in rows]


def error_of(page: bytes) -> str:
    found = re.search(r'id="partner-error">([^<]*)<', page.decode())
    assert found, "no error on the page"
    return html.unescape(found.group(1))


def test_an_admin_creates_edits_and_archives_a_partner(sign_in, db):
    admin = sign_in("admin", "en")
    assert admin.get("/dashboard/partners/").status_code == 200
    response = post(admin, "/dashboard/partners/", **FORM)
    assert response.status_code == 302
    created = partner(db)
    assert (created.name_es, created.name_en, created.country) == (
        "Frontera Unida",
        "Border United",
        "MX",
    )
    assert created.regions == ["MX-BCN", "MX-SON"]
    assert created.keywords_for("es") == ["FRONTERA", "PAZ YA"]
    assert created.keywords_for("en") == ["BORDER"]
    assert created.help_contact == "ayuda@frontera.example.org"

    page = admin.get("/dashboard/partners/").data.decode()
    row = page[page.index('id="partner-frontera"') :].split("</tr>")[0]
    for text in ("Border United", "frontera", "MX-BCN", "FRONTERA, PAZ YA", "BORDER"):
        assert text in row
    assert "Frontera Unida" not in row  # the dashboard's language
    post(admin, "/dashboard/language", lang="es", next="/dashboard/partners/")
    assert "Frontera Unida" in admin.get("/dashboard/partners/").data.decode()
    post(admin, "/dashboard/language", lang="en", next="/dashboard/partners/")

    edit = admin
    assert "PAZ YA" in edit.get("/dashboard/partners/frontera/edit").data.decode()
    changed = {**FORM, "name_en": "Border Together", "keywords_en": "BORDER, UNITE"}
    changed["sender"] = "+15125550100"
    assert post(edit, "/dashboard/partners/frontera/edit", **changed).status_code == 302
    edited = partner(db)
    assert edited.name_en == "Border Together" and edited.sender == "+15125550100"
    assert edited.keywords_for("en") == ["BORDER", "UNITE"]

    assert post(edit, "/dashboard/partners/frontera/archive").status_code == 302
    assert partner(db).archived_at is not None
    page = edit.get("/dashboard/partners/").data.decode()
    assert "Archived" in page[page.index('id="partner-frontera"') :].split("</tr>")[0]
    assert audit(db) == [
        ("partner.create", created.id),
        ("partner.update", created.id),
        ("partner.archive", created.id),
    ]


@pytest.mark.parametrize(
    ("language", "reason"),
    [
        ("en", "FRONTERA is already the keyword of the partner frontera."),
        ("es", "FRONTERA ya es la palabra clave de la organización aliada frontera."),
    ],
)
def test_a_colliding_keyword_is_refused_with_the_reason_and_the_form_keeps_what_was_typed(
    sign_in, db, language, reason
):
    admin = sign_in("admin", language)
    assert post(admin, "/dashboard/partners/", **FORM).status_code == 302
    typed = {**FORM, "slug": "sur", "name_es": "Sur Fuerte", "keywords_es": "frontera"}
    typed["name_en"] = "South Strong"
    response = post(admin, "/dashboard/partners/", **typed)
    assert response.status_code == 400
    assert error_of(response.data) == reason
    page = response.data.decode()
    for name, value in (("slug", "sur"), ("name_es", "Sur Fuerte"), ("keywords_es", "frontera")):
        assert re.search(rf'name="{name}"[^>]*value="{re.escape(value)}"', page), name
    with db.session() as session:
        assert organizations.by_slug(session, "sur") is None
    assert audit(db) == [("partner.create", partner(db).id)]


@pytest.mark.parametrize(
    ("language", "field", "value", "reason"),
    [
        ("es", "keywords_en", "STOP", "STOP es una palabra de cumplimiento (como STOP, AYUDA"),
        ("en", "keywords_en", "STOP", "STOP is a compliance word (such as STOP, HELP"),
        ("es", "sender", "12345", "El remitente es un número de teléfono en formato E.164"),
        ("en", "regions", "Baja", "BAJA is not a state or region code such as MX-BCN or US-TX."),
        ("es", "regions", "Baja", "BAJA no es un código de estado o región"),
        ("es", "keywords_es", "unirme", "UNIRME ya inicia el flujo join."),
        ("en", "keywords_es", "unirme", "UNIRME already starts the flow join."),
    ],
)
def test_an_edit_refused_shows_the_translated_reason_and_changes_nothing(
    sign_in, db, language, field, value, reason
):
    admin = sign_in("admin", language)
    post(admin, "/dashboard/partners/", **FORM)
    response = post(admin, "/dashboard/partners/frontera/edit", **{**FORM, field: value})
    assert response.status_code == 400
    assert error_of(response.data).startswith(reason)
    assert f'value="{value}"' in response.data.decode()  # what was typed is kept
    kept = partner(db)
    assert kept.keywords_for("en") == ["BORDER"] and kept.sender is None
    assert kept.regions == ["MX-BCN", "MX-SON"]
    assert [a for a, _ in audit(db)] == ["partner.create"]


@pytest.mark.parametrize("role", ["organizer", "viewer"])
def test_organizers_and_viewers_may_not_see_or_change_partners(sign_in, db, role):
    with db.session() as session:
        organizations.create(
            session, "frontera",
            PartnerFields(name_es="Frontera", name_en="Border", keywords={"es": ["FRONTERA"]}),
            None, utcnow(),
        )  # fmt: skip
    client = sign_in(role)
    assert client.get("/dashboard/partners/").status_code == 403
    assert client.get("/dashboard/partners/frontera/edit").status_code == 403
    refused = [
        post(client, "/dashboard/partners/", **{**FORM, "slug": "sur", "keywords_es": "SUR"}),
        post(client, "/dashboard/partners/frontera/edit", **{**FORM, "name_en": "X"}),
        post(client, "/dashboard/partners/frontera/archive"),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    kept = partner(db)
    assert kept.archived_at is None and kept.name_en == "Border"
    with db.session() as session:
        assert organizations.by_slug(session, "sur") is None
    assert "/dashboard/partners/" not in client.get("/dashboard/contacts/").data.decode()


def test_admins_get_the_menu_link_and_an_unknown_partner_is_404(sign_in):
    admin = sign_in("admin")
    assert 'href="/dashboard/partners/"' in admin.get("/dashboard/contacts/").data.decode()
    assert admin.get("/dashboard/partners/nadie/edit").status_code == 404
    assert post(admin, "/dashboard/partners/nadie/archive").status_code == 404


def test_the_list_counts_members_recent_joins_link_visits_and_keyword_joins(sign_in, db, client):
    admin = sign_in("admin", "en")
    post(admin, "/dashboard/partners/", **FORM)
    post(admin, "/dashboard/partners/", **{**FORM, "slug": "sur", "keywords_es": "SUR",
                                          "keywords_en": "SOUTH"})  # fmt: skip
    frontera, sur = partner(db).id, partner(db, "sur").id
    long_ago = utcnow() - dt.timedelta(days=90)
    joined = [  # how bot.inbound records a join by text: "keyword:<the keyword>"
        (create_contact(db, US_PHONE, "en"), frontera, "keyword:BORDER", utcnow(), "member"),
        (create_contact(db, MX_PHONE, "en"), frontera, "keyword:PAZ YA", long_ago, "member"),
        (create_contact(db, WA_US_PHONE, "es"), frontera, "import", utcnow(), "left"),
    ]
    with db.session() as session:
        for contact_id, org, source, when, status in joined:
            session.add(
                Membership(
                    contact_id=contact_id, organization_id=org, status=status, source=source,
                    joined_at=when, extra={},
                )
            )  # fmt: skip
        assert session.scalar(select(Contact.id).where(Contact.phone == US_PHONE))
    for url in ("/j/frontera?lang=es&via=sms", "/j/frontera?lang=es", "/j/frontera?lang=en"):
        client.get(url)
    page = admin.get("/dashboard/partners/").data.decode()

    def cells(slug: str) -> dict[str, str]:
        row = page[page.index(f'id="partner-{slug}"') :].split("</tr>")[0]
        found = {}
        for name in ("members", "recent", "visits", "keyword-joins"):
            cell = re.search(rf'<td class="{name}">(.*?)</td>', row, re.S)
            assert cell, name
            found[name] = re.sub(r"<[^>]+>", "", cell.group(1)).split()
        return found

    assert cells("frontera") == {
        "members": ["2"],  # the one who left is not a member now
        "recent": ["2"],  # joined in the last 30 days, whatever came after
        "visits": ["ES", "2", "·", "EN", "1"],
        "keyword-joins": ["ES", "1", "·", "EN", "1"],  # by the keyword's language
    }
    assert cells("sur") == {
        "members": ["0"],
        "recent": ["0"],
        "visits": ["ES", "0", "·", "EN", "0"],
        "keyword-joins": ["ES", "0", "·", "EN", "0"],
    }
    assert sur != frontera


def test_a_person_who_texts_the_keyword_is_counted_as_a_join_by_keyword(sign_in, db, client):
    from tests.twilio_requests import text

    admin = sign_in("admin", "en")
    post(admin, "/dashboard/partners/", **FORM)
    client.get("/j/frontera?lang=es&via=sms")  # they open the link, then text the keyword
    assert text(client, MX_PHONE, "Paz ya")
    assert text(client, US_PHONE, "border")
    page = admin.get("/dashboard/partners/").data.decode()
    row = page[page.index('id="partner-frontera"') :].split("</tr>")[0]
    joins = re.search(r'<td class="keyword-joins">(.*?)</td>', row, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", joins).split() == ["ES", "1", "·", "EN", "1"]
    assert re.search(r'<td class="members">\s*2\s*</td>', row)
    visits = re.search(r'<td class="visits">(.*?)</td>', row, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", visits).split() == ["ES", "1", "·", "EN", "0"]
