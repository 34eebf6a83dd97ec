"""A believable movement for the screenshots: 12 weeks of joins, messages and reports.

Numbers are from ranges no real phone uses (555-01xx in the US).
"""

from __future__ import annotations

import datetime as dt
import random

from bot.broadcasts import events
from bot.broadcasts.models import Rsvp
from bot.contacts.models import ConsentEvent
from bot.db import Database, utcnow
from tests.factories import create_contact, create_message, create_report

NAMES = [
    "María", "José", "Guadalupe", "Juan", "Rosa", "Luis", "Ana", "Carlos", "Elena", "Miguel",
    "Sofía", "Jorge", "Lucía", "Pedro", "Carmen", "Diego", "Isabel", "Raúl", "Teresa", "Omar",
    "Grace", "David", "Sarah", "Kevin", "Linda", "James", "Emily", "Brian", "Karen", "Mark",
]  # fmt: skip
TAGS = ["volunteer", "texas", "zona-norte", "legal-help", "press"]
INBOX = [
    ("es", "¿A qué hora empieza la marcha del sábado? Voy con mi familia"),
    ("en", "Can I bring my kids to the vigil?"),
    ("es", "Necesito ayuda con mi cita en migración, ¿tienen abogados?"),
    ("es", "Gracias por avisar, ahí estaremos"),
]


def seed_movement(db: Database, contacts: int = 48) -> dict[str, list[int]]:
    """Contacts joining over 12 weeks, some opting out, messages, inbox and reports."""
    rng = random.Random(7)
    now = utcnow()
    ids: list[int] = []
    for i in range(contacts):
        mexican = i % 3 == 0
        phone = f"+52551000{i:04d}" if mexican else f"+1213555{100 + i % 100:04d}"
        phone = phone if mexican or i < 100 else phone
        language = "es" if mexican or i % 4 else "en"
        joined = now - dt.timedelta(days=int(84 * (1 - (i / contacts) ** 0.7)), hours=i)
        channels = ("whatsapp",) if mexican else (("sms", "whatsapp") if i % 5 == 0 else ("sms",))
        tags = rng.sample(TAGS, k=rng.randint(0, 2))
        contact = create_contact(
            db, phone, language, channels, name=NAMES[i % len(NAMES)], tags=tags,
            created_at=joined, last_inbound_at=now - dt.timedelta(hours=rng.randint(1, 60)),
        )  # fmt: skip
        ids.append(contact)
        for week in range(0, max(1, (now - joined).days // 7), 2):
            status = rng.choice(["delivered"] * 8 + ["read", "failed", "undelivered"])
            channel = channels[0]
            create_message(
                db, contact, "Noticias de la semana" if language == "es" else "This week's news",
                direction="out", channel=channel, status=status,
                created_at=joined + dt.timedelta(days=week * 7 + 1),
            )  # fmt: skip
        if i % 9 == 4:
            _opt_out(db, contact, joined + dt.timedelta(days=rng.randint(3, 20)))
    for (_language, text), contact in zip(INBOX, ids[-8::2], strict=False):
        create_message(
            db, contact, text, created_at=now - dt.timedelta(minutes=rng.randint(5, 300))
        )
    create_report(
        db, ids[3], what="Retén militar revisando autos", where="Carretera 15, km 40",
        when="hoy 7:30 am",
    )  # fmt: skip
    create_report(db, ids[10], what="ICE van parked outside the school", where="Pico-Union, LA")
    return {"contacts": ids}


def seed_audit(db: Database) -> None:
    """A few days of organizers' work, as the audit log shows it."""
    from sqlalchemy import select

    from bot.accounts import audit
    from bot.accounts.models import User

    with db.session() as session:
        users = {u.role: u for u in session.scalars(select(User))}
        for i, (role, action, target, details) in enumerate([
            ("organizer", "inbox.reply", "contact:7", {"message": 31, "status": "queued"}),
            ("organizer", "contact.tag_add", "contact:7", {"tag": "legal-help"}),
            ("organizer", "broadcast.create", "broadcast:3", {"languages": ["en", "es"]}),
            ("organizer", "broadcast.test", "broadcast:3", {"statuses": ["queued", "queued"]}),
            ("organizer", "broadcast.send", "broadcast:3", {}),
            ("admin", "user.create", "user:4", {"role": "organizer"}),
            ("organizer", "event.create", "event:1", {"reminders": [-86400, -7200]}),
            ("organizer", "contacts.import", None, {"created": 212, "bad_rows": 3}),
            ("admin", "contacts.export", None, {"contacts": 1480, "full_numbers": True}),
        ]):  # fmt: skip
            entry = audit.record(session, users[role], action, target, "203.0.113.7", **details)
            entry.created_at = utcnow() - dt.timedelta(hours=30 - 3 * i)


def _opt_out(db: Database, contact_id: int, when: dt.datetime) -> None:
    from bot.contacts.models import Contact

    with db.session() as session:
        contact = session.get_one(Contact, contact_id)
        contact.status, contact.opted_out_at = "opted_out", when
        session.add(
            ConsentEvent(
                contact_id=contact_id, kind="opt_out", channel="sms", words="BAJA",
                source="keyword", created_at=when,
            )
        )  # fmt: skip


def seed_event(db: Database, contact_ids: list[int]) -> int:
    """The summit, a week away, with RSVPs."""
    now = utcnow()
    with db.session() as session:
        event = events.create_event(
            session,
            {"es": "Cumbre por la Paz y la Justicia", "en": "Summit for Peace and Justice"},
            {"es": "Plaza de la Constitución, CDMX", "en": "Constitution Square, Mexico City"},
            (now + dt.timedelta(days=7)).replace(minute=0, second=0, microsecond=0),
            "America/Mexico_City",
            [dt.timedelta(days=1), dt.timedelta(hours=2)],
            now=now,
        )
        for i, contact in enumerate(contact_ids[:14]):
            session.add(
                Rsvp(event_id=event.id, contact_id=contact, answer="yes" if i % 4 else "no",
                     updated_at=now - dt.timedelta(hours=i))
            )  # fmt: skip
        return event.id
