"""`puente broadcast create … --variant-b-*`, `results` of an A/B test and `send-winner`."""

from __future__ import annotations

import csv
import io

from flask import Flask
from sqlalchemy import func, select, update

from bot.accounts.models import AuditEntry
from bot.broadcasts import fanout, variants
from bot.broadcasts.models import Broadcast, Delivery
from bot.db import Database, utcnow
from tests.factories import create_contact

CREATE = [
    "broadcast", "create", "Firma", "--text-es", "Firma hoy", "--text-en", "Sign today",
    "--variant-b-es", "Tu firma cuenta", "--variant-b-en", "Your name counts",
]  # fmt: skip


def run(app: Flask, *args: str):
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def test_create_records_variant_b_the_share_and_the_seed_and_previews_the_split(
    app: Flask, db: Database
):
    for n in range(1, 11):
        create_contact(db, f"+1213555{n:04d}", ("es", "en")[n % 2])
    result = run(app, *CREATE, "--test-share", "20", "--seed", "42")
    assert result.exit_code == 0, result.output
    assert "A/B test on 20% of the audience, seed 42" in result.output
    assert "es (B): 1 SMS segment(s)" in result.output
    assert "A/B split (about): A 1, B 1, waiting for the winner 8" in result.output
    with db.session() as session:
        item = session.scalars(select(Broadcast)).one()
        assert item.variant_texts == {"es": "Tu firma cuenta", "en": "Your name counts"}
        assert (item.test_share, item.split_seed) == (20, 42)
        entry = session.scalars(select(AuditEntry)).one()
        assert entry.action == "broadcast.create"
        assert entry.details["split"] == {"share": 20, "seed": 42}


def test_create_refuses_a_variant_b_missing_a_language(app: Flask, db: Database):
    result = run(app, *CREATE[:-2], "--test-share", "20")
    assert result.exit_code != 0
    assert "variant B needs a text in each language of variant A (en, es)" in result.output
    with db.session() as session:
        assert session.scalar(select(Broadcast.id)) is None


def done_test(app: Flask, db: Database, share: int) -> int:
    """An A/B test fanned out and marked done (every delivery sent, Twilio's receipts to come)."""
    for n in range(1, 31):
        create_contact(db, f"+1213555{n:04d}", ("es", "en")[n % 2])
    assert run(app, *CREATE, "--test-share", str(share), "--seed", "3").exit_code == 0
    with db.session() as session:
        test_id = session.scalar(select(Broadcast.id))
        session.get_one(Broadcast, test_id).status = "sending"
    fanout.fan_out(db, test_id, utcnow(), 500, lambda _b: None)
    with db.session() as session:
        session.get_one(Broadcast, test_id).status = "done"
        session.execute(update(Delivery).values(status="sent"))
    return test_id


def test_results_compare_the_variants_in_the_asked_language_and_csv_has_the_variant(
    app: Flask, db: Database
):
    test_id = done_test(app, db, 40)
    with db.session() as session:
        sent = dict(
            session.execute(select(Delivery.variant, func.count()).group_by(Delivery.variant)).all()
        )
    shown = run(app, "broadcast", "results", str(test_id), "--language", "es")
    assert shown.exit_code == 0, shown.output
    assert f"A/B test: sent A {sent['A']}, B {sent['B']}" in shown.output
    assert f"by variant: A={sent['A']}, B={sent['B']}" in shown.output
    assert "replied: A 0 (0.0%), B 0 (0.0%), difference +0.0 points" in shown.output
    assert "Todavía no hay datos suficientes para saber si la diferencia en respuestas" in (
        shown.output
    )
    english = run(app, "broadcast", "results", str(test_id)).output
    assert "Not enough data yet to tell whether the difference in replies is chance." in english
    output = run(app, "broadcast", "results", str(test_id), "--csv").output
    rows = list(csv.reader(io.StringIO(output)))
    assert rows[0] == ["figure", "language", "channel", "partner", "count", "variant"]
    by_variant = {}
    for figure, _lang, _channel, _partner, count, variant in rows[1:]:
        if figure == "sent":
            by_variant[variant] = by_variant.get(variant, 0) + int(count)
    assert by_variant == sent


def test_send_winner_sends_to_the_rest_only_and_refuses_what_it_should(app: Flask, db: Database):
    test_id = done_test(app, db, 40)
    with db.session() as session:
        tested = set(
            session.scalars(select(Delivery.contact_id).where(Delivery.broadcast_id == test_id))
        )
    refused = run(app, "broadcast", "send-winner", str(test_id), "--variant", "C")
    assert refused.exit_code != 0
    result = run(app, "broadcast", "send-winner", str(test_id), "--variant", "A")
    assert result.exit_code == 0, result.output
    with db.session() as session:
        winner = session.scalars(select(Broadcast).where(Broadcast.winner_of_id == test_id)).one()
        assert winner.status == "sending" and winner.texts == {
            "es": "Firma hoy",
            "en": "Sign today",
        }
        winner_id = winner.id
        actions = [
            (e.action, e.details.get("winner_of"))
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert actions[-1] == ("broadcast.send_winner", test_id)
    fanout.fan_out(db, winner_id, utcnow(), 500, lambda _b: None)
    with db.session() as session:
        rest = set(
            session.scalars(select(Delivery.contact_id).where(Delivery.broadcast_id == winner_id))
        )
    assert rest and tested and not rest & tested and len(rest | tested) == 30
    again = run(app, "broadcast", "send-winner", str(test_id), "--variant", "B")
    assert again.exit_code != 0 and "already has its winner" in again.output


def test_send_winner_refuses_a_test_of_everyone(app: Flask, db: Database):
    test_id = done_test(app, db, variants.FULL_SHARE)
    result = run(app, "broadcast", "send-winner", str(test_id), "--variant", "A")
    assert result.exit_code != 0 and "tested everyone" in result.output


def test_a_test_send_can_show_variant_b(app: Flask, db: Database, fake_twilio):
    create_contact(db, "+12135550100", "en")
    assert run(app, *CREATE).exit_code == 0
    result = run(app, "broadcast", "send", "1", "--test", "+12135550100", "--variant", "B")
    assert result.exit_code == 0, result.output
    assert [m["body"] for m in fake_twilio.outbox()] == ["[TEST] Your name counts"]
