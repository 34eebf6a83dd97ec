"""An A/B test through the engine: each contact gets its variant's text in its language,
through the real Twilio client and the local fake Twilio."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.broadcasts import variants
from bot.broadcasts.models import Delivery
from bot.db import utcnow
from bot.sending import batches
from tests.factories import create_broadcast, create_contact
from tests.workers import in_process, worker_env

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)

TEXTS_A = {"es": "Firma hoy: responde SÍ", "en": "Sign today: reply YES"}
TEXTS_B = {"es": "Tu firma cuenta: responde SÍ", "en": "Your name counts: reply YES"}
SEED = 424242


@pytest.fixture
def env(database_url, redis_url, fake_twilio_server, fake_twilio):
    return worker_env(
        database_url, redis_url, fake_twilio_server[1], SMS_RATE_PER_S="40", SETTLE_AFTER_S="60"
    )


def test_each_contact_gets_its_variants_text_in_its_language(database, env, fake_twilio):
    runtime = in_process(env)
    people = {}
    for n in range(1, 21):
        phone = f"+1213555{n:04d}"
        people[phone] = (
            create_contact(database, phone, ("es", "en")[n % 2]),
            ("es", "en")[n % 2],
        )
    broadcast_id = create_broadcast(
        database, TEXTS_A, variant_texts=TEXTS_B, test_share=60, seed=SEED
    )
    from bot.broadcasts import fanout

    fanout.fan_out(runtime.db, broadcast_id, utcnow(), 500, lambda _batch: None)
    batches.send_batch(runtime, broadcast_id, 0)

    sent = {m["to"]: m["body"] for m in fake_twilio.outbox()}
    expected = {}
    for phone, (contact_id, language) in people.items():
        variant = variants.variant_of(SEED, 60, contact_id)
        if variant is not None:
            texts = TEXTS_B if variant == "B" else TEXTS_A
            expected[phone] = texts[language]
    assert sent == expected
    assert set(TEXTS_A.values()) | set(TEXTS_B.values()) == set(sent.values())
    with database.session() as session:
        stored = session.execute(
            select(Delivery.contact_id, Delivery.variant, Delivery.status).where(
                Delivery.broadcast_id == broadcast_id
            )
        ).all()
    assert {status for _c, _v, status in stored} == {"sent"}
    assert {c: v for c, v, _s in stored} == {
        c: variants.variant_of(SEED, 60, c) for c, _lang in people.values()
        if variants.variant_of(SEED, 60, c)
    }  # fmt: skip
