"""The right to be erased: by text and by an admin, nothing of the person remains.

A contact is given data in every table (messages both ways, fields, tags, a
flow session, a report, a signature, a poll answer, an RSVP, a membership, a
consent log, a delivery, an audit entry about them), erased, and then every
column of every table in the schema is searched for their number (E.164, the
national digits) and their name.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.accounts.models import AuditEntry
from bot.broadcasts.models import Delivery, Event, Rsvp
from bot.contacts.models import ConsentEvent, Contact, ContactTag, Suppression
from bot.db import Base, Database, utcnow
from bot.links.models import BroadcastLink, LinkClick
from bot.msgs.models import EarlyCallback, Message
from bot.msgs.sending import send_to_contact, sender_from_config
from bot.petitions.models import Petition, Signature
from bot.polls.models import Poll, PollAnswer
from bot.reports import storage
from bot.reports.models import ReportMedia, ReportNote
from tests.factories import (
    MX_PHONE,
    add_member,
    contact_by_phone,
    create_broadcast,
    create_partner,
    create_report,
)
from tests.twilio_requests import text

WHATSAPP = "whatsapp:+5215512345678"  # MX_PHONE as WhatsApp sends it
NATIONAL = "5512345678"
NAME = "Zenaida"
PHOTO = b"\xff\xd8\xff\xe0JFIF"  # the start of a JPEG
SURNAME = "Olvera"
NEEDLES = (MX_PHONE, NATIONAL, NAME, SURNAME)


def seed(client: Any, db: Database) -> int:
    """A contact with something in every table that can hold a person; returns their id."""
    text(client, WHATSAPP, "UNIRME", ProfileName=f"{NAME} {SURNAME}")  # consent, flow session
    text(client, WHATSAPP, NAME)  # a field, messages both ways
    text(client, MX_PHONE, "hola, soy de Tijuana")  # their SMS address
    contact = contact_by_phone(db, MX_PHONE)
    assert contact is not None and contact.fields.get("name") == NAME
    partner = create_partner(db, "frontera", "FRONTERA", "BORDER")
    add_member(db, contact.id, partner)
    report_id = create_report(
        db, contact.id, columns={"place_text": f"near {NAME}'s house"},
        what=f"{NAME} {SURNAME} saw it", media="https://x/ME1",
    )  # fmt: skip
    broadcast_id = create_broadcast(db, send=False)
    with db.session() as session:
        session.add(ContactTag(contact_id=contact.id, tag="tijuana"))
        petition = Petition(
            slug="asilo", titles={"es": "Asilo"}, texts={"es": "Asilo"}, target="SRE", goal=10
        )
        event = Event(names={"es": "Marcha"}, places={"es": "Centro"}, starts_at=utcnow(),
                      timezone="America/Tijuana")  # fmt: skip
        poll = Poll(broadcast_id=broadcast_id, choices=[{"value": "si", "es": "SÍ", "en": "YES"}])
        session.add_all([petition, event, poll])
        session.flush()
        session.add_all([
            Signature(petition_id=petition.id, contact_id=contact.id, name=f"{NAME} {SURNAME}",
                      postal_code="22000", country="MX", language="es", channel="whatsapp",
                      source="keyword:FIRMO", message_sid="SMsig", extra={"who": NAME}),
            PollAnswer(poll_id=poll.id, contact_id=contact.id, choice="si", language="es",
                       channel="whatsapp", message_sid="SMpoll"),
            Rsvp(event_id=event.id, contact_id=contact.id, answer="yes"),
            AuditEntry(user_email="organizer@puente.example.org", action="contact.tag_add",
                       target=f"contact:{contact.id}", details={"note": f"{NAME} {SURNAME}"}),
        ])  # fmt: skip
        sent = Message(
            contact_id=contact.id, direction="out", channel="whatsapp", address=WHATSAPP,
            body=f"Hola {NAME}", sid="SMsent", status="delivered",
        )  # fmt: skip
        session.add(sent)
        session.flush()
        link = BroadcastLink(broadcast_id=broadcast_id, position=1, url="https://example.org/m")
        session.add(link)
        session.flush()
        session.add_all([
            Delivery(broadcast_id=broadcast_id, contact_id=contact.id, channel="whatsapp",
                     batch=0, status="sent", message_id=sent.id),
            EarlyCallback(sid="SMsent", status="read"),
            ReportNote(report_id=report_id, body=f"called {NAME} back"),
            LinkClick(link_id=link.id, contact_id=contact.id, clicked_at=utcnow()),
            ReportMedia(report_id=report_id, content_type="image/jpeg", status="stored",
                        key=storage.store_for(client.application.config).put(PHOTO), size=5),
        ])  # fmt: skip
    assert leftovers(db, contact.id), "the seed holds the person"
    return contact.id


def stored_files(client: Any) -> list[str]:
    """The files in the media store (a report's photos, audio and video)."""
    folder = Path(client.application.config["MEDIA_DIR"])
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def leftovers(db: Database, contact_id: int | None = None) -> list[tuple[str, str, str]]:
    """(table, column, value) of every value in the database naming the person, or
    pointing to them (a ``contact_id`` column holding their id)."""
    found = []
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    shown = str(value)
                    points = contact_id is not None and str(column) == "contact_id"
                    points = points and value == contact_id
                    if points or any(needle in shown for needle in NEEDLES):
                        found.append((table.name, str(column), shown))
    return found


def counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {
            model.__tablename__: len(session.scalars(select(model)).all())
            for model in (Signature, PollAnswer, Suppression, Contact)
        }


def test_erased_by_text_leaves_nothing_but_the_suppression(client, db):
    contact_id = seed(client, db)
    assert text(client, WHATSAPP, "BORRAR MIS DATOS") == [
        "Puente Test: No te enviaremos más mensajes. Para borrar también tu nombre, respuestas, "
        "mensajes, reportes, firmas y membresías, responde BORRAR en los próximos 15 minutos. "
        "Solo guardamos una marca cifrada de tu número para no volver a escribirte. "
        "Cualquier otra respuesta conserva tus datos."
    ]
    assert contact_by_phone(db, MX_PHONE).status == "opted_out"  # the request stops everything
    assert text(client, WHATSAPP, "BORRAR") == [
        "Puente Test: Tus datos fueron borrados y no volveremos a escribirte. "
        "Para unirte de nuevo algún día, envía UNIRME."
    ]
    assert leftovers(db, contact_id) == []
    assert stored_files(client) == []  # their report's photo is gone from the store too
    # a signature and a poll answer still count, with nobody behind them
    assert counts(db) == {"signatures": 1, "poll_answers": 1, "suppressions": 1, "contacts": 0}


def test_erased_from_the_dashboard_leaves_nothing_and_is_audited(client, db, sign_in):
    contact_id = seed(client, db)
    admin = sign_in("admin")
    page = admin.get(f"/dashboard/contacts/{contact_id}").get_data(as_text=True)
    assert "Erase this person" in page
    assert MX_PHONE in admin.get("/dashboard/contacts/export").get_data(as_text=True)
    response = admin.post(
        f"/dashboard/contacts/{contact_id}/erase",
        data={"csrf_token": admin.csrf_token, "reason": "asked by phone", "confirm": "yes"},
    )
    assert response.status_code == 302
    assert leftovers(db, contact_id) == []
    assert counts(db)["suppressions"] == 1
    with db.session() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "contact.erase")
        ).one()
        assert (entry.user_email, entry.details, entry.target) == (
            "admin@puente.example.org", {"reason": "asked by phone"}, None,
        )  # fmt: skip
    assert admin.get(f"/dashboard/contacts/{contact_id}").status_code == 404
    audit_page = admin.get("/dashboard/audit/?action=contact.erase").get_data(as_text=True)
    assert "contact.erase" in audit_page and "reason=asked by phone" in audit_page
    exports = [
        admin.get("/dashboard/contacts/export").get_data(as_text=True),
        admin.get("/dashboard/petitions/asilo/signatures.csv?phones=1").get_data(as_text=True),
    ]
    assert "22000" not in exports[1] and exports[1].count("\n") == 2  # header, nobody's row
    assert [e for e in exports if any(needle in e for needle in NEEDLES)] == []


def test_the_dashboard_erases_only_with_a_reason_and_the_confirmation(client, db, sign_in):
    contact_id = seed(client, db)
    admin = sign_in("admin")
    for form in ({"reason": "", "confirm": "yes"}, {"reason": "asked", "confirm": ""}):
        response = admin.post(
            f"/dashboard/contacts/{contact_id}/erase", data={"csrf_token": admin.csrf_token, **form}
        )
        assert response.status_code == 302
        assert contact_by_phone(db, MX_PHONE) is not None


@pytest.mark.parametrize("role", ["organizer", "viewer"])
def test_only_admins_may_erase(client, db, sign_in, role):
    contact_id = seed(client, db)
    user = sign_in(role)
    page = user.get(f"/dashboard/contacts/{contact_id}").get_data(as_text=True)
    assert "Erase this person" not in page
    response = user.post(
        f"/dashboard/contacts/{contact_id}/erase",
        data={"csrf_token": user.csrf_token, "reason": "because", "confirm": "yes"},
    )
    assert response.status_code == 403
    assert contact_by_phone(db, MX_PHONE) is not None


@pytest.mark.parametrize(
    ("request_text", "confirm"),
    [
        ("BORRAR MIS DATOS", "BORRAR"),
        ("DELETE MY DATA", "DELETE"),
        ("delete my information", "delete"),
    ],
)
def test_an_unknown_number_gets_the_same_answers_and_nothing_is_stored(
    client, db, request_text, confirm
):
    unknown = "+12135550171"
    known = "+12135550172"
    text(client, known, "JOIN")
    known_replies = [text(client, known, request_text), text(client, known, confirm)]
    assert contact_by_phone(db, known) is None  # erased
    before = counts(db), len(leftovers(db))
    with db.session() as session:
        messages_before = len(session.scalars(select(Message)).all())
    assert [text(client, unknown, request_text), text(client, unknown, confirm)] == known_replies
    with db.session() as session:
        assert len(session.scalars(select(Message)).all()) == messages_before
    assert (counts(db), len(leftovers(db))) == before
    assert contact_by_phone(db, unknown) is None


def test_any_other_reply_cancels_and_borrar_alone_erases_nothing(client, db):
    text(client, MX_PHONE, "UNIRME")
    assert text(client, MX_PHONE, "BORRAR") != []  # no request before: an answer to the flow
    assert contact_by_phone(db, MX_PHONE) is not None
    text(client, MX_PHONE, "BORRAR MIS DATOS")
    text(client, MX_PHONE, "no, espera")
    assert text(client, MX_PHONE, "BORRAR") == []  # opted out by the request, nothing erased
    assert contact_by_phone(db, MX_PHONE) is not None


def test_the_confirmation_comes_within_the_time_limit(app, db):
    from bot.inbound import Inbound, receive

    asked = dt.datetime(2026, 6, 3, 18, 0, tzinfo=dt.UTC)

    def say(body: str, sid: str, at: dt.datetime) -> None:
        receive(db, Inbound(sid=sid, sender=MX_PHONE, recipient="+12135550100", body=body),
                app.config, at)  # fmt: skip

    say("hola", "SMa1", asked)
    say("BORRAR MIS DATOS", "SMa2", asked)
    say("BORRAR", "SMa3", asked + dt.timedelta(minutes=16))
    assert contact_by_phone(db, MX_PHONE) is not None
    say("BORRAR MIS DATOS", "SMa4", asked + dt.timedelta(minutes=20))
    say("BORRAR", "SMa5", asked + dt.timedelta(minutes=34))
    assert contact_by_phone(db, MX_PHONE) is None


def test_a_retried_confirmation_gets_the_same_answer(client, db):
    from tests.twilio_requests import inbound_params, post_signed, reply_bodies

    text(client, MX_PHONE, "UNIRME")
    text(client, MX_PHONE, "BORRAR MIS DATOS")
    params = inbound_params(MX_PHONE, "BORRAR")
    first = reply_bodies(post_signed(client, "/twilio/messages", params).data)
    again = reply_bodies(post_signed(client, "/twilio/messages", params).data)
    assert first == again and len(first) == 1
    assert contact_by_phone(db, MX_PHONE) is None


def test_an_erased_number_is_never_texted_until_they_join_again(app, client, db):
    text(client, MX_PHONE, "UNIRME")
    text(client, MX_PHONE, NAME)
    text(client, MX_PHONE, "BORRAR MIS DATOS")
    text(client, MX_PHONE, "BORRAR")
    assert text(client, MX_PHONE, "hola") == []  # a new contact, opted out: nothing at all
    again = contact_by_phone(db, MX_PHONE)
    assert again is not None and again.status == "opted_out" and again.fields == {}
    sent = send_to_contact(db, sender_from_config(app.config), again.id, "sms", "Marcha hoy")
    assert sent.status == "blocked"
    assert text(client, MX_PHONE, "UNIRME") != []  # their own new opt-in
    joined = contact_by_phone(db, MX_PHONE)
    assert joined.status == "active" and joined.opted_in_at is not None and joined.fields == {}
    with db.session() as session:
        kinds = session.scalars(
            select(ConsentEvent.kind).where(ConsentEvent.contact_id == joined.id)
        ).all()
    assert kinds == ["opt_in"]  # a fresh consent log


def test_an_import_refuses_an_erased_number_and_keeps_the_good_rows(client, db, sign_in):
    text(client, MX_PHONE, "UNIRME")
    text(client, MX_PHONE, "BORRAR MIS DATOS")
    text(client, MX_PHONE, "BORRAR")
    organizer = sign_in("organizer")
    csv = (
        "phone,channel,language,tags,consent_source,consent_date\n"
        "+52 55 1234 5678,sms,es,,sign-up sheet,2026-05-01\n"
        "+1 213 555 0161,sms,es,,sign-up sheet,2026-05-01\n"
    )
    page = organizer.post(
        "/dashboard/contacts/import",
        data={"csrf_token": organizer.csrf_token, "region": "US",
              "file": (io.BytesIO(csv.encode()), "contacts.csv")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)  # fmt: skip
    assert 'data-count="created">1<' in page
    assert "this number may not be added to any list" in page
    assert contact_by_phone(db, MX_PHONE) is None
    assert contact_by_phone(db, "+12135550161") is not None


def test_a_partner_list_refuses_an_erased_number_too(app, client, db):
    text(client, MX_PHONE, "UNIRME")
    text(client, MX_PHONE, "BORRAR MIS DATOS")
    text(client, MX_PHONE, "BORRAR")
    create_partner(db, "frontera", "FRONTERA", "BORDER")
    csv = (
        "phone,channel,language,tags,consent_source,consent_date\n"
        "+525512345678,sms,es,,sign-up sheet,2026-05-01\n"
        "+12135550162,sms,en,,sign-up sheet,2026-05-01\n"
    )
    with app.app_context():
        result = app.test_cli_runner().invoke(
            args=["contacts", "import", "-", "--partner", "frontera"], input=csv
        )
    assert "line 2: this number may not be added to any list" in result.output
    assert contact_by_phone(db, MX_PHONE) is None
    assert contact_by_phone(db, "+12135550162") is not None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("MIS DATOS", "Puente Test guarda: tu número de teléfono, tu idioma, tu nombre, "
         "tus respuestas (1), etiquetas (1), tu registro de consentimiento. Mensajes: 5. "
         "Miembro de: Puente Test, Frontera. Peticiones firmadas: 0. Reportes enviados: 1. "
         "Para borrarlo todo, responde BORRAR MIS DATOS."),
        ("MY DATA", "Puente Test holds: your phone number, your language, your name, "
         "your answers (1), tags (1), your consent record. Messages: 5. "
         "Member of: Puente Test, Border. Petitions signed: 0. Reports sent: 1. "
         "To erase it all, reply DELETE MY DATA."),
    ],
)  # fmt: skip
def test_my_data_sums_up_what_is_held_in_their_language(client, db, body, expected):
    text(client, MX_PHONE, "UNIRME")
    text(client, MX_PHONE, NAME)
    contact = contact_by_phone(db, MX_PHONE)
    partner = create_partner(db, "frontera", "FRONTERA", "BORDER", name_es="Frontera",
                             name_en="Border")  # fmt: skip
    add_member(db, contact.id, partner)
    create_report(db, contact.id, what="secret details")
    with db.session() as session:
        session.add(ContactTag(contact_id=contact.id, tag="tijuana"))
    assert text(client, MX_PHONE, body) == [expected]
    assert contact_by_phone(db, MX_PHONE).language == "es"  # the language rules unchanged


def test_my_data_from_an_unknown_number_stores_nothing(client, db):
    assert text(client, "+12135550173", "MY DATA") == ["Puente Test holds no data for this number."]
    assert contact_by_phone(db, "+12135550173") is None


def test_a_number_in_the_reason_is_masked_in_the_audit_log(client, db, sign_in):
    contact_id = seed(client, db)
    admin = sign_in("admin")
    admin.post(
        f"/dashboard/contacts/{contact_id}/erase",
        data={
            "csrf_token": admin.csrf_token,
            "reason": f"called from {NATIONAL}",
            "confirm": "yes",
        },
    )
    assert contact_by_phone(db, MX_PHONE) is None
    assert leftovers(db) == []


def test_a_partners_admin_may_not_erase_even_its_own_member(app, client, db):
    from bot.accounts import users
    from bot.partners.organizations import by_slug
    from tests.dashboard_client import csrf_from
    from tests.factories import DASHBOARD_PASSWORD

    contact_id = seed(client, db)  # a member of frontera
    with db.session() as session:
        partner_id = by_slug(session, "frontera").id
        user = users.create_user(session, "admin-of-frontera@puente.example.org", "Admin",
                                 DASHBOARD_PASSWORD, "admin", "en")  # fmt: skip
        users.set_partner_role(user, partner_id, "admin")
        user.role = None
    partner_admin = app.test_client()
    token = csrf_from(partner_admin.get("/dashboard/login").data)
    partner_admin.post("/dashboard/login", data={"email": "admin-of-frontera@puente.example.org",
                       "password": DASHBOARD_PASSWORD, "csrf_token": token})  # fmt: skip
    page = partner_admin.get(f"/dashboard/contacts/{contact_id}")
    assert page.status_code == 200 and "Erase this person" not in page.get_data(as_text=True)
    response = partner_admin.post(
        f"/dashboard/contacts/{contact_id}/erase",
        data={"csrf_token": csrf_from(page.data), "reason": "because", "confirm": "yes"},
    )
    assert response.status_code == 403
    assert contact_by_phone(db, MX_PHONE) is not None


def test_unknown_and_known_answers_match_on_sms_whatever_the_org_name(app, client, db):
    app.config["ORG_NAME"] = "*Puente* _MX_"  # WhatsApp's marks, which SMS replies lose
    text(client, "+12135550172", "JOIN")
    known = [text(client, "+12135550172", "DELETE MY DATA"), text(client, "+12135550172", "DELETE")]
    unknown = [
        text(client, "+12135550171", "DELETE MY DATA"),
        text(client, "+12135550171", "DELETE"),
    ]
    assert known == unknown
    assert known[1] == [
        "Puente MX: Your data has been erased and we will not text you again. "
        "To join again one day, text JOIN."
    ]
