"""Events from the database drive the RSVP flow: each event's keywords, in both languages.

Two events take RSVPs at once (the summit: CUMBRE / SUMMIT; a march: MARCHA /
MARCH). People text them on SMS through the real webhook, answer the numbered
question in their language, and each answer lands on its own event, so that
event's reminders reach only them. RSVP alone answers the one open event, asks
which when several are open, or says none is.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from bot import create_app
from bot.broadcasts import events
from bot.broadcasts.audiences import Filters, size
from bot.broadcasts.models import Broadcast, Event, Rsvp
from bot.db import Database, utcnow
from bot.i18n import LANGUAGES, gettext
from tests.factories import contact_by_phone, create_partner
from tests.settings import settings_for
from tests.twilio_requests import text

ANA = "+525555550101"  # Spanish (a +52 number)
BEN = "+12135550102"  # English
CARLA = "+525555550103"
DAN = "+12135550104"

SUMMIT = {"es": ["CUMBRE"], "en": ["SUMMIT"]}
MARCH = {"es": ["MARCHA"], "en": ["MARCH"]}


def make_event(
    db: Database,
    names: tuple[str, str],
    keywords: dict[str, list[str]] | None,
    starts_in: dt.timedelta = dt.timedelta(days=9),
    **extra,
) -> int:
    """An event (Spanish name, English name) starting ``starts_in`` from now; its id."""
    with db.session() as session:
        event = events.create_event(
            session,
            {"es": names[0], "en": names[1]},
            {"es": "Plaza Santa Cecilia", "en": "Santa Cecilia Square"},
            utcnow() + starts_in,
            "America/Tijuana",
            [dt.timedelta(days=1)],
            keywords=keywords,
            **extra,
        )
        return event.id


def answers(db: Database, event_id: int) -> dict[str, str]:
    """phone -> answer, for one event."""
    from bot.contacts.models import Contact

    with db.session() as session:
        rows = session.execute(
            select(Contact.phone, Rsvp.answer)
            .join(Rsvp, Rsvp.contact_id == Contact.id)
            .where(Rsvp.event_id == event_id)
        )
        return dict(rows.all())


# --- two events, by keyword, in both languages ---------------------------------------


def test_people_rsvp_to_each_of_two_events_by_keyword_in_both_languages(client, db):
    summit = make_event(db, ("Cumbre fronteriza", "Border summit"), SUMMIT)
    march = make_event(db, ("Marcha por la dignidad", "March for dignity"), MARCH)

    asked = text(client, ANA, "cumbre")  # any case, as a first message: Spanish
    assert len(asked) == 1
    assert asked[0].startswith("Cumbre fronteriza: ") and "Plaza Santa Cecilia" in asked[0]
    assert asked[0].endswith("¿Nos acompañas?\n1. Sí, ahí estaré\n2. No puedo\n3. Tal vez")
    assert re.search(r": \w+ \d+ de \w+, \d+:\d\d [ap]\.\u202fm\., Plaza", asked[0])  # Babel
    thanks = text(client, ANA, "1")
    assert any("Cuántas personas" in r for r in thanks), thanks
    done = text(client, ANA, "2")
    assert any("Escribe CUMBRE cuando quieras" in r for r in done), done

    asked = text(client, BEN, "MARCH")
    assert asked[0].startswith("March for dignity: ") and "Santa Cecilia Square" in asked[0]
    assert asked[0].endswith("Will you come?\n1. Yes, I'll be there\n2. No, I can't\n3. Maybe")
    assert any("Text MARCH anytime" in r for r in text(client, BEN, "3"))  # maybe

    text(client, CARLA, "MARCHA")
    assert any("Escribe MARCHA cuando" in r for r in text(client, CARLA, "no"))

    assert answers(db, summit) == {ANA: "yes"}
    assert answers(db, march) == {BEN: "maybe", CARLA: "no"}
    with db.session() as session:
        assert session.get(Rsvp, (summit, contact_by_phone(db, ANA).id)).guests == 2
    assert contact_by_phone(db, ANA).language == "es"
    assert contact_by_phone(db, BEN).language == "en"
    # Nothing per event is kept on the contact: two events never share a field or tag.
    assert not {"summit_rsvp", "summit_guests"} & set(contact_by_phone(db, ANA).fields or {})
    assert not contact_by_phone(db, ANA).tag_names


def test_the_latest_answer_counts_one_rsvp_per_person_per_event(client, db):
    summit = make_event(db, ("Cumbre", "Summit"), SUMMIT)
    march = make_event(db, ("Marcha", "March"), MARCH)
    text(client, BEN, "SUMMIT")
    text(client, BEN, "yes")
    text(client, BEN, "skip")
    text(client, BEN, "MARCH")
    text(client, BEN, "yes")
    text(client, BEN, "SUMMIT")  # changes their mind about the summit only
    text(client, BEN, "no")
    assert answers(db, summit) == {BEN: "no"}
    assert answers(db, march) == {BEN: "yes"}
    with db.session() as session:
        assert session.get(Rsvp, (summit, contact_by_phone(db, BEN).id)).guests is None


def test_each_events_reminders_reach_only_its_own_rsvps(client, db):
    summit = make_event(db, ("Cumbre", "Summit"), SUMMIT, now=utcnow() - dt.timedelta(days=3))
    march = make_event(
        db, ("Marcha", "March"), MARCH, dt.timedelta(hours=20), now=utcnow() - dt.timedelta(days=3)
    )
    for phone, keyword, answer in (
        (ANA, "CUMBRE", "sí"),
        (BEN, "MARCH", "maybe"),
        (DAN, "MARCH", "no"),
    ):
        text(client, phone, keyword)
        text(client, phone, answer)
    with db.session() as session:
        assert size(session, Filters(event_id=summit), ("sms",), utcnow()) == 1
        assert size(session, Filters(event_id=march), ("sms",), utcnow()) == 1  # no says no
    assert events.fire_due(db, utcnow()) == 1  # the march's reminder, a day before
    with db.session() as session:
        fired = session.scalars(select(Broadcast).where(Broadcast.reminder_id.is_not(None))).one()
        assert fired.filters["event_id"] == march
        assert size(session, Filters.from_dict(fired.filters), ("sms",), utcnow()) == 1


# --- RSVP alone: none, one or several open events -------------------------------------


def test_rsvp_with_no_open_event_says_so_in_the_contacts_language(client, db):
    make_event(db, ("Cumbre pasada", "Past summit"), SUMMIT, -dt.timedelta(days=1))
    assert text(client, BEN, "Hello")
    assert text(client, BEN, "RSVP") == [gettext("en", events.NO_OPEN_EVENT)]
    assert text(client, ANA, "Hola")
    assert text(client, ANA, "rsvp") == [gettext("es", events.NO_OPEN_EVENT)]
    assert "Ahora no hay ningún evento" in gettext("es", events.NO_OPEN_EVENT)


def test_rsvp_with_one_open_event_answers_it(client, db):
    make_event(db, ("Cumbre pasada", "Past summit"), None, -dt.timedelta(days=1))
    march = make_event(db, ("Marcha", "March"), None)  # no keyword of its own
    text(client, ANA, "Hola")
    asked = text(client, ANA, "RSVP")
    assert asked[0].startswith("Marcha: ") and "¿Nos acompañas?" in asked[0]
    assert any("Escribe RSVP cuando" in r for r in text(client, ANA, "no"))
    assert answers(db, march) == {ANA: "no"}


def test_rsvp_with_two_open_events_asks_which_by_number(client, db):
    march = make_event(db, ("Marcha", "March"), MARCH, dt.timedelta(days=2))
    summit = make_event(db, ("Cumbre", "Summit"), SUMMIT, dt.timedelta(days=9))
    text(client, ANA, "Hola")
    asked = text(client, ANA, "RSVP")
    assert asked == [gettext("es", events.WHICH_EVENT) + "\n1. Marcha\n2. Cumbre"]  # soonest first
    again = text(client, ANA, "7")
    assert again == [gettext("es", events.WHICH_EVENT_AGAIN, count=2) + "\n1. Marcha\n2. Cumbre"]
    assert text(client, ANA, "2")[0].startswith("Cumbre: ")
    text(client, ANA, "3")
    assert answers(db, summit) == {ANA: "maybe"} and answers(db, march) == {}

    text(client, BEN, "Hello")
    assert text(client, BEN, "RSVP")[0].endswith("\n1. March\n2. Summit")
    assert text(client, BEN, "the first one, 1")[0].startswith("March: ")
    text(client, BEN, "yes")
    assert answers(db, march) == {BEN: "yes"}


def test_a_past_events_keyword_says_it_is_over(client, db):
    past = make_event(db, ("Marcha de mayo", "May march"), MARCH, -dt.timedelta(hours=1))
    assert text(client, ANA, "MARCHA") == [
        "«Marcha de mayo» ya pasó y no recibe más confirmaciones. ¡Gracias por tu interés!"
    ]
    assert text(client, BEN, "march") == [
        "“May march” is over and takes no more RSVPs. Thank you for caring!"
    ]
    assert answers(db, past) == {}


def test_an_opted_out_contact_texting_an_events_keyword_gets_nothing(client, db):
    summit = make_event(db, ("Cumbre", "Summit"), SUMMIT)
    text(client, ANA, "Hola")
    text(client, ANA, "BAJA")
    assert text(client, ANA, "CUMBRE") == []
    assert text(client, ANA, "RSVP") == []
    assert answers(db, summit) == {}


# --- the date, per language and time zone ---------------------------------------------


def test_the_date_is_written_in_each_language_in_the_events_time_zone(db):
    with db.session() as session:
        event = events.create_event(
            session,
            {"es": "Marcha", "en": "March"},
            {"es": "Zócalo", "en": "Zócalo"},
            dt.datetime(2030, 6, 8, 16, 0, tzinfo=dt.UTC),  # 10:00 in Mexico City
            "America/Mexico_City",
            keywords={"es": ["MARCHA"]},
        )
        said = events.flow_answers(session, event)
    assert said["event_date_es"] == "sábado 8 de junio, 10:00 a.\u202fm."
    assert said["event_date_en"] == "Saturday, June 8, 10:00 AM"
    assert said["event_keyword_es"] == "MARCHA" and said["event_keyword_en"] == "MARCHA"
    assert said["event_name_en"] == "March" and said["event"] == event.id


# --- keywords: the shared namespace ---------------------------------------------------


def run(app, *args):
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


CREATE = [
    "events", "create", "--name-es", "Marcha", "--name-en", "March", "--place-es", "Plaza",
    "--place-en", "Square", "--starts", "2030-06-08 10:00", "--tz", "America/Tijuana",
    "--remind", "1d", "--keyword-es", "MARCHA", "--keyword-en", "MARCH",
]  # fmt: skip


def test_cli_creates_an_event_with_keywords_and_refuses_a_taken_one_in_both_languages(
    app, client, db
):
    result = run(app, *CREATE)
    assert result.exit_code == 0, result.output
    assert "es:MARCHA" in run(app, "events", "list").output
    assert text(client, BEN, "MARCH")[0].startswith("March: ")

    create_partner(db, "frontera", "FRONTERA", "BORDER")
    taken = [*CREATE[:-4], "--keyword-es", "MARCHA2", "--keyword-en", "BORDER"]
    result = run(app, *taken)
    assert result.exit_code == 1
    assert "BORDER is already the keyword of the partner frontera." in result.output
    assert "BORDER ya es" in result.output  # and in Spanish
    for word, why in (("MARCH", "is already an event's keyword"), ("STOP", "compliance word"),
                      ("RSVP", "already starts the flow summit_rsvp")):  # fmt: skip
        result = run(app, *CREATE[:-4], "--keyword-en", word)
        assert result.exit_code == 1 and why in result.output, result.output
    with db.session() as session:
        assert session.scalar(select(Event.id).where(Event.id > 1)) is None  # nothing half made


def test_cli_changes_an_events_keywords(app, client, db):
    summit = make_event(db, ("Cumbre", "Summit"), SUMMIT)
    march = make_event(db, ("Marcha", "March"), MARCH)
    result = run(app, "events", "keywords", str(summit), "--keyword-es", "CUMBRE,ENCUENTRO",
                 "--keyword-en", "SUMMIT")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert text(client, ANA, "encuentro")[0].startswith("Cumbre: ")
    refused = run(app, "events", "keywords", str(summit), "--keyword-en", "MARCH")
    assert refused.exit_code == 1 and "MARCH is already an event's keyword." in refused.output
    with db.session() as session:
        assert events.keywords_of(session, summit) == {
            "es": ["CUMBRE", "ENCUENTRO"],
            "en": ["SUMMIT"],
        }
        assert events.keywords_of(session, march) == MARCH


def test_an_events_keyword_is_refused_to_a_partner_and_a_petition(app, db):
    from bot.partners import organizations
    from bot.partners.organizations import PartnerError, PartnerFields

    make_event(db, ("Marcha", "March"), MARCH)
    with db.session() as session, pytest.raises(PartnerError, match="an event's keyword"):
        fields = PartnerFields(name_es="Alfa", name_en="Alfa", keywords={"es": ["MARCHA"]})
        organizations.create(session, "alfa", fields, None, utcnow())
    result = run(app, "petitions", "create", "--slug", "p", "--title-es", "T", "--title-en", "T",
                 "--text-es", "T", "--text-en", "T", "--target", "X", "--goal", "5",
                 "--keyword-es", "MARCHA")  # fmt: skip
    assert result.exit_code == 1 and "an event's keyword" in result.output


def test_a_partners_event_keyword_rsvps_to_the_partners_event(app, client, db):
    partner_id = create_partner(db, "frontera", "FRONTERA", "BORDER")
    result = run(app, *CREATE, "--partner", "frontera")
    assert result.exit_code == 0, result.output
    with db.session() as session:
        event = session.scalars(select(Event)).one()
        assert event.organization_id == partner_id
    text(client, ANA, "MARCHA")
    text(client, ANA, "sí")
    assert answers(db, event.id) == {ANA: "yes"}
    assert text(client, BEN, "FRONTERA")  # its join keyword still joins it, not the event


def test_dashboard_creates_an_event_with_keywords_and_refuses_a_taken_one(sign_in, db, client):
    make_event(db, ("Cumbre", "Summit"), SUMMIT)
    organizer = sign_in("organizer", "es")
    form = {
        "csrf_token": organizer.csrf_token, "name_es": "Marcha", "name_en": "March",
        "place_es": "Plaza", "place_en": "Square", "starts_at": "2030-06-08T10:00",
        "timezone": "America/Tijuana", "reminders": "1d", "keywords_es": "MARCHA",
        "keywords_en": "SUMMIT",
    }  # fmt: skip
    refused = organizer.post("/dashboard/events/", data=form)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "SUMMIT ya es la palabra clave de un evento." in page
    assert 'value="MARCHA"' in page  # what was typed is kept
    with db.session() as session:
        assert len(session.scalars(select(Event)).all()) == 1
    created = organizer.post("/dashboard/events/", data={**form, "keywords_en": "MARCH"})
    assert created.status_code == 302
    assert text(client, BEN, "MARCH")[0].startswith("March: ")
    event_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    detail = organizer.get(f"/dashboard/events/{event_id}").get_data(as_text=True)
    assert "MARCHA" in detail and "MARCH" in detail
    changed = organizer.post(
        f"/dashboard/events/{event_id}/keywords",
        data={"csrf_token": organizer.csrf_token, "keywords_es": "CUMBRE", "keywords_en": "MARCH"},
        follow_redirects=True,
    )
    assert "CUMBRE ya es la palabra clave de un evento." in changed.get_data(as_text=True)
    with db.session() as session:
        assert events.keywords_of(session, event_id) == {"es": ["MARCHA"], "en": ["MARCH"]}


# --- no EVENT_* settings ----------------------------------------------------------------


def test_the_app_starts_with_no_event_and_no_event_settings(database_url, fake_twilio_server):
    app = create_app(settings_for(database_url, fake_twilio_server[1]))
    try:
        loaded = app.extensions["puente.flows"]
        assert "summit_rsvp" not in loaded.disabled
        assert loaded.flowset.get(events.FLOW_ID) is not None
        assert not any(name.startswith("EVENT_") for name in app.config)
        reply = text(app.test_client(), BEN, "RSVP")
        assert reply == [gettext("en", events.NO_OPEN_EVENT)]
    finally:
        app.extensions["puente.db"].engine.dispose()


@pytest.mark.parametrize("msgid", events.TEXTS)
def test_what_a_contact_is_told_about_events_is_in_both_languages(msgid):
    values = {"name": "Marcha", "count": 2}
    for lang in LANGUAGES:
        assert gettext(lang, msgid, **values)
    assert gettext("es", msgid, **values) != gettext("en", msgid, **values)


def test_make_runs_demo_gets_one_summit_to_rsvp_to(app, client, db):
    from bot.devserver import seed_demo_event

    seed_demo_event(app)
    seed_demo_event(app)  # a database with an event gets no other
    with db.session() as session:
        (event,) = session.scalars(select(Event)).all()
        assert events.keywords_of(session, event.id) == SUMMIT
    assert text(client, BEN, "SUMMIT")[0].startswith("Coalition summit: ")
