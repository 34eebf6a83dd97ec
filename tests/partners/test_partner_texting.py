"""People join and leave partners by text, in both languages (issue 11, item 2).

Through the real webhook, with a valid signature, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.contacts.models import ConsentEvent
from bot.partners.models import Membership
from tests.factories import contact_by_phone, create_partner
from tests.twilio_requests import text

ANA = "+12135550123"  # US number, writes English
LUPE = "+525512345678"  # MX number


def partners(db):
    frontera = create_partner(
        db, "frontera", "FRONTERA", "BORDER", "Frontera Unida", "Border United",
        legal_help="Tijuana Legal Aid (example)",
    )  # fmt: skip
    sierra = create_partner(db, "sierra", "SIERRA", "MOUNTAIN", "Sierra Viva", "Living Sierra")
    return frontera, sierra


def memberships(db, phone):
    contact = contact_by_phone(db, phone)
    with db.session() as session:
        rows = session.scalars(select(Membership).where(Membership.contact_id == contact.id))
        return {m.organization_id: m.status for m in rows}


def consent_lines(db, phone):
    contact = contact_by_phone(db, phone)
    with db.session() as session:
        rows = session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.contact_id == contact.id)
            .order_by(ConsentEvent.id)
        )
        return [(e.kind, e.organization_id, e.message_sid is not None) for e in rows]


def test_a_partners_keyword_joins_the_coalition_and_the_partner_naming_both(client, db):
    frontera, _ = partners(db)
    replies = text(client, LUPE, "frontera")
    assert "Frontera Unida y Puente Test" in replies[0]  # Spanish, from the keyword
    assert "BAJA" in replies[0] or "STOP" in replies[0]
    contact = contact_by_phone(db, LUPE)
    assert contact.language == "es" and contact.opted_in_at is not None
    assert contact.joined_via_id == frontera
    assert memberships(db, LUPE) == {frontera: "member"}
    # One consent line per organization, each with the message's SID.
    assert sorted(consent_lines(db, LUPE), key=str) == sorted(
        [("opt_in", frontera, True), ("opt_in", None, True)], key=str
    )


def test_an_english_keyword_starts_in_english_and_the_flow_goes_on(client, db):
    frontera, _ = partners(db)
    replies = text(client, ANA, "Border")
    assert "Border United and Puente Test" in replies[0]
    assert contact_by_phone(db, ANA).language == "en"
    assert any("first name" in r for r in replies)  # the join flow asks its questions
    text(client, ANA, "Ana")
    assert contact_by_phone(db, ANA).fields.get("name") == "Ana"


def test_who_brought_them_never_changes(client, db):
    frontera, sierra = partners(db)
    text(client, LUPE, "FRONTERA")
    text(client, LUPE, "SIERRA")
    contact = contact_by_phone(db, LUPE)
    assert contact.joined_via_id == frontera
    assert memberships(db, LUPE) == {frontera: "member", sierra: "member"}


def test_a_coalition_member_who_joins_a_partner_keeps_the_coalition_as_origin(client, db):
    frontera, _ = partners(db)
    text(client, ANA, "JOIN")
    text(client, ANA, "BORDER")
    assert contact_by_phone(db, ANA).joined_via_id is None
    assert memberships(db, ANA) == {frontera: "member"}


def test_leaving_one_partner_keeps_the_other_and_the_coalition(client, db):
    frontera, sierra = partners(db)
    text(client, LUPE, "FRONTERA")
    text(client, LUPE, "SIERRA")
    replies = text(client, LUPE, "SALIR FRONTERA")
    assert "Saliste de Frontera Unida" in replies[0]
    assert memberships(db, LUPE) == {frontera: "left", sierra: "member"}
    assert contact_by_phone(db, LUPE).status == "active"
    assert ("opt_out", frontera, True) in consent_lines(db, LUPE)
    assert ("opt_out", None, True) not in consent_lines(db, LUPE)


LEAVE_SENTENCES = [
    ("LEAVE BORDER", "You left Border United"),
    ("leave border please", "You left Border United"),
    ("quiero salir de frontera", "Saliste de Frontera Unida"),
    ("Sácame de FRONTERA por favor", "Saliste de Frontera Unida"),
    ("stop border", "You left Border United"),
    ("dejar FRONTERA", "Saliste de Frontera Unida"),
]


def test_sentences_that_mean_leave_leave_that_partner_only(client, db):
    frontera, _ = partners(db)
    for n, (sentence, expected) in enumerate(LEAVE_SENTENCES):
        phone = f"+1213555{n:04d}"
        text(client, phone, "BORDER")
        replies = text(client, phone, sentence)
        assert expected in replies[0], sentence
        assert memberships(db, phone) == {frontera: "left"}, sentence
        assert contact_by_phone(db, phone).status == "active", sentence


def test_a_sentence_the_compliance_rules_read_as_stop_stops_everything(client, db):
    """When in doubt, the safer reading wins: "unsubscribe me from border" is a STOP."""
    partners(db)
    text(client, ANA, "BORDER")
    replies = text(client, ANA, "unsubscribe me from border")
    assert "You are unsubscribed" in replies[0]
    assert contact_by_phone(db, ANA).status == "opted_out"


def test_leaving_a_partner_one_is_not_in_changes_nothing(client, db):
    partners(db)
    text(client, ANA, "JOIN")
    replies = text(client, ANA, "LEAVE MOUNTAIN")
    assert "You are not a member of Living Sierra" in replies[0]
    assert memberships(db, ANA) == {}


def test_a_message_about_stopping_something_else_is_not_a_leave(client, db):
    partners(db)
    text(client, ANA, "BORDER")
    text(client, ANA, "SKIP")
    text(client, ANA, "stop gun trafficking")
    assert set(memberships(db, ANA).values()) == {"member"}


def test_stop_ends_everything_and_a_partner_keyword_joins_again(client, db):
    frontera, sierra = partners(db)
    text(client, LUPE, "FRONTERA")
    text(client, LUPE, "SIERRA")
    text(client, LUPE, "STOP")
    assert contact_by_phone(db, LUPE).status == "opted_out"
    assert text(client, LUPE, "hola") == []
    replies = text(client, LUPE, "SIERRA")
    assert "Sierra Viva y Puente Test" in replies[0]
    assert contact_by_phone(db, LUPE).status == "active"


def test_the_rights_flow_gives_the_partners_own_legal_help(client, db):
    partners(db)
    text(client, LUPE, "FRONTERA")
    text(client, LUPE, "SALTAR")
    replies = text(client, LUPE, "DERECHOS")
    assert any("Tijuana Legal Aid (example)" in r for r in replies)
    other = "+525587654321"
    text(client, other, "UNIRME")
    replies = text(client, other, "DERECHOS")
    assert not any("Tijuana Legal Aid" in r for r in replies)


def test_an_archived_partners_keyword_no_longer_joins(client, db):
    from bot.db import utcnow
    from bot.partners import organizations

    frontera, _ = partners(db)
    with db.session() as session:
        organizations.archive(organizations.by_slug(session, "frontera"), utcnow())
    text(client, LUPE, "FRONTERA")
    assert memberships(db, LUPE) == {}


def test_a_report_reaches_the_desk_of_the_partner_who_brought_them_while_a_member(client, db):
    from bot.reports.models import Report

    frontera, _ = partners(db)

    def file_report(phone):
        text(client, phone, "REPORTAR")
        for answer in ("NO", "NO", "1", "Garita de Otay", "ayer", "Un agente", "NO", "NO", "NO"):
            text(client, phone, answer)

    text(client, LUPE, "FRONTERA")
    text(client, LUPE, "SALTAR")
    file_report(LUPE)
    text(client, LUPE, "SALIR FRONTERA")
    file_report(LUPE)
    with db.session() as session:
        desks = session.scalars(select(Report.organization_id).order_by(Report.id)).all()
    assert desks == [frontera, None]
