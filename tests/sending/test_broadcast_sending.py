"""One send job in this process: chunks, the claim's second look at consent, the slice.

The worker-process tests (test_broadcast_workers.py) prove the whole path;
these pin what the chunked engine must keep true inside one job.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from bot.broadcasts.models import Delivery
from bot.contacts import consent
from bot.contacts.models import Contact, FlowSession
from bot.db import utcnow
from bot.msgs.models import Message
from bot.sending import batches, deliveries
from tests.factories import create_broadcast, create_contact
from tests.workers import in_process, worker_env

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture
def env(database_url, redis_url, fake_twilio_server, fake_twilio):
    # 40/s: chunks of ten deliveries, so a batch of 23 takes three claims. A claim
    # may wait up to 30 s to be sent, as in production: these tests count what a
    # batch sends, and a loaded machine must not turn a claim into a drop for
    # reconcile (the drop has its own test, with SETTLE_AFTER_S=2).
    return worker_env(
        database_url, redis_url, fake_twilio_server[1], SMS_RATE_PER_S="40", SETTLE_AFTER_S="60"
    )


def fan_out(runtime, broadcast_id: int) -> None:
    from bot.broadcasts import fanout

    fanout.fan_out(runtime.db, broadcast_id, utcnow(), 500, lambda _batch: None)


@pytest.mark.parametrize("children", [True, False], ids=["child-processes", "threads"])
def test_a_batch_in_many_chunks_sends_each_contact_once_and_links_its_message(
    database, env, fake_twilio, monkeypatch, children
):
    """The database work runs in child processes, or in threads without a Redis server."""
    from bot.sending import bookkeeping

    monkeypatch.setattr(bookkeeping, "use_processes", lambda _runtime: children)
    runtime = in_process(env)
    phones = [f"+1213555{n:04d}" for n in range(1, 24)]
    for phone in phones:
        create_contact(database, phone, "en")
    broadcast_id = create_broadcast(database)
    fan_out(runtime, broadcast_id)

    result = batches.send_batch(runtime, broadcast_id, 0)

    assert result.statuses == {"sent": 23} and result.left == 0
    assert Counter(m["to"] for m in fake_twilio.outbox()) == dict.fromkeys(phones, 1)
    with database.session() as session:
        rows = session.execute(
            select(Delivery.status, Message.sid, Message.status, Message.extra)
            .join(Message, Message.id == Delivery.message_id)
            .where(Delivery.broadcast_id == broadcast_id)
        ).all()
    assert len(rows) == 23
    sids = {m["sid"] for m in fake_twilio.outbox()}
    for status, sid, message_status, extra in rows:
        assert status == "sent" and sid in sids and message_status == "queued"
        assert extra["broadcast_id"] == broadcast_id


def test_a_stop_after_the_batch_was_read_is_respected_at_the_claim(
    database, env, fake_twilio, monkeypatch
):
    """The batch loads its contacts once; a STOP arriving after that must still win."""
    runtime = in_process(env)
    stays = create_contact(database, "+12135550101", "en")
    leaves = create_contact(database, "+12135550102", "en")
    broadcast_id = create_broadcast(database)
    fan_out(runtime, broadcast_id)
    real_triage = deliveries.triage

    def stop_arrives_meanwhile(*args, **kwargs):
        items = real_triage(*args, **kwargs)
        with database.session() as session:
            consent.opt_out(session, session.get_one(Contact, leaves), utcnow(), source="STOP")
        return items

    monkeypatch.setattr(deliveries, "triage", stop_arrives_meanwhile)
    batches.send_batch(runtime, broadcast_id, 0)

    assert [m["to"] for m in fake_twilio.outbox()] == ["+12135550101"]
    with database.session() as session:
        states = dict(
            session.execute(
                select(Delivery.contact_id, Delivery.status).where(
                    Delivery.broadcast_id == broadcast_id
                )
            ).all()
        )
        blocked = session.scalars(select(Message).where(Message.contact_id == leaves)).all()
    assert states == {stays: "sent", leaves: "blocked"}
    assert [m.status for m in blocked] == ["blocked"]  # recorded for organizers, never sent


def test_the_slice_ends_claims_but_everything_claimed_is_sent_and_recorded(
    database, env, fake_twilio
):
    """80 sends at 40/s take two seconds; a 0.3 s slice claims only what it books."""
    runtime = in_process(env)
    for n in range(1, 81):
        create_contact(database, f"+1213556{n:04d}", "en")
    broadcast_id = create_broadcast(database)
    fan_out(runtime, broadcast_id)

    # A loaded machine can spend a whole 0.3 s slice before its first booking:
    # slices that sent nothing must leave everything pending too; try again.
    sent = 0
    for _ in range(50):
        first = batches.send_batch(runtime, broadcast_id, 0, slice_s=0.3)
        sent = first.statuses.get("sent", 0)
        assert sent < 80 and first.left == 80 - sent
        with database.session() as session:
            states = Counter(
                session.scalars(
                    select(Delivery.status).where(Delivery.broadcast_id == broadcast_id)
                ).all()
            )
        assert states == ({"sent": sent, "pending": 80 - sent} if sent else {"pending": 80})
        assert len(fake_twilio.outbox()) == sent  # none left "sending"
        if sent:
            break
    assert sent > 0

    second = batches.send_batch(runtime, broadcast_id, 0)
    assert second.statuses == {"sent": 80 - sent}
    assert len({m["to"] for m in fake_twilio.outbox()}) == len(fake_twilio.outbox()) == 80


def test_a_poll_broadcast_routes_every_recipients_reply_to_its_flow(database, env, fake_twilio):
    runtime = in_process(env)
    ids = [create_contact(database, f"+1213557{n:04d}", "es") for n in range(1, 6)]
    broadcast_id = create_broadcast(
        database,
        {"es": "¿Vienes el sábado? SI o NO", "en": "Coming Saturday? YES or NO"},
        flow_id="summit_rsvp",
    )
    fan_out(runtime, broadcast_id)

    batches.send_batch(runtime, broadcast_id, 0)

    with database.session() as session:
        flows = dict(session.execute(select(FlowSession.contact_id, FlowSession.flow_id)).all())
    assert flows == dict.fromkeys(ids, "summit_rsvp")


CHILDREN_THEN_WAIT = """
import json, sys, time
from bot.sending import bookkeeping, deliveries
from tests.workers import in_process
runtime = in_process(json.loads(sys.argv[1]))
plan = deliveries.Plan(1, {"en": "Hi"}, "en", (), None, {}, None, None)
keeper = bookkeeping.Bookkeeper(runtime, plan)
print(json.dumps(sorted(p.pid for p in keeper.pool._processes.values())), flush=True)
time.sleep(600)
"""


def test_the_bookkeeping_children_exit_when_the_job_is_killed(env):
    """A send job killed with SIGKILL leaves no child process holding database connections."""
    import json
    import signal
    import subprocess
    import sys
    import time

    from tests.paths import ROOT

    job = subprocess.Popen(
        [sys.executable, "-c", CHILDREN_THEN_WAIT, json.dumps(env)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        children = json.loads(job.stdout.readline())
        assert len(children) == 2 and all(_alive(pid) for pid in children)
        job.send_signal(signal.SIGKILL)
        job.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in children)
    finally:
        if job.poll() is None:
            job.kill()
        job.stdout.close()


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_sender_setting_twilio_would_refuse_fails_the_delivery_and_says_why(
    database, database_url, redis_url, fake_twilio_server, fake_twilio
):
    """No SMS number and no Messaging Service: nothing is sent, nothing is retried forever."""
    env = worker_env(database_url, redis_url, fake_twilio_server[1], TWILIO_SMS_FROM="")
    runtime = in_process(env)
    contact = create_contact(database, "+12135550161", "en")
    broadcast_id = create_broadcast(database)
    fan_out(runtime, broadcast_id)

    result = batches.send_batch(runtime, broadcast_id, 0)

    assert result.statuses == {"failed": 1}
    assert fake_twilio.outbox() == []
    with database.session() as session:
        message = session.scalars(select(Message).where(Message.contact_id == contact)).one()
    assert message.status == "failed" and "SMS send needs" in message.error_message


def test_a_stale_read_never_puts_back_a_delivery_another_job_already_sent(
    database, database_url, redis_url, fake_twilio_server, fake_twilio
):
    """Two jobs read the same deliveries (more_due). If one sends a delivery while the
    other still holds its stale read, the other's quiet-hours wait must not re-open it.
    """
    import datetime as dt

    env = worker_env(
        database_url, redis_url, fake_twilio_server[1], QUIET_HOURS_START="8", QUIET_HOURS_END="21"
    )
    runtime = in_process(env)
    contact = create_contact(database, "+12135550171", "en")  # Los Angeles
    broadcast_id = create_broadcast(database)
    fan_out(runtime, broadcast_id)
    with database.session() as session:
        delivery = session.scalars(select(Delivery).where(Delivery.contact_id == contact)).one()
        stale = deliveries.DueDelivery(delivery.id, contact, delivery.channel)
        delivery.status = "sent"  # the other job sent it after this job read it
    night = dt.datetime(2026, 6, 3, 10, 0, tzinfo=dt.UTC)  # 03:00 in Los Angeles
    plan = deliveries.load_plan(runtime, broadcast_id)

    claimed = deliveries.take(runtime, plan, [stale], night, deliveries.BatchResult())

    assert claimed == []
    with database.session() as session:
        assert session.get(Delivery, delivery.id).status == "sent"


def test_a_send_held_up_past_its_claims_time_is_never_sent(
    database, database_url, redis_url, fake_twilio_server, fake_twilio, monkeypatch
):
    """A Redis outage stalls the loop after a claim. Reconcile may have settled the
    claim by the time Redis answers: the job must then drop the send, not make it.
    """
    import time

    from bot.sending import throttle

    env = worker_env(database_url, redis_url, fake_twilio_server[1], SETTLE_AFTER_S="2")
    runtime = in_process(env)
    for n in range(1, 6):
        create_contact(database, f"+1213558{n:04d}", "en")
    broadcast_id = create_broadcast(database)
    fan_out(runtime, broadcast_id)
    real = throttle.Throttle.reserve_many
    stalled = []

    def stall_once(self, limit, weights, bulk=True):
        if not stalled:
            stalled.append(1)
            time.sleep(1.2)  # redis-py retrying a lost connection; a send may wait 1 s
        return real(self, limit, weights, bulk)

    monkeypatch.setattr(throttle.Throttle, "reserve_many", stall_once)
    batches.send_batch(runtime, broadcast_id, 0)

    assert fake_twilio.outbox() == []
    with database.session() as session:
        states = session.scalars(
            select(Delivery.status).where(Delivery.broadcast_id == broadcast_id)
        ).all()
    assert states == ["sending"] * 5  # reconcile settles them: Twilio never got them


def test_settling_a_send_never_takes_another_broadcasts_message_with_the_same_text(
    database, env, fake_twilio
):
    """Two reminders with the same text to one person: when the first one's send was held
    up and never made, Twilio's message for the second is not the first's (CI caught
    reconcile marking it sent with the second's SID)."""
    from bot.broadcasts.models import DELIVERY_QUEUED, DELIVERY_SENDING
    from bot.sending import reconcile

    runtime = in_process(env)
    create_contact(database, "+12135559001", "en")
    first = create_broadcast(database, {"en": "Reminder: march at 10"})
    second = create_broadcast(database, {"en": "Reminder: march at 10"})
    fan_out(runtime, first)
    fan_out(runtime, second)
    claimed_at = utcnow()
    with database.session() as session:
        held_up = session.scalar(select(Delivery).where(Delivery.broadcast_id == first))
        held_up.status, held_up.claimed_at = DELIVERY_SENDING, claimed_at  # never reached Twilio
        held_up_id = held_up.id
    batches.send_batch(runtime, second, 0)
    assert len(fake_twilio.outbox()) == 1  # the second broadcast's, after the first's claim

    with database.session() as session:
        delivery = session.get(Delivery, held_up_id)
        session.expunge(delivery)
    reconcile.settle(runtime, delivery, utcnow())

    with database.session() as session:
        assert session.get(Delivery, held_up_id).status == DELIVERY_QUEUED  # to be sent again
