"""A partner's broadcasts: its members only, from its own sender, with its name (issue 11).

One send job in this process, against the local fake Twilio API, on SQLite and
PostgreSQL with a real Redis.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bot.broadcasts.audiences import Filters
from bot.db import utcnow
from bot.sending import batches
from tests.factories import add_member, create_broadcast, create_contact, create_partner
from tests.settings import SMS_FROM
from tests.workers import in_process, worker_env

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
FRONTERA_NUMBER = "+16195550100"
SIERRA_SERVICE = "MG" + "5" * 32


@pytest.fixture
def env(database_url, redis_url, fake_twilio_server, fake_twilio):
    return worker_env(database_url, redis_url, fake_twilio_server[1], SETTLE_AFTER_S="60")


@pytest.fixture
def people(database):
    """Two partners; contacts 1-2 in Frontera, 3 in both, 4 left Frontera, 5 only coalition."""
    frontera = create_partner(
        database, "frontera", "FRONTERA", "BORDER", "Frontera Unida", "Border United",
        sender=FRONTERA_NUMBER,
    )  # fmt: skip
    sierra = create_partner(
        database, "sierra", "SIERRA", "MOUNTAIN", "Sierra Viva", "Living Sierra",
        messaging_service_sid=SIERRA_SERVICE,
    )  # fmt: skip
    phones = [f"+1213555{n:04d}" for n in range(1, 6)]
    ids = [
        create_contact(database, phone, "es" if n % 2 else "en") for n, phone in enumerate(phones)
    ]
    add_member(database, ids[0], frontera)
    add_member(database, ids[1], frontera)
    add_member(database, ids[2], frontera)
    add_member(database, ids[2], sierra)
    add_member(database, ids[3], frontera, status="left")
    return {"frontera": frontera, "sierra": sierra, "phones": phones}


def send(runtime, database, broadcast_id):
    from bot.broadcasts import fanout

    fanout.fan_out(runtime.db, broadcast_id, utcnow(), 500, lambda _batch: None)
    return batches.send_batch(runtime, broadcast_id, 0)


def test_a_partners_broadcast_reaches_its_members_from_its_number_with_its_name(
    database, env, fake_twilio, people
):
    runtime = in_process(env)
    broadcast_id = create_broadcast(
        database, {"es": "Marcha el sábado", "en": "March on Saturday"},
        filters=Filters(partners=(people["sierra"],)),  # asking for another's members is ignored
        organization_id=people["frontera"],
    )  # fmt: skip
    send(runtime, database, broadcast_id)
    sent = fake_twilio.outbox()
    phones = people["phones"]
    assert Counter(m["to"] for m in sent) == {phones[0]: 1, phones[1]: 1, phones[2]: 1}
    assert {m["from"] for m in sent} == {FRONTERA_NUMBER}
    bodies = {m["to"]: m["body"] for m in sent}
    assert bodies[phones[0]] == "Border United: March on Saturday"  # an English contact
    assert bodies[phones[1]] == "Frontera Unida: Marcha el sábado"


def test_a_partner_with_its_own_messaging_service_sends_through_it(
    database, env, fake_twilio, people
):
    runtime = in_process(env)
    broadcast_id = create_broadcast(database, organization_id=people["sierra"])
    send(runtime, database, broadcast_id)
    sent = fake_twilio.outbox()
    assert [m["to"] for m in sent] == [people["phones"][2]]
    assert sent[0]["messaging_service_sid"] == SIERRA_SERVICE and sent[0]["from"] is None


def test_a_coalition_broadcast_reaches_everyone_once_from_the_coalitions_number(
    database, env, fake_twilio, people
):
    runtime = in_process(env)
    send(runtime, database, create_broadcast(database))
    sent = fake_twilio.outbox()
    assert Counter(m["to"] for m in sent) == dict.fromkeys(people["phones"], 1)
    assert {m["from"] for m in sent} == {SMS_FROM}
    assert all(not m["body"].startswith(("Frontera", "Border")) for m in sent)


def test_the_coalition_can_send_to_chosen_partners(database, env, fake_twilio, people):
    runtime = in_process(env)
    chosen = Filters(partners=(people["frontera"], people["sierra"]))
    send(runtime, database, create_broadcast(database, filters=chosen))
    phones = people["phones"]
    assert Counter(m["to"] for m in fake_twilio.outbox()) == dict.fromkeys(phones[:3], 1)
