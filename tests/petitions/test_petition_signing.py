"""Petitions signed by text (issue 12, item 1): once per person, with the number.

Through the real webhook with a valid signature, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from bot.broadcasts import fanout
from bot.db import utcnow
from bot.petitions import petitions
from bot.petitions.models import Signature
from bot.sending import batches
from tests.factories import contact_by_phone, create_broadcast, create_contact, create_partner
from tests.twilio_requests import inbound_params, post_signed, reply_bodies, text
from tests.workers import in_process, worker_env

LUPE = "+525512345678"
ANA = "+12135550123"


def make_petition(db, **kw):
    with db.session() as session:
        petition = petitions.create(
            session,
            kw.pop("slug", "armas"),
            titles={"es": "Alto al tráfico de armas", "en": "Stop gun trafficking"},
            texts={"es": "Pedimos…", "en": "We ask…"},
            target="Secretaría de Relaciones Exteriores",
            target_country="MX",
            goal=10_000,
            keywords=kw.pop("keywords", {"es": ["FIRMO"], "en": ["SIGN"]}),
            flows=None,
            now=utcnow(),
            **kw,
        )
        return petition.id


def signatures(db):
    with db.session() as session:
        rows = session.execute(
            select(Signature.contact_id, Signature.name, Signature.postal_code).order_by(
                Signature.id
            )
        )
        return [tuple(r) for r in rows]


def test_a_new_person_signs_by_keyword_answering_only_what_is_missing(client, db):
    make_petition(db)
    assert "nombre completo" in text(client, LUPE, "firmo")[0]
    assert "código postal" in text(client, LUPE, "Guadalupe Reyes")[0]
    replies = text(client, LUPE, "22000")
    assert replies == ["¡Gracias por firmar «Alto al tráfico de armas»! Eres la firma número 1."]
    lupe = contact_by_phone(db, LUPE)
    assert signatures(db) == [(lupe.id, "Guadalupe Reyes", "22000")]
    assert lupe.language == "es" and lupe.opted_in_at is None  # signing is no opt-in


def test_signing_again_changes_nothing_and_gives_the_same_number(client, db):
    make_petition(db)
    text(client, ANA, "SIGN")
    text(client, ANA, "Ana Flores")
    assert text(client, ANA, "78701") == [
        "Thank you for signing “Stop gun trafficking”! You are signature number 1."
    ]
    assert text(client, ANA, "sign") == [
        "You already signed “Stop gun trafficking”: you are signature number 1. Thank you!"
    ]
    assert len(signatures(db)) == 1


def test_a_retried_message_signs_once(client, db):
    make_petition(db)
    text(client, ANA, "SIGN")
    text(client, ANA, "Ana Flores")
    params = inbound_params(ANA, "78701")
    first = reply_bodies(post_signed(client, "/twilio/messages", params).data)
    again = reply_bodies(post_signed(client, "/twilio/messages", params).data)
    assert first == again and "number 1" in first[0]
    assert len(signatures(db)) == 1


def test_a_known_contact_signs_at_once_and_the_number_uses_babels_format(client, db):
    petition_id = make_petition(db)
    with db.session() as session:  # 1,233 earlier signatures (of contacts since erased)
        session.execute(
            insert(Signature),
            [
                {"petition_id": petition_id, "language": "es", "source": "test", "extra": {},
                 "created_at": utcnow()}
                for _ in range(1233)
            ],
        )  # fmt: skip
    text(client, LUPE, "UNIRME")
    text(client, LUPE, "Guadalupe")
    text(client, LUPE, "22000")
    assert text(client, LUPE, "FIRMO") == [
        "¡Gracias por firmar «Alto al tráfico de armas»! Eres la firma número 1.234."
    ]
    text(client, ANA, "JOIN")
    text(client, ANA, "Ana")
    text(client, ANA, "78701")
    assert "signature number 1,235." in text(client, ANA, "SIGN")[0]


def test_a_signature_records_the_partner_who_brought_the_signer(client, db):
    frontera = create_partner(db, "frontera", "FRONTERA", "BORDER")
    make_petition(db)
    text(client, LUPE, "FRONTERA")
    text(client, LUPE, "Guadalupe")
    text(client, LUPE, "22000")
    text(client, LUPE, "FIRMO")
    with db.session() as session:
        assert session.scalars(select(Signature.organization_id)).all() == [frontera]


def test_a_closed_petition_says_so_and_takes_no_signature(client, db):
    make_petition(db)
    with db.session() as session:
        petitions.close(petitions.by_slug(session, "armas"), utcnow())
    text(client, ANA, "JOIN")
    text(client, ANA, "Ana")
    text(client, ANA, "78701")
    assert text(client, ANA, "SIGN") == [
        "“Stop gun trafficking” is closed and takes no more signatures. Thank you for caring!"
    ]
    assert signatures(db) == []


def test_an_opted_out_contact_gets_no_answer_and_signs_nothing(client, db):
    make_petition(db)
    text(client, ANA, "JOIN")
    text(client, ANA, "STOP")
    assert text(client, ANA, "SIGN") == []
    assert signatures(db) == []


def test_keywords_are_one_namespace_with_the_partners(app, db):
    from bot.partners.organizations import PartnerError

    create_partner(db, "frontera", "FRONTERA", "BORDER")
    with pytest.raises(PartnerError, match="FRONTERA is already the keyword of the partner"):
        make_petition(db, keywords={"es": ["Frontera"]})
    make_petition(db)
    with pytest.raises(PartnerError, match="FIRMO is already a petition's keyword"):
        create_partner(db, "otra", "FIRMO", "OTHER")
    with pytest.raises(PartnerError, match="SIGN is already a petition's keyword"):
        make_petition(db, slug="otra", keywords={"en": ["sign"]})
    with pytest.raises(PartnerError, match="STOP is a compliance word"):
        make_petition(db, slug="otra2", keywords={"en": ["STOP"]})


# --- a broadcast that carries the petition: replying YES signs ---------------------


@pytest.fixture
def env(database_url, redis_url, fake_twilio_server, fake_twilio):
    return worker_env(database_url, redis_url, fake_twilio_server[1], SETTLE_AFTER_S="60")


@pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
def test_replying_to_a_broadcast_that_carries_the_petition(client, db, env, fake_twilio):
    runtime = in_process(env)
    petition_id = make_petition(db)
    phones = [f"+1213555000{n}" for n in (1, 2, 3)]
    for phone in phones:
        create_contact(db, phone, "es")
    broadcast_id = create_broadcast(
        db, {"es": "¿Firmas contra el tráfico de armas? Responde SÍ", "en": "Sign? Reply YES"},
        petition_id=petition_id,
    )  # fmt: skip
    fanout.fan_out(runtime.db, broadcast_id, utcnow(), 500, lambda _batch: None)
    batches.send_batch(runtime, broadcast_id, 0)
    assert sorted(m["to"] for m in fake_twilio.outbox()) == phones

    assert "nombre completo" in text(client, phones[0], "sí")[0]
    text(client, phones[0], "Rosa Díaz")
    assert text(client, phones[0], "22000") == [
        "¡Gracias por firmar «Alto al tráfico de armas»! Eres la firma número 1."
    ]
    assert text(client, phones[1], "no") == [
        "Está bien, no agregaremos tu firma. ¡Gracias por leer!"
    ]
    assert text(client, phones[2], "¿de qué se trata?") == [
        "Responde SÍ para firmar la petición, o NO."
    ]
    with db.session() as session:
        assert petitions.count(session, petition_id) == 1
