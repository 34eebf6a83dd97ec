"""A broadcast's results: exact figures in the data module, the dashboard page and the CSV.

One scene, at known times around broadcast A (sent at NOW) and a later broadcast B
(NOW + 24 h) to one of A's recipients:

| contact | lang, channel, partner | A's delivery | what they did |
| --- | --- | --- | --- |
| c1 | es, sms, coalition | sent, delivered | replied +1 h; signed +2 h |
| c2 | en, sms, Alfa | sent, delivered | replied at +72 h sharp; STOP +10 h |
| c3 | es, whatsapp, Alfa | sent, undelivered 30007 | replied +72 h 1 min (too late) |
| c4 | en, sms, coalition | failed 21211 | |
| c5 | es, sms, coalition | skipped: opted out | |
| c6 | en, whatsapp, coalition | skipped: WhatsApp window | |
| c7 | es, sms, Alfa | sent, delivered; B at +24 h | wrote before A; STOP +30 h (B's) |
| c8 | es, sms, coalition | sent, no receipt yet | STOP and signed at +73 h (too late) |
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from flask import Flask

from bot.broadcasts import results
from bot.broadcasts.models import Broadcast, Delivery, Event, Rsvp
from bot.contacts.models import ConsentEvent, Contact
from bot.db import Database
from bot.msgs.models import Message
from bot.petitions.models import Petition, Signature
from tests.factories import NOW, create_broadcast, create_contact, create_message, create_partner
from tests.web.test_petitions_pages import sign_in_partner

H = dt.timedelta(hours=1)


def deliver(
    db: Database,
    broadcast_id: int,
    contact_id: int,
    status: str,
    message_status: str | None = None,
    *,
    at: dt.datetime = NOW,
    channel: str = "sms",
    error_code: int | None = None,
) -> None:
    """A delivery in ``status`` and, when ``message_status``, its outbound message at ``at``."""
    with db.session() as session:
        message_id = None
        if message_status is not None:
            message = Message(
                contact_id=contact_id, direction="out", channel=channel, address="x",
                body="…", status=message_status, error_code=error_code,
                sid=f"SM{broadcast_id}x{contact_id}", created_at=at, updated_at=at,
            )  # fmt: skip
            session.add(message)
            session.flush()
            message_id = message.id
        session.add(
            Delivery(
                broadcast_id=broadcast_id, contact_id=contact_id, channel=channel, batch=0,
                status=status, message_id=message_id, error_code=error_code, updated_at=at,
            )
        )  # fmt: skip


def stop(db: Database, contact_id: int, at: dt.datetime) -> None:
    with db.session() as session:
        session.add(
            ConsentEvent(
                contact_id=contact_id, kind="opt_out", channel="sms", words="STOP",
                source="keyword", created_at=at,
            )
        )  # fmt: skip


def contact(db: Database, n: int, language: str, channel: str, partner: int | None) -> int:
    contact_id = create_contact(
        db, f"+121355502{n:02d}", language, (channel,), created_at=NOW - 30 * 24 * H
    )
    if partner is not None:
        with db.session() as session:
            session.get_one(Contact, contact_id).joined_via_id = partner
    return contact_id


def build(db: Database) -> dict[str, Any]:
    alfa = create_partner(db, "alfa", "ALFAES", "ALFAEN")
    with db.session() as session:
        petition = Petition(
            slug="armas", titles={"es": "Alto", "en": "Stop"}, texts={"es": "…", "en": "…"},
            target="SRE", goal=100, created_at=NOW - 48 * H,
        )  # fmt: skip
        session.add(petition)
        session.flush()
        petition_id = petition.id
    a = create_broadcast(db, send=False, petition_id=petition_id, flow_id="petition")
    b = create_broadcast(db, send=False, now=NOW + 24 * H)
    c = {
        1: contact(db, 1, "es", "sms", None),
        2: contact(db, 2, "en", "sms", alfa),
        3: contact(db, 3, "es", "whatsapp", alfa),
        4: contact(db, 4, "en", "sms", None),
        5: contact(db, 5, "es", "sms", None),
        6: contact(db, 6, "en", "whatsapp", None),
        7: contact(db, 7, "es", "sms", alfa),
        8: contact(db, 8, "es", "sms", None),
    }
    with db.session() as session:
        for done in (a, b):
            session.get_one(Broadcast, done).status = "done"
    deliver(db, a, c[1], "sent", "delivered")
    deliver(db, a, c[2], "sent", "delivered")
    deliver(db, a, c[3], "sent", "undelivered", channel="whatsapp", error_code=30007)
    deliver(db, a, c[4], "failed", "failed", error_code=21211)
    deliver(db, a, c[5], "skipped_opted_out")
    deliver(db, a, c[6], "skipped_window", channel="whatsapp")
    deliver(db, a, c[7], "sent", "delivered")
    deliver(db, a, c[8], "sent", "sent")
    deliver(db, b, c[7], "sent", "delivered", at=NOW + 24 * H)

    create_message(db, c[1], "sí", created_at=NOW + H)
    create_message(db, c[2], "ok", created_at=NOW + 72 * H)  # the boundary: inside
    create_message(
        db, c[3], "sí", "in", "whatsapp", created_at=NOW + 72 * H + 60 * dt.timedelta(seconds=1)
    )
    create_message(db, c[7], "hola", created_at=NOW - H)  # before the broadcast
    stop(db, c[2], NOW + 10 * H)
    stop(db, c[7], NOW + 30 * H)  # after B reached them: B's
    stop(db, c[8], NOW + 73 * H)  # too late
    with db.session() as session:
        for n, at in ((1, NOW + 2 * H), (8, NOW + 73 * H)):
            session.add(
                Signature(
                    petition_id=petition_id, contact_id=c[n], language="es", source="test",
                    created_at=at,
                )
            )  # fmt: skip
    return {"a": a, "b": b, "c": c, "alfa": alfa}


def test_results_figures(db: Database) -> None:
    scene = build(db)
    with db.session() as session:
        found = results.results(session, scene["a"])
        later = results.results(session, scene["b"])
    alfa = scene["alfa"]

    assert found.total("sent") == 5
    assert found.by("sent", "language") == {"es": 4, "en": 1}
    assert found.by("sent", "channel") == {"sms": 4, "whatsapp": 1}
    assert found.by("sent", "partner_id") == {None: 2, alfa: 3}
    assert found.total("delivered") == 3
    assert found.by("delivered", "partner_id") == {None: 1, alfa: 2}
    assert found.by("failed", "reason") == {"permanent_failure": 1, "invalid_number": 1}
    assert found.by("failed", "channel") == {"whatsapp": 1, "sms": 1}
    assert found.by("skipped", "reason") == {"opted_out": 1, "whatsapp_window": 1}
    assert found.total("replied") == 2  # c1, and c2 at 72 h sharp; not c3 nor c7
    assert found.by("replied", "language") == {"es": 1, "en": 1}
    assert found.total("opted_out") == 1  # c2: c7's is B's, c8's too late
    assert found.by("opted_out", "partner_id") == {alfa: 1}
    assert found.total("signed") == 1  # c1: c8 signed too late
    assert found.tracked == (
        "sent",
        "delivered",
        "failed",
        "skipped",
        "replied",
        "opted_out",
        "signed",
    )
    assert results.NOT_TRACKED == ()  # clicks: tests/links; poll answers: tests/polls

    assert later.total("sent") == 1
    assert later.total("opted_out") == 1  # c7's STOP is the later broadcast's
    assert later.total("replied") == 0
    assert "signed" not in later.tracked


def test_a_language_without_text_counts_as_the_default(db: Database) -> None:
    only_es = create_broadcast(db, {"es": "Marcha"}, send=False, default_language="es")
    english = contact(db, 1, "en", "sms", None)
    deliver(db, only_es, english, "sent", "delivered")
    with db.session() as session:
        found = results.results(session, only_es)
    assert found.by("sent", "language") == {"es": 1}


def test_rsvps_of_a_reminder_or_an_rsvp_flow(db: Database) -> None:
    rsvp = create_broadcast(db, send=False, flow_id="summit_rsvp")
    yes, no, late = (contact(db, n, "es", "sms", None) for n in (1, 2, 3))
    with db.session() as session:
        event = Event(
            names={"es": "Cumbre", "en": "Summit"}, places={"es": "X", "en": "X"},
            starts_at=NOW + 200 * H, timezone="America/Chicago",
        )  # fmt: skip
        session.add(event)
        session.flush()
        for who, answer, at in ((yes, "yes", NOW + H), (no, "no", NOW + 5 * H),
                                (late, "yes", NOW + 80 * H)):  # fmt: skip
            session.add(Rsvp(event_id=event.id, contact_id=who, answer=answer, updated_at=at))
    for who in (yes, no, late):
        deliver(db, rsvp, who, "sent", "delivered")
    with db.session() as session:
        found = results.results(session, rsvp)
    assert "rsvps" in found.tracked
    assert found.by("rsvps", "reason") == {"yes": 1, "no": 1}


def test_results_page(db: Database, sign_in: Any) -> None:
    scene = build(db)
    client = sign_in("organizer")
    page = client.get(f"/dashboard/broadcasts/{scene['a']}/results")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    cells = dict(re.findall(r'data-cell="([^"]+)"[^>]*>([\d,]+)<', body))
    assert cells["sent|total"] == "5"
    assert cells["sent|language|es"] == "4"
    assert cells["sent|language|en"] == "1"
    assert cells["sent|channel|whatsapp"] == "1"
    assert cells["sent|partner|coalition"] == "2"
    assert cells["sent|partner|alfa"] == "3"
    assert cells["delivered|total"] == "3"
    assert cells["failed.invalid_number|total"] == "1"
    assert cells["failed.permanent_failure|total"] == "1"
    assert cells["skipped.whatsapp_window|total"] == "1"
    assert cells["replied|total"] == "2"
    assert cells["opted_out|total"] == "1"
    assert cells["opted_out|partner|alfa"] == "1"
    assert cells["signed|total"] == "1"
    assert "Not tracked yet" not in body  # every figure is counted now
    assert "<svg" in body
    detail = client.get(f"/dashboard/broadcasts/{scene['a']}").get_data(as_text=True)
    assert f"/dashboard/broadcasts/{scene['a']}/results" in detail


def test_results_page_in_spanish(db: Database, sign_in: Any) -> None:
    scene = build(db)
    body = sign_in("organizer", "es").get(f"/dashboard/broadcasts/{scene['a']}/results")
    text = body.get_data(as_text=True)
    assert body.status_code == 200
    assert "Resultados" in text and "Aún no se miden" not in text  # every figure counts
    assert "Número no válido" in text


def cli(app: Flask, *args: str) -> str:
    with app.app_context():  # as `puente …` runs them (FlaskGroup pushes it)
        result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_results_csv(app: Flask, db: Database) -> None:
    scene = build(db)
    rows = list(csv.reader(io.StringIO(cli(app, "broadcast", "results", str(scene["a"]), "--csv"))))
    assert rows[0] == ["figure", "language", "channel", "partner", "count"]
    data = {tuple(r[:4]): int(r[4]) for r in rows[1:]}
    assert sum(n for (figure, *_), n in data.items() if figure == "sent") == 5
    assert data[("sent", "es", "sms", "coalition")] == 2  # c1, c8
    assert data[("sent", "es", "sms", "alfa")] == 1  # c7
    assert data[("sent", "es", "whatsapp", "alfa")] == 1  # c3
    assert data[("sent", "en", "sms", "alfa")] == 1  # c2
    assert data[("failed.permanent_failure", "es", "whatsapp", "alfa")] == 1
    assert data[("failed.invalid_number", "en", "sms", "coalition")] == 1
    assert data[("skipped.opted_out", "es", "sms", "coalition")] == 1
    assert data[("replied", "es", "sms", "coalition")] == 1
    assert data[("replied", "en", "sms", "alfa")] == 1
    assert data[("opted_out", "en", "sms", "alfa")] == 1
    assert data[("signed", "es", "sms", "coalition")] == 1
    assert len(data) == 15  # sent 4 rows, delivered 3, failed 2, skipped 2, replied 2, 1, 1
    text = cli(app, "broadcast", "results", str(scene["a"]))
    assert "sent: 5" in text and "replied: 2" in text and "not tracked yet" not in text


def test_a_partners_organizer_sees_only_its_own_results(app: Flask, db: Database) -> None:
    scene = build(db)  # A is the coalition's
    beta = create_partner(db, "beta", "BETAES", "BETAEN")
    alfas = create_broadcast(db, send=False, organization_id=scene["alfa"])
    betas = create_broadcast(db, send=False, organization_id=beta)
    client = sign_in_partner(app, db, scene["alfa"])
    assert client.get(f"/dashboard/broadcasts/{alfas}/results").status_code == 200
    assert client.get(f"/dashboard/broadcasts/{betas}/results").status_code == 404
    assert client.get(f"/dashboard/broadcasts/{scene['a']}/results").status_code == 404
    assert client.get(f"/dashboard/broadcasts/{betas}/results.csv").status_code == 404


@pytest.mark.parametrize(
    "code,reason",
    [
        (None, "unknown"),
        (21610, "opted_out"),
        (30007, "permanent_failure"),
        (63016, "outside_whatsapp_window"),
    ],
)
def test_failure_reason(code: int | None, reason: str) -> None:
    assert results.failure_reason(code) == reason


def test_leaving_a_partner_counts_for_that_partners_broadcast_only(db: Database) -> None:
    alfa = create_partner(db, "alfa", "ALFAES", "ALFAEN")
    ours = create_broadcast(db, send=False, organization_id=alfa)
    theirs = create_broadcast(db, send=False, now=NOW + H)  # the coalition's, an hour later
    leaver = contact(db, 1, "es", "sms", alfa)
    deliver(db, ours, leaver, "sent", "delivered")
    with db.session() as session:
        session.add(
            ConsentEvent(
                contact_id=leaver, kind="opt_out", channel="sms", words="SALIR ALFAES",
                source="leave", organization_id=alfa, created_at=NOW + 2 * H,
            )
        )  # fmt: skip
    with db.session() as session:
        assert results.results(session, ours).total("opted_out") == 1
    other = contact(db, 2, "es", "sms", alfa)
    deliver(db, theirs, other, "sent", "delivered", at=NOW + H)
    with db.session() as session:
        session.add(
            ConsentEvent(
                contact_id=other, kind="opt_out", channel="sms", words="SALIR ALFAES",
                source="leave", organization_id=alfa, created_at=NOW + 2 * H,
            )
        )  # fmt: skip
    with db.session() as session:
        assert results.results(session, theirs).total("opted_out") == 0  # not a STOP


def test_a_bounded_number_of_queries(db: Database) -> None:
    from sqlalchemy import event

    scene = build(db)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.session() as session:
            results.results(session, scene["a"])
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 3  # the broadcast, the deliveries, the actions (no RSVP here)


def test_a_reminder_counts_its_events_rsvps_only(db: Database) -> None:
    from bot.broadcasts.models import Reminder

    with db.session() as session:
        events = [
            Event(names={"es": n, "en": n}, places={"es": "X", "en": "X"},
                  starts_at=NOW + 48 * H, timezone="America/Chicago")
            for n in ("Cumbre", "Otra")
        ]  # fmt: skip
        session.add_all(events)
        session.flush()
        reminder = Reminder(kind="event", event_id=events[0].id, offset_s=-86400, texts={})
        session.add(reminder)
        session.flush()
        ids = (events[0].id, events[1].id, reminder.id)
    sent = create_broadcast(db, send=False, reminder_id=ids[2])
    one, two = contact(db, 1, "es", "sms", None), contact(db, 2, "en", "sms", None)
    with db.session() as session:
        session.add(Rsvp(event_id=ids[0], contact_id=one, answer="maybe", updated_at=NOW + H))
        session.add(Rsvp(event_id=ids[1], contact_id=two, answer="yes", updated_at=NOW + H))
    deliver(db, sent, one, "sent", "delivered")
    deliver(db, sent, two, "sent", "delivered")
    with db.session() as session:
        found = results.results(session, sent)
    assert found.by("rsvps", "reason") == {"maybe": 1}
