"""An A/B test from the dashboard: compose variant B, preview the split, read the
comparison on the results page, and send the winner to the rest."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.accounts.models import AuditEntry
from bot.broadcasts import fanout
from bot.broadcasts.models import Broadcast, Delivery
from bot.db import utcnow
from tests.broadcasts.test_results import deliver
from tests.factories import NOW, create_contact, create_message
from tests.web.test_dashboard_broadcasts import compose, created_id

VARIANT_B = {
    "variant_b_es": "Tu firma cuenta. Responde SI para firmar.",
    "variant_b_en": "Your name counts. Reply YES to sign.",
}


@pytest.fixture
def audience(db):
    """40 contacts, Spanish and English by turns."""
    return [
        create_contact(db, f"+1213555{n:04d}", ("es", "en")[n % 2], ("sms",)) for n in range(1, 41)
    ]


def audit(db, action: str) -> list[dict]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [dict(e.details) for e in rows]


def test_the_composer_keeps_variant_b_and_the_preview_shows_its_split(sign_in, db, audience):
    client = sign_in("organizer")
    test_id = created_id(compose(client, test_share="20", **VARIANT_B))
    with db.session() as session:
        item = session.get_one(Broadcast, test_id)
        assert item.variant_texts == {
            "es": VARIANT_B["variant_b_es"],
            "en": VARIANT_B["variant_b_en"],
        }
        assert item.test_share == 20 and item.split_seed is not None
        seed = item.split_seed
    page = client.get(f"/dashboard/broadcasts/{test_id}").get_data(as_text=True)
    assert VARIANT_B["variant_b_en"] in page and VARIANT_B["variant_b_es"] in page
    assert 'data-variant-segments="es"' in page and 'data-variant-segments="en"' in page
    assert "About 4 get variant A, 4 get variant B, and 32 wait for the winner." in page
    assert "Send now to 8 contacts" in page
    assert audit(db, "broadcast.create")[-1]["split"] == {"share": 20, "seed": seed}
    copy = client.get(f"/dashboard/broadcasts/new?copy={test_id}").get_data(as_text=True)
    assert (
        VARIANT_B["variant_b_es"] in copy
        and 'name="test_share" min="2" max="100" value="20"' in copy
    )


def test_the_composer_refuses_a_variant_b_without_every_language(sign_in, db, audience):
    client = sign_in("organizer", "es")
    refused = compose(client, variant_b_es="Solo en español")
    assert refused.status_code == 400
    assert "La variante B necesita un texto en cada idioma" in refused.get_data(as_text=True)
    assert "Solo en español" in refused.get_data(as_text=True)  # nothing typed is lost
    with db.session() as session:
        assert session.scalar(select(Broadcast.id)) is None


def sent_test(db, client, audience) -> int:
    """An A/B test on 50%, done: every tested contact sent; 2 of A's and 6 of B's replied.

    The seed is set to a known one (the dashboard draws a new one), so the split is too.
    """
    test_id = created_id(compose(client, test_share="50", **VARIANT_B))
    with db.session() as session:
        item = session.get_one(Broadcast, test_id)
        item.status, item.split_seed = "sending", 7
    fanout.fan_out(db, test_id, utcnow(), 500, lambda _b: None)
    with db.session() as session:
        rows = session.execute(
            select(Delivery.contact_id, Delivery.variant).where(Delivery.broadcast_id == test_id)
        ).all()
        session.execute(Delivery.__table__.delete().where(Delivery.broadcast_id == test_id))
    replies = {"A": 2, "B": 6}
    for contact_id, variant in rows:
        deliver(db, test_id, contact_id, "sent", "delivered")
        with db.session() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.broadcast_id == test_id, Delivery.contact_id == contact_id)
                .values(variant=variant)
            )
        if replies[variant]:
            replies[variant] -= 1
            create_message(db, contact_id, "SI", created_at=NOW + dt.timedelta(hours=1))
    assert replies == {"A": 0, "B": 0}
    with db.session() as session:
        session.get_one(Broadcast, test_id).status = "done"
    return test_id


def test_the_results_compare_the_variants_and_the_winner_goes_to_the_rest(sign_in, db, audience):
    client = sign_in("organizer")
    test_id = sent_test(db, client, audience)
    with db.session() as session:
        tested = dict(
            session.execute(
                select(Delivery.contact_id, Delivery.variant).where(
                    Delivery.broadcast_id == test_id
                )
            ).all()
        )
    a_sent = sum(1 for v in tested.values() if v == "A")
    b_sent = len(tested) - a_sent
    page = client.get(f"/dashboard/broadcasts/{test_id}/results").get_data(as_text=True)
    assert f'data-ab="sent|A">{a_sent}<' in page and f'data-ab="sent|B">{b_sent}<' in page
    assert 'data-ab="replied|A">2 (' in page and 'data-ab="replied|B">6 (' in page
    assert "Not enough data yet to tell whether the difference in replies is chance." in page
    assert f'data-cell="sent|variant|A">{a_sent}<' in page
    languages = {c: ("es", "en")[(n + 1) % 2] for n, c in enumerate(audience)}
    for variant in ("A", "B"):
        for language in ("es", "en"):
            count = sum(1 for c, v in tested.items() if (v, languages[c]) == (variant, language))
            assert count  # each language is split in two
            cell = f'data-cell="sent|variant_language|{variant}-{language}">{count}<'
            assert cell in page

    made = client.post(
        f"/dashboard/broadcasts/{test_id}/send-winner",
        data={"csrf_token": client.csrf_token, "variant": "B"},
    )
    winner_id = created_id(made)
    with db.session() as session:
        winner = session.get_one(Broadcast, winner_id)
        assert winner.status == "draft" and winner.winner_of_id == test_id
        assert winner.texts == {"es": VARIANT_B["variant_b_es"], "en": VARIANT_B["variant_b_en"]}
    detail = client.get(f"/dashboard/broadcasts/{winner_id}").get_data(as_text=True)
    rest = len(audience) - len(tested)
    assert f"Send now to {rest} contacts" in detail and 'id="winner-of"' in detail
    assert audit(db, "broadcast.send_winner") == [{"winner_of": test_id, "variant": "B"}]
    again = client.post(
        f"/dashboard/broadcasts/{test_id}/send-winner",
        data={"csrf_token": client.csrf_token, "variant": "A"},
    )
    assert again.status_code == 302 and "/results" in again.headers["Location"]
    with db.session() as session:
        assert session.scalar(select(Broadcast.id).where(Broadcast.id > winner_id)) is None


def test_the_results_page_of_a_spanish_organizer_says_it_in_spanish(sign_in, db, audience):
    client = sign_in("organizer", "es")
    test_id = sent_test(db, client, audience)
    page = client.get(f"/dashboard/broadcasts/{test_id}/results").get_data(as_text=True)
    assert "Prueba A/B: variante A contra variante B" in page
    assert "Todavía no hay datos suficientes para saber si la diferencia en respuestas" in page
    assert "Enviar la variante B al resto" in page


def test_the_test_send_to_my_phone_has_both_variants(sign_in, db, fake_twilio):
    from tests.factories import create_user

    client = sign_in("organizer")
    create_user(db, "organizer", phone="+12135550100")
    create_contact(db, "+12135550100", "es", opted_in=False)  # they texted the bot once
    broadcast_id = created_id(
        compose(
            client, text_es="Hola", text_en="Hi", variant_b_es="Buenas", variant_b_en="Hello",
            channel_order="sms_only",
        )
    )  # fmt: skip
    client.post(
        f"/dashboard/broadcasts/{broadcast_id}/test", data={"csrf_token": client.csrf_token}
    )
    assert [m["body"] for m in fake_twilio.outbox()] == [
        "[TEST] Hola", "[TEST] Hi", "[TEST B] Buenas", "[TEST B] Hello",
    ]  # fmt: skip
