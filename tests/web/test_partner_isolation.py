"""Isolation between partners: a partner's organizers see their members and nothing else.

Two partners, Alfa and Beta, and the coalition each have a contact, a message,
a report, a broadcast, an event with an RSVP, a saved audience and a tag;
everything of Beta's and the coalition's carries a marker (BETAZ, COALZ) or
a phone number that must never reach Alfa's users. Each role of Alfa
requests every dashboard route in the URL map (so a route added later is
covered the day it is added) with Beta's ids and the coalition's, and every
list and export without ids; the ids must give 403 or 404, the pages and CSV
nothing of theirs, and the counts only Alfa's. Forms with ids are posted too,
and must change nothing.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, template_rendered
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot import phones
from bot.accounts import users
from bot.accounts.models import AuditEntry, PartnerRole, User
from bot.broadcasts import audiences, broadcast, events
from bot.broadcasts.audiences import Filters
from bot.broadcasts.models import Broadcast, Event, Reminder
from bot.contacts.models import ConsentEvent, Contact, ContactTag
from bot.db import Database, utcnow
from bot.msgs.models import Message
from bot.partners import organizations
from bot.partners.models import Membership
from bot.partners.organizations import PartnerFields
from bot.reports.models import Report, ReportMedia
from tests.dashboard_client import csrf_from
from tests.factories import DASHBOARD_PASSWORD, create_contact, create_message

ROLES = ("admin", "organizer", "viewer")
PHONES = {"alfa": "+12135550111", "beta": "+12135550122", None: "+12135550133"}
MARKERS = {"alfa": "ALFAZ", "beta": "BETAZ", None: "COALZ"}
# Which of the other organizations' ids a route's integer argument is filled with.
ID_ARGUMENTS = {
    "contact_id": "contact",
    "broadcast_id": "broadcast",
    "event_id": "event",
    "report_id": "report",
    "media_id": "media",
    "message_id": "message",
    "partner_id": "organization",
    "organization_id": "organization",
    "user_id": "user",
}
STRING_ARGUMENTS = {"slug": "slug", "flow_id": None, "filename": None}


@dataclass
class Owned:
    """What one organization has: ids of each kind, and how its things are recognised."""

    organization: int | None
    slug: str | None
    contact: int
    message: int
    report: int
    broadcast: int
    event: int
    audience: int
    user: int
    phone: str
    marker: str
    media: int = 0  # a photo of its report

    def ids(self) -> dict[str, Any]:
        return {
            "contact": self.contact, "message": self.message, "report": self.report,
            "broadcast": self.broadcast, "event": self.event, "user": self.user,
            "organization": self.organization or 0, "slug": self.slug or "coalition",
            "media": self.media,
        }  # fmt: skip

    def leaks(self, body: str) -> list[str]:
        """What of this organization's appears in ``body`` (it must be nothing)."""
        found = [s for s in (self.phone, phones.mask(self.phone)) if s in body]
        found += [self.phone.lstrip("+")] if self.phone.lstrip("+") in body else []
        if self.marker.lower() in body.lower():
            found.append(self.marker)
        return found


def _partner(db: Database, slug: str) -> int:
    with db.session() as session:
        partner = organizations.create(
            session,
            slug,
            PartnerFields(
                name_es=f"{slug.title()} Unida",
                name_en=f"{slug.title()} United",
                keywords={"es": [f"{slug.upper()}ES"], "en": [f"{slug.upper()}EN"]},
                country="US",
            ),
            None,
            utcnow(),
        )
        return partner.id


def _things_of(db: Database, slug: str | None, organization_id: int | None) -> Owned:
    """A member contact, its message, report, RSVP'd event, broadcast, audience and a user."""
    marker, phone = MARKERS[slug], PHONES[slug]
    contact_id = create_contact(
        db, phone, "es", name=f"Persona {marker}", tags=(f"{marker.lower()}-tag",)
    )
    message_id = create_message(db, contact_id, f"mensaje {marker} de la persona")
    now = utcnow()
    with db.session() as session:
        if organization_id is not None:  # as a keyword join: a member, a consent line for it
            session.add(
                Membership(
                    contact_id=contact_id, organization_id=organization_id,
                    source="test", joined_at=now, extra={},
                )
            )  # fmt: skip
            session.add(
                ConsentEvent(
                    contact_id=contact_id, kind="opt_in", channel="sms", words=marker,
                    source="keyword", organization_id=organization_id, created_at=now,
                )
            )  # fmt: skip
        report = Report(
            contact_id=contact_id, flow_id="report", data={"what": f"reporte {marker}"},
            organization_id=organization_id, created_at=now,
        )  # fmt: skip
        session.add(report)
        event = events.create_event(
            session, {"es": f"Cumbre {marker}", "en": f"Summit {marker}"},
            {"es": "Juárez", "en": "Juárez"}, now + dt.timedelta(days=10),
            "America/Chicago", [dt.timedelta(days=1)], now=now,
        )  # fmt: skip
        event.organization_id = organization_id
        session.flush()
        events.rsvp(session, event.id, contact_id, True, now)
        created = broadcast.create(
            session, f"Difusión {marker}", {"es": f"Texto {marker}", "en": f"Text {marker}"},
            Filters(), organization_id=organization_id, now=now,
        )  # fmt: skip
        audience = audiences.save(session, f"Público {marker}", Filters(languages=("es",)))
        audience.organization_id = organization_id
        user = users.create_user(
            session, f"{marker.lower()}@puente.example.org", f"Usuario {marker}",
            DASHBOARD_PASSWORD, "organizer",
        )  # fmt: skip
        if organization_id is not None:
            users.set_partner_role(user, organization_id, "organizer")
            user.role = None
        session.flush()
        photo = ReportMedia(
            report_id=report.id, content_type="image/jpeg", status="stored", attempts=1,
            key=f"{marker.lower()}-{'k' * 40}", created_at=now,
        )  # fmt: skip
        session.add(photo)
        session.flush()
        return Owned(
            organization_id, slug, contact_id, message_id, report.id, created.id, event.id,
            audience.id, user.id, phone, marker, photo.id,
        )  # fmt: skip


@dataclass
class World:
    alfa: Owned
    beta: Owned
    coalition: Owned

    def others(self) -> tuple[Owned, Owned]:
        return self.beta, self.coalition


@pytest.fixture
def world(app: Flask, db: Database) -> World:
    alfa_id, beta_id = _partner(db, "alfa"), _partner(db, "beta")
    return World(
        alfa=_things_of(db, "alfa", alfa_id),
        beta=_things_of(db, "beta", beta_id),
        coalition=_things_of(db, None, None),
    )


def sign_in_partner(app: Flask, db: Database, partner_id: int, role: str) -> FlaskClient:
    """A client signed in as a user with ``role`` in one partner and none in the coalition."""
    email = f"{role}-of-{partner_id}@puente.example.org"
    with db.session() as session:
        user = users.create_user(session, email, role.title(), DASHBOARD_PASSWORD, role, "en")
        users.set_partner_role(user, partner_id, role)
        user.role = None
    client = app.test_client()
    token = csrf_from(client.get("/dashboard/login").data)
    response = client.post(
        "/dashboard/login",
        data={"email": email, "password": DASHBOARD_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302, response.data
    client.csrf_token = csrf_from(client.get("/dashboard/profile").data)  # type: ignore[attr-defined]
    return client


def dashboard_rules(app: Flask, method: str) -> Iterator[Any]:
    """Every rule under /dashboard that answers ``method`` (static files aside)."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/dashboard") or rule.endpoint == "dashboard.static":
            continue
        if method in (rule.methods or set()):
            yield rule


def fill(rule: Any, owner: Owned) -> dict[str, Any]:
    """Values for a rule's arguments: ``owner``'s ids (a new kind of id must be mapped here)."""
    values: dict[str, Any] = {}
    ids = owner.ids()
    for name in rule.arguments - set(rule.defaults or {}):
        converter = type(rule._converters[name]).__name__  # noqa: SLF001 - to pick a value
        if converter == "IntegerConverter":
            assert name in ID_ARGUMENTS, f"{rule.rule}: map {name} in ID_ARGUMENTS"
            values[name] = ids[ID_ARGUMENTS[name]]
        else:
            assert name in STRING_ARGUMENTS, f"{rule.rule}: map {name} in STRING_ARGUMENTS"
            kind = STRING_ARGUMENTS[name]
            values[name] = ids[kind] if kind else "x"
    return values


def url_for_rule(app: Flask, rule: Any, values: dict[str, Any], method: str) -> str:
    return app.url_map.bind("localhost").build(rule.endpoint, values, method)


class Rendered:
    """The context of every template rendered while it listens."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.contexts: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> Rendered:
        template_rendered.connect(self._seen, self.app)
        return self

    def __exit__(self, *exc: object) -> None:
        template_rendered.disconnect(self._seen, self.app)

    def _seen(self, sender: Flask, template: Any, context: dict[str, Any], **extra: Any) -> None:
        self.contexts[template.name] = dict(context)


# --- GET: every route with the others' ids, every list without ---------------------------


@pytest.mark.parametrize("role", ROLES)
def test_another_organizations_ids_give_403_or_404_on_every_page(app, db, world, role):
    client = sign_in_partner(app, db, world.alfa.organization, role)  # type: ignore[arg-type]
    checked = 0
    for rule in dashboard_rules(app, "GET"):
        if not rule.arguments - set(rule.defaults or {}):
            continue
        for other in world.others():
            url = url_for_rule(app, rule, fill(rule, other), "GET")
            response = client.get(url)
            assert response.status_code in (403, 404), (role, url, response.status_code)
            leaks = other.leaks(response.get_data(as_text=True))
            assert not leaks, (role, url, leaks)
            checked += 1
    assert checked >= 10  # contacts, broadcasts (detail, progress), events, users, flows…


@pytest.mark.parametrize("role", ROLES)
def test_no_list_page_or_export_shows_another_organizations_things(app, db, world, role):
    client = sign_in_partner(app, db, world.alfa.organization, role)  # type: ignore[arg-type]
    pages = 0
    for rule in dashboard_rules(app, "GET"):
        if rule.arguments - set(rule.defaults or {}):
            continue
        url = url_for_rule(app, rule, {}, "GET")
        response = client.get(url)
        assert response.status_code in (200, 302, 403), (role, url, response.status_code)
        body = response.get_data(as_text=True)
        for other in world.others():
            assert not other.leaks(body), (role, url, other.leaks(body))
        pages += response.status_code == 200
    # Query strings that name another organization's things find nothing either.
    for other in world.others():
        for url in (
            f"/dashboard/broadcasts/new?copy={other.broadcast}&event={other.event}",
            f"/dashboard/broadcasts/audience?audience=Público%20{other.marker}"
            f"&event_id={other.event}",
            f"/dashboard/contacts/?q=%23{other.contact}",
        ):
            body = client.get(url).get_data(as_text=True)
            assert not other.leaks(body), (role, url, other.leaks(body))
    assert pages >= 8


@pytest.mark.parametrize("role", ROLES)
def test_counts_are_only_the_partners_own(app, db, world, role):
    client = sign_in_partner(app, db, world.alfa.organization, role)  # type: ignore[arg-type]
    with Rendered(app) as seen:
        for url in (
            "/dashboard/",
            "/dashboard/contacts/",
            "/dashboard/inbox/",
            "/dashboard/reports/",
            "/dashboard/events/",
            "/dashboard/broadcasts/",
            "/dashboard/broadcasts/audience",
        ):
            assert client.get(url).status_code == 200, url
    overview = seen.contexts["dashboard/overview.html"]
    assert overview["tiles"]["active"] == 1
    assert overview["tiles"]["inbox"] == 1
    assert overview["tiles"]["joined_week"] == 1
    assert overview["contact_languages"] == [("es", 1)]
    assert seen.contexts["dashboard/contacts/index.html"]["total"] == 1
    assert [c.id for c in seen.contexts["dashboard/contacts/index.html"]["contacts"]] == [
        world.alfa.contact
    ]
    assert seen.contexts["dashboard/inbox.html"]["total"] == 1
    assert sum(seen.contexts["dashboard/reports.html"]["counts"].values()) == 1
    listed = seen.contexts["dashboard/events/index.html"]
    assert [e.id for e in listed["upcoming"] + listed["past"]] == [world.alfa.event]
    assert set(listed["rsvps"]) == {world.alfa.event}
    assert [b.id for b, _ in seen.contexts["dashboard/broadcasts/index.html"]["rows"]] == [
        world.alfa.broadcast
    ]
    assert seen.contexts["dashboard/broadcasts/_audience.html"]["counts"].total == 1


@pytest.mark.parametrize("role", ("admin", "organizer"))
def test_the_export_has_the_partners_members_only(app, db, world, role):
    client = sign_in_partner(app, db, world.alfa.organization, role)  # type: ignore[arg-type]
    response = client.get("/dashboard/contacts/export")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = response.get_data(as_text=True).strip().splitlines()
    assert len(rows) == 2  # the header and Alfa's one member
    assert PHONES["alfa"][-4:] in rows[1]
    for other in world.others():
        assert not other.leaks(response.get_data(as_text=True))


# --- POST: forms with the others' ids change nothing -------------------------------------

FORM = {
    "confirm": "yes", "tag": "betaz-tag", "body": "hola", "status": "closed", "offset": "3h",
    "send_at": "2030-01-01T10:00", "how": "por teléfono", "role": "admin", "active": "0",
    "partner": "1", "organization": "1", "lang": "es", "text": "hola",
}  # fmt: skip


def snapshot(db: Database, world: World) -> dict[str, Any]:
    """Everything a refused form could have changed."""
    with db.session() as session:
        return {
            "contacts": session.execute(
                select(Contact.id, Contact.status, Contact.opted_in_at).order_by(Contact.id)
            ).all(),
            "tags": session.execute(
                select(ContactTag.contact_id, ContactTag.tag).order_by(ContactTag.tag)
            ).all(),
            "broadcasts": session.execute(
                select(Broadcast.id, Broadcast.status, Broadcast.send_at).order_by(Broadcast.id)
            ).all(),
            "messages": session.execute(
                select(Message.id, Message.handled_by).order_by(Message.id)
            ).all(),
            "reports": session.execute(select(Report.id, Report.status).order_by(Report.id)).all(),
            "reminders": session.scalar(select(func.count(Reminder.id))),
            "events": session.execute(select(Event.id, Event.names).order_by(Event.id)).all(),
            "users": session.execute(
                select(User.id, User.role, User.active, User.session_token).order_by(User.id)
            ).all(),
            "partner_roles": session.execute(
                select(PartnerRole.user_id, PartnerRole.organization_id, PartnerRole.role)
            ).all(),
        }


@pytest.mark.parametrize("role", ROLES)
def test_forms_with_another_organizations_ids_are_refused_and_change_nothing(
    app, db, world, fake_twilio, role
):
    client = sign_in_partner(app, db, world.alfa.organization, role)  # type: ignore[arg-type]
    before = snapshot(db, world)
    posted = 0
    for rule in dashboard_rules(app, "POST"):
        if not rule.arguments - set(rule.defaults or {}):
            continue
        for other in world.others():
            url = url_for_rule(app, rule, fill(rule, other), "POST")
            response = client.post(url, data={**FORM, "csrf_token": client.csrf_token})
            assert response.status_code in (403, 404), (role, url, response.status_code)
            posted += 1
    assert posted >= 20  # tags, opt-out, inbox, reports, events, every broadcast action…
    assert snapshot(db, world) == before
    assert fake_twilio.outbox() == []


@pytest.mark.parametrize("role", ROLES)
def test_a_partner_user_cannot_act_for_another_organization(app, db, world, role):
    client = sign_in_partner(app, db, world.alfa.organization, role)  # type: ignore[arg-type]
    for key in (str(world.beta.organization), ""):
        response = client.post(
            "/dashboard/acting-for", data={"organization": key, "csrf_token": client.csrf_token}
        )
        assert response.status_code == 403
    body = client.get("/dashboard/contacts/").get_data(as_text=True)
    assert not world.beta.leaks(body) and not world.coalition.leaks(body)


# --- what the partner does is its own -----------------------------------------------------


def test_a_partners_broadcast_event_and_audit_entries_are_its_own(app, db, world):
    client = sign_in_partner(app, db, world.alfa.organization, "organizer")  # type: ignore[arg-type]
    token = client.csrf_token  # type: ignore[attr-defined]
    response = client.post(
        "/dashboard/broadcasts/",
        data={
            "csrf_token": token, "name": "Alfa march", "text_es": "Marcha", "text_en": "March",
            "save_audience": "Alfa people", "event_id": str(world.beta.event),
        },
    )  # fmt: skip
    assert response.status_code == 302
    start = (utcnow() + dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        "/dashboard/events/",
        data={
            "csrf_token": token, "name_es": "Asamblea", "name_en": "Assembly",
            "timezone": "America/Chicago", "starts_at": start, "reminders": "1d",
        },
    )  # fmt: skip
    assert response.status_code == 302
    client.post(
        f"/dashboard/contacts/{world.alfa.contact}/tags", data={"csrf_token": token, "tag": "x"}
    )
    alfa = world.alfa.organization
    with db.session() as session:
        made = session.scalar(select(Broadcast).where(Broadcast.name == "Alfa march"))
        assert made.organization_id == alfa
        assert made.filters.get("partners") == [alfa] and "event_id" not in made.filters
        saved = session.scalar(
            select(audiences.Audience).where(audiences.Audience.name == "Alfa people")
        )
        assert saved.organization_id == alfa
        event = session.scalar(select(Event).where(Event.names["en"].as_string() == "Assembly"))
        assert event.organization_id == alfa
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(("broadcast.create", "event.create",
                                                           "contact.tag_add", "user.sign_in")))
        ).all()  # fmt: skip
        assert len(entries) == 4
        assert {e.organization_id for e in entries} == {alfa}


def test_a_partners_import_makes_its_members(app, db, world):
    client = sign_in_partner(app, db, world.alfa.organization, "organizer")  # type: ignore[arg-type]
    csv_text = (
        "phone,channel,language,tags,consent_source,consent_date\n"
        "+12135550144,sms,es,,feria 2026,2026-05-01\n"
        f"{PHONES['beta']},sms,es,,feria 2026,2026-05-01\n"
    )
    response = client.post(
        "/dashboard/contacts/import",
        data={"csrf_token": client.csrf_token, "file": (io.BytesIO(csv_text.encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    with db.session() as session:
        members = set(
            session.scalars(
                select(Contact.phone)
                .join(Membership, Membership.contact_id == Contact.id)
                .where(Membership.organization_id == world.alfa.organization)
            )
        )
        assert members == {PHONES["alfa"], "+12135550144", PHONES["beta"]}
        new = session.scalar(select(Contact).where(Contact.phone == "+12135550144"))
        assert new.joined_via_id == world.alfa.organization


# --- the coalition sees everything and picks partners ---------------------------------------


def test_the_coalition_sees_every_partner_and_sends_to_chosen_ones(app, db, world, sign_in):
    client = sign_in("organizer")
    body = client.get("/dashboard/contacts/").get_data(as_text=True)
    assert all(o.marker.lower() in body.lower() for o in (world.alfa, world.beta))
    assert client.get(f"/dashboard/broadcasts/{world.beta.broadcast}").status_code == 200
    with Rendered(app) as seen:
        client.get(f"/dashboard/broadcasts/audience?partners={world.beta.organization}")
        client.get("/dashboard/broadcasts/audience")
        page = client.get("/dashboard/broadcasts/new").get_data(as_text=True)
    assert seen.contexts["dashboard/broadcasts/_audience.html"]["counts"].total == 3
    assert "Beta United" in page and 'name="partners"' in page
    response = client.post(
        "/dashboard/broadcasts/",
        data={
            "csrf_token": client.csrf_token, "name": "Beta only", "text_es": "Hola",
            "partners": str(world.beta.organization),
        },
    )  # fmt: skip
    assert response.status_code == 302
    with db.session() as session:
        made = session.scalar(select(Broadcast).where(Broadcast.name == "Beta only"))
        assert made.organization_id is None
        assert made.filters["partners"] == [world.beta.organization]
        targets = audiences.page(session, Filters.from_dict(made.filters), ("sms",), utcnow())
        assert [contact for contact, _ in targets] == [world.beta.contact]


def test_a_user_with_two_organizations_switches_between_them(app, db, world):
    client = sign_in_partner(app, db, world.alfa.organization, "organizer")  # type: ignore[arg-type]
    email = f"organizer-of-{world.alfa.organization}@puente.example.org"
    with db.session() as session:
        users.set_partner_role(
            users.find_by_email(session, email), world.beta.organization, "viewer"
        )
    client = sign_in_partner_again(app, email)
    page = client.get("/dashboard/contacts/").get_data(as_text=True)
    assert 'id="acting-for"' in page and "Beta United" in page
    assert world.beta.marker.lower() not in page.lower()
    response = client.post(
        "/dashboard/acting-for",
        data={"organization": str(world.beta.organization), "csrf_token": client.csrf_token},
    )
    assert response.status_code == 302
    assert client.get(f"/dashboard/contacts/{world.beta.contact}").status_code == 200
    assert client.get(f"/dashboard/contacts/{world.alfa.contact}").status_code == 404
    # a viewer in Beta: no editing there
    assert client.get("/dashboard/contacts/import").status_code == 403


def sign_in_partner_again(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    token = csrf_from(client.get("/dashboard/login").data)
    client.post(
        "/dashboard/login",
        data={"email": email, "password": DASHBOARD_PASSWORD, "csrf_token": token},
    )
    client.csrf_token = csrf_from(client.get("/dashboard/profile").data)  # type: ignore[attr-defined]
    return client


def test_a_partner_admin_does_not_manage_users_audit_or_queue(app, db, world):
    client = sign_in_partner(app, db, world.alfa.organization, "admin")  # type: ignore[arg-type]
    for url in ("/dashboard/users/", "/dashboard/audit/", "/dashboard/queue/"):
        assert client.get(url).status_code == 403, url
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "/dashboard/users/" not in page


# --- the CLI ------------------------------------------------------------------------------


def test_the_cli_makes_a_partner_organizer_who_sees_only_that_partner(app, db, world):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users", "create", "--email", "ana@alfa.example.org", "--name", "Ana",
            "--partner", "alfa", "--role", "organizer", "--password", DASHBOARD_PASSWORD,
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "created organizer in alfa ana@alfa.example.org" in result.output
    with db.session() as session:
        ana = users.find_by_email(session, "ana@alfa.example.org")
        assert ana.role is None
        assert [(r.organization_id, r.role) for r in ana.partner_roles] == [
            (world.alfa.organization, "organizer")
        ]
    listed = runner.invoke(args=["users", "list"]).output
    assert "ana@alfa.example.org\t-\tes\tactive\talfa:organizer" in listed
    unknown = runner.invoke(
        args=[
            "users", "create", "--email", "x@example.org", "--name", "X",
            "--partner", "nadie", "--password", DASHBOARD_PASSWORD,
        ]
    )  # fmt: skip
    assert unknown.exit_code != 0 and "no partner nadie" in unknown.output
    client = sign_in_partner_again(app, "ana@alfa.example.org")
    for url in ("/dashboard/contacts/", "/dashboard/broadcasts/", "/dashboard/reports/"):
        body = client.get(url).get_data(as_text=True)
        assert not world.beta.leaks(body) and not world.coalition.leaks(body), url
    assert client.get(f"/dashboard/contacts/{world.beta.contact}").status_code == 404
    changed = runner.invoke(
        args=["users", "role", "ana@alfa.example.org", "--partner", "beta", "--role", "viewer"]
    )
    assert changed.exit_code == 0, changed.output
    assert "alfa:organizer,beta:viewer" in runner.invoke(args=["users", "list"]).output


def test_the_cli_s_partner_broadcast_and_import_reach_that_partner_only(app, db, world, tmp_path):
    runner = app.test_cli_runner()
    with app.app_context():  # as `puente …` runs them (FlaskGroup pushes it)
        result = runner.invoke(
            args=["broadcast", "create", "Alfa by CLI", "--text-en", "Hi", "--partner", "alfa"]
        )
    assert result.exit_code == 0, result.output
    assert "BETAZ" not in result.output and PHONES["beta"] not in result.output
    lista = tmp_path / "alfa.csv"
    lista.write_text(
        "phone,channel,language,tags,consent_source,consent_date\n"
        "+12135550155,sms,es,,feria 2026,2026-05-01\n",
        encoding="utf-8",
    )
    with app.app_context():
        imported = runner.invoke(args=["contacts", "import", str(lista), "--partner", "alfa"])
    assert imported.exit_code == 0, imported.output
    with db.session() as session:
        made = session.scalar(select(Broadcast).where(Broadcast.name == "Alfa by CLI"))
        assert made.organization_id == world.alfa.organization
        reached = audiences.page(session, broadcast.filters_of(made), ("sms",), utcnow())
        reached_ids = {contact for contact, _ in reached}
        assert world.alfa.contact in reached_ids and len(reached_ids) == 2  # and the imported
        assert not reached_ids & {world.beta.contact, world.coalition.contact}
        members = set(
            session.scalars(
                select(Membership.contact_id).where(
                    Membership.organization_id == world.beta.organization
                )
            )
        )
        assert members == {world.beta.contact}  # Alfa's list joined nobody to Beta


# --- the users page gives roles in partners -----------------------------------------------


def test_a_coalition_admin_gives_roles_in_partners_on_the_users_page(app, db, world, sign_in):
    client = sign_in("admin")
    token = client.csrf_token
    page = client.get("/dashboard/users/").get_data(as_text=True)
    assert "Alfa United" in page and 'name="partner"' in page
    response = client.post(
        "/dashboard/users/",
        data={
            "csrf_token": token, "email": "rosa@alfa.example.org", "name": "Rosa",
            "password": DASHBOARD_PASSWORD, "role": "viewer", "language": "es",
            "partner": str(world.alfa.organization),
        },
    )  # fmt: skip
    assert response.status_code == 302
    with db.session() as session:
        rosa = users.find_by_email(session, "rosa@alfa.example.org")
        rosa_id = rosa.id
        assert rosa.role is None
        assert [(r.organization_id, r.role) for r in rosa.partner_roles] == [
            (world.alfa.organization, "viewer")
        ]
    client.post(
        f"/dashboard/users/{rosa_id}/partner-role",
        data={"csrf_token": token, "partner": str(world.beta.organization), "role": "organizer"},
    )
    # the last role cannot be taken away: a user needs a role somewhere
    client.post(
        f"/dashboard/users/{rosa_id}/partner-role",
        data={"csrf_token": token, "partner": str(world.alfa.organization), "role": ""},
    )
    with db.session() as session:
        roles = session.execute(
            select(PartnerRole.organization_id, PartnerRole.role).where(
                PartnerRole.user_id == rosa_id
            )
        ).all()
        assert sorted(roles) == sorted(
            [(world.beta.organization, "organizer")]
        )  # Alfa's taken away: she still has Beta's
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith("user."))
        ).all()
        assert {"user.create", "user.partner_role"} <= {e.action for e in entries}
        assert all(e.organization_id is None for e in entries)  # acted for the coalition
    response = client.post(
        f"/dashboard/users/{rosa_id}/partner-role",
        data={"csrf_token": token, "partner": str(world.beta.organization), "role": ""},
    )
    with db.session() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(PartnerRole).where(PartnerRole.user_id == rosa_id)
            )
            == 1
        )  # her only role stays


def test_a_shared_member_shows_no_line_of_the_other_partners_consent(app, db, world):
    shared = create_contact(db, "+12135550166", "es")
    with db.session() as session:
        for partner, words in ((world.alfa, "ALFAZ"), (world.beta, "BETAZ")):
            session.add(
                Membership(
                    contact_id=shared, organization_id=partner.organization,
                    source="keyword", joined_at=utcnow(), extra={},
                )
            )  # fmt: skip
            session.add(
                ConsentEvent(
                    contact_id=shared, kind="opt_in", channel="sms", words=f"{words} shared",
                    source="keyword", organization_id=partner.organization, created_at=utcnow(),
                )
            )  # fmt: skip
    client = sign_in_partner(app, db, world.alfa.organization, "organizer")  # type: ignore[arg-type]
    page = client.get(f"/dashboard/contacts/{shared}").get_data(as_text=True)
    assert "ALFAZ shared" in page and "BETAZ" not in page


def test_the_audit_log_says_for_which_organization_each_entry_was(app, db, world, sign_in):
    partner_user = sign_in_partner(app, db, world.alfa.organization, "organizer")  # type: ignore[arg-type]
    partner_user.post(
        f"/dashboard/contacts/{world.alfa.contact}/tags",
        data={"csrf_token": partner_user.csrf_token, "tag": "voluntaria"},
    )
    page = sign_in("admin").get("/dashboard/audit/?action=contact.").get_data(as_text=True)
    row = next(line for line in page.splitlines() if "contact.tag_add" in line)
    assert "Alfa United" in row


@pytest.mark.parametrize("role", ("admin", "organizer"))
def test_a_whole_number_finds_only_the_partners_own_contacts(app, db, world, role):
    client = sign_in_partner(app, db, world.alfa.organization, role)  # type: ignore[arg-type]
    for other in world.others():
        response = client.post(
            "/dashboard/contacts/find", data={"csrf_token": client.csrf_token, "phone": other.phone}
        )
        assert response.headers["Location"].endswith("/dashboard/contacts/"), other.marker
    mine = client.post(
        "/dashboard/contacts/find", data={"csrf_token": client.csrf_token, "phone": PHONES["alfa"]}
    )
    assert mine.headers["Location"].endswith(f"/dashboard/contacts/{world.alfa.contact}")
