"""A/B variants: the split from (seed, contact), the fan-out that keeps it, the z-test,
the results side by side, and the winner sent to the rest of the audience only."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import pytest
from sqlalchemy import delete, select

from bot.broadcasts import broadcast, comparison, fanout, results, variants
from bot.broadcasts.broadcast import BroadcastError
from bot.broadcasts.models import Broadcast, Delivery
from bot.db import Database
from bot.petitions.models import Petition, Signature
from tests.broadcasts.test_results import deliver
from tests.factories import (
    NOW,
    create_broadcast,
    create_contact,
    create_message,
    create_partner,
)

TEXTS_A = {"es": "Firma la petición: responde SÍ", "en": "Sign the petition: reply YES"}
TEXTS_B = {"es": "¿Nos ayudas? Responde SÍ para firmar", "en": "Will you help? Reply YES to sign"}


# --- the split -----------------------------------------------------------------------


def test_the_same_seed_gives_the_same_variants_and_another_seed_another_split():
    first = [variants.variant_of(1234, 20, c) for c in range(1, 2001)]
    again = [variants.variant_of(1234, 20, c) for c in range(1, 2001)]
    other = [variants.variant_of(1235, 20, c) for c in range(1, 2001)]
    assert first == again
    assert first != other


@pytest.mark.parametrize(("share", "a", "b"), [(20, 1000, 1000), (100, 5000, 5000), (7, 350, 350)])
def test_the_split_is_near_the_asked_shares_on_ten_thousand_contacts(share, a, b):
    """A fixed seed: the counts are always these, so a loose bound cannot flake."""
    counts = Counter(variants.variant_of(20261202, share, c) for c in range(1, 10_001))
    assert abs(counts["A"] - a) < 0.1 * a + 50
    assert abs(counts["B"] - b) < 0.1 * b + 50
    assert counts[None] == 10_000 - counts["A"] - counts["B"]
    if share == 100:
        assert counts[None] == 0


def test_variant_b_must_have_the_languages_of_a_and_a_sane_share(database: Database):
    with database.session() as session:
        with pytest.raises(BroadcastError, match="each language"):
            broadcast.create(
                session, "x", TEXTS_A, broadcast.Filters(), variant_texts={"es": "b"}, now=NOW
            )
        with pytest.raises(BroadcastError, match="share"):
            broadcast.create(
                session, "x", TEXTS_A, broadcast.Filters(), variant_texts=TEXTS_B,
                test_share=101, now=NOW,
            )  # fmt: skip


def test_a_partners_test_signs_both_variants_with_its_name(database: Database):
    partner = create_partner(database, "frontera", "FRONTERA", "BORDER", "Frontera", "Border")
    test = create_broadcast(
        database, TEXTS_A, send=False, variant_texts=TEXTS_B, organization_id=partner
    )
    with database.session() as session:
        item = session.get_one(Broadcast, test)
        assert item.texts["es"] == "Frontera: " + TEXTS_A["es"]
        assert item.variant_texts == {
            "es": "Frontera: " + TEXTS_B["es"], "en": "Border: " + TEXTS_B["en"]
        }  # fmt: skip


# --- fan-out -----------------------------------------------------------------------


def contacts(db: Database, count: int) -> list[int]:
    """``count`` contacts, Spanish and English by turns."""
    return [
        create_contact(db, f"+1213555{n:04d}", ("es", "en")[n % 2], created_at=NOW)
        for n in range(1, count + 1)
    ]


def fan_out(db: Database, broadcast_id: int) -> None:
    fanout.fan_out(db, broadcast_id, NOW, 7, lambda _batch: None)


def variants_of(db: Database, broadcast_id: int) -> dict[int, str | None]:
    with db.session() as session:
        rows = session.execute(
            select(Delivery.contact_id, Delivery.variant).where(
                Delivery.broadcast_id == broadcast_id
            )
        ).all()
    return dict(rows)


def test_fan_out_stores_each_contacts_variant_and_a_rerun_keeps_it(database: Database):
    ids = contacts(database, 60)
    test = create_broadcast(database, TEXTS_A, variant_texts=TEXTS_B, test_share=50, seed=99)
    fan_out(database, test)
    first = variants_of(database, test)
    expected = {c: variants.variant_of(99, 50, c) for c in ids}
    assert first == {c: v for c, v in expected.items() if v is not None}
    assert set(first.values()) == {"A", "B"}
    assert len(first) < len(ids)  # the rest waits for the winner: no delivery
    with database.session() as session:  # a crash lost half of the rows
        session.execute(delete(Delivery).where(Delivery.contact_id.in_(ids[:30])))
    fan_out(database, test)
    assert variants_of(database, test) == first


def test_a_plain_broadcast_has_no_variant_and_reaches_everyone(database: Database):
    ids = contacts(database, 5)
    plain = create_broadcast(database, TEXTS_A)
    fan_out(database, plain)
    assert variants_of(database, plain) == dict.fromkeys(ids)


# --- the z-test ----------------------------------------------------------------------


def test_the_pooled_z_test_against_a_hand_computed_case():
    """A: 120 of 1,000 replied, B: 150 of 1,000.

    pooled p = 270 / 2000 = 0.135; SE = sqrt(0.135 * 0.865 * (1/1000 + 1/1000))
    = sqrt(0.00023355) = 0.0152824; z = 0.03 / 0.0152824 = 1.96305;
    p = erfc(1.96305 / sqrt 2) = 0.04964.
    """
    test = comparison.two_proportion_test(120, 1000, 150, 1000)
    assert test.difference == pytest.approx(0.03)
    assert test.z == pytest.approx(1.96305, abs=1e-4)
    assert test.p_value == pytest.approx(0.04964, abs=1e-4)
    assert test.enough and test.significant


def test_the_p_value_at_the_textbook_z_values():
    """z = 1.96 is p = 0.05; equal rates are z = 0, p = 1; a worse B has a negative z."""
    assert math.erfc(1.959964 / math.sqrt(2)) == pytest.approx(0.05, abs=1e-6)
    test = comparison.two_proportion_test(50, 500, 50, 500)
    assert test.z == 0 and test.p_value == 1.0 and not test.significant
    far = comparison.two_proportion_test(100, 1000, 60, 1000)
    assert far.z < 0 and far.p_value < 0.01  # B does worse: the sign says so


def test_too_few_contacts_is_not_enough_data_and_says_so():
    few = comparison.two_proportion_test(3, 10, 9, 10)
    assert not few.enough and not few.significant
    rare = comparison.two_proportion_test(1, 200, 3, 200)  # 2 expected replies per variant
    assert not rare.enough
    figure = comparison.compare((10, 10), {"replied": (3, 9)}).figures[0]
    assert comparison.verdict(figure) == (comparison.NOT_ENOUGH, {"figure": "replies"})


def test_the_verdict_says_plainly_larger_than_chance_or_could_be_chance():
    compared = comparison.compare(
        (1000, 1000), {"replied": (120, 150), "signed": (100, 104), "clicks": (10, 60)}
    )
    replied, signed, clicks = compared.figures
    assert comparison.verdict(replied) == (
        comparison.LARGER_THAN_CHANCE, {"figure": "replies", "p": "p = 0.05"}
    )  # fmt: skip
    assert comparison.verdict(signed)[0] == comparison.COULD_BE_CHANCE
    assert comparison.verdict(signed)[1]["p"] == "p = 0.77"
    assert comparison.verdict(clicks)[1] == {"figure": "clicks", "p": "p < 0.001"}
    assert (clicks.a_rate, clicks.b_rate) == (0.01, 0.06)


# --- results per variant ---------------------------------------------------------------


def test_results_count_each_figure_by_variant_and_language(database: Database):
    """A petition call, two contacts per variant and language; replies: A es 1, B es 2,
    B en 1; signatures: B es 1, B en 1."""
    with database.session() as session:
        petition = Petition(
            slug="armas", titles={"es": "Alto", "en": "Stop"}, texts={"es": "…", "en": "…"},
            target="SRE", goal=100, created_at=NOW,
        )  # fmt: skip
        session.add(petition)
        session.flush()
        petition_id = petition.id
    test = create_broadcast(
        database, TEXTS_A, send=False, variant_texts=TEXTS_B, test_share=40, seed=5,
        petition_id=petition_id,
    )  # fmt: skip
    with database.session() as session:
        session.get_one(Broadcast, test).status = "done"
    people = {}
    n = 0
    for variant in ("A", "B"):
        for language in ("es", "en"):
            for k in range(2):
                n += 1
                people[(variant, language, k)] = create_contact(
                    database, f"+12135557{n:03d}", language, created_at=NOW
                )
    for (variant, _language, _k), contact_id in people.items():
        deliver(database, test, contact_id, "sent", "delivered")
        with database.session() as session:
            session.execute(
                Delivery.__table__.update()
                .where(Delivery.contact_id == contact_id)
                .values(variant=variant)
            )
    for key in (("A", "es", 0), ("B", "es", 0), ("B", "es", 1), ("B", "en", 1)):
        create_message(database, people[key], "SÍ", created_at=NOW + dt.timedelta(hours=1))
    with database.session() as session:
        for key in (("B", "es", 1), ("B", "en", 1)):
            session.add(
                Signature(
                    petition_id=petition_id, contact_id=people[key], language=key[1],
                    source="test", created_at=NOW + dt.timedelta(hours=2),
                )
            )  # fmt: skip
    with database.session() as session:
        found = results.results(session, test)
        assert found.by(results.SENT, "variant") == {"A": 4, "B": 4}
        assert found.by(results.DELIVERED, "variant") == {"A": 4, "B": 4}
        replied = {(r.variant, r.language): r.count for r in found.of(results.REPLIED)}
        assert replied == {("A", "es"): 1, ("B", "es"): 2, ("B", "en"): 1}
        signed = {(r.variant, r.language): r.count for r in found.of(results.SIGNED)}
        assert signed == {("B", "es"): 1, ("B", "en"): 1}
        compared = results.comparison(found)
    assert (compared.a_sent, compared.b_sent) == (4, 4)
    replies, signatures = compared.figures
    assert (replies.name, replies.a_count, replies.b_count) == ("replied", 1, 3)
    assert (signatures.name, signatures.a_count, signatures.b_count) == ("signed", 0, 2)
    assert signatures.b_rate == 0.5 and not replies.test.enough


# --- the winner ----------------------------------------------------------------------


def test_the_winner_goes_to_the_rest_of_the_audience_only(database: Database):
    ids = contacts(database, 40)
    test = create_broadcast(database, TEXTS_A, variant_texts=TEXTS_B, test_share=30, seed=7)
    fan_out(database, test)
    tested = set(variants_of(database, test))
    with database.session() as session:
        with pytest.raises(BroadcastError, match="needs done"):
            broadcast.send_winner(session, test, "B", NOW)
        session.get_one(Broadcast, test).status = "done"
    with database.session() as session:
        winner = broadcast.send_winner(session, test, "B", NOW)
        winner_id = winner.id
        assert winner.texts == TEXTS_B and winner.variant_texts is None
        assert (winner.winner_of_id, winner.winner_variant) == (test, "B")
        assert winner.filters["exclude_broadcasts"] == [test]
        broadcast.send(session, winner_id, NOW)
    fan_out(database, winner_id)
    rest = set(variants_of(database, winner_id))
    assert rest == set(ids) - tested and tested
    assert set(variants_of(database, winner_id).values()) == {None}
    with database.session() as session, pytest.raises(BroadcastError, match="already"):
        broadcast.send_winner(session, test, "A", NOW)


def test_no_winner_for_a_test_of_everyone_nor_for_a_plain_broadcast(database: Database):
    everyone = create_broadcast(database, TEXTS_A, variant_texts=TEXTS_B, test_share=100)
    plain = create_broadcast(database, TEXTS_A)
    with database.session() as session:
        for done in (everyone, plain):
            session.get_one(Broadcast, done).status = "done"
    with database.session() as session:
        with pytest.raises(BroadcastError, match="tested everyone"):
            broadcast.send_winner(session, everyone, "A", NOW)
        with pytest.raises(BroadcastError, match="not an A/B test"):
            broadcast.send_winner(session, plain, "A", NOW)
